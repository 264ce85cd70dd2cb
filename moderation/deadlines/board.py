"""The deadline board (the Mini App's screen): which occurrences it shows, each one's status for
the reader, and which answers the reader may give — the reminder buttons' rules, as data.

Pure: the caller reads the submissions and the reader's reminders, this decides."""

from __future__ import annotations

from datetime import datetime, timedelta

from moderation.deadlines.definitions import Deadline
from moderation.deadlines.occurrences import current_occurrence, occurrences

WINDOW = timedelta(days=60)  # how far ahead the board looks
MOST = 4  # occurrences shown per deadline, the current one included

SUBMITTED, NOT_APPLICABLE, SNOOZED, PENDING, LATER = (
    "submitted",
    "not_applicable",
    "snoozed",
    "pending",
    "later",
)
SNOOZE = "snooze"


def shown_occurrences(deadline: Deadline, now: datetime) -> list[datetime]:
    """The current occurrence (the one an answer made now counts for, maybe just past), then
    the next ones within ``WINDOW``; at most ``MOST``."""
    current = current_occurrence(deadline, now)
    upcoming = occurrences(deadline, now, now + WINDOW)
    found = sorted({*([current] if current is not None else []), *upcoming})
    return [t for t in found if current is None or t >= current][:MOST]


def status(answered: str | None, is_current: bool, snoozed: bool) -> str:
    """The reader's status for one occurrence: its answer when there is one (``submitted`` or
    ``not_applicable``), else ``snoozed`` / ``pending`` for the current one, ``later`` after."""
    if answered is not None:
        return answered
    if not is_current:
        return LATER
    return SNOOZED if snoozed else PENDING


def actions(
    concerns: bool, is_current: bool, answered: bool, reminded: bool, snoozed: bool
) -> list[str]:
    """The answers the reader may give, as the reminder's buttons allow: only for a deadline that
    concerns them, only for the current occurrence, only while unanswered; snooze only once a
    reminder reached them (it delays a reminder) and while no snooze is waiting."""
    if not concerns or not is_current or answered:
        return []
    found = [SUBMITTED]
    if reminded and not snoozed:
        found.append(SNOOZE)
    found.append(NOT_APPLICABLE)
    return found
