"""Fenced delivery: one outbox engine (claim, triage, bounded flight, mark) for reminders and
mention batches, and one mapping from Telegram's errors to outcomes. Ground floor: handlers
import it; it imports no handler."""
