"""Queries for the moderators' log chat: an entry per mirrored action, undone at most once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import CursorResult

from storage.db import SessionRepository
from storage.models import LogEntry, ModerationAction


class LogEntryRepository(SessionRepository):
    def add(self, action_id: int, chat_id: int, undo: str) -> LogEntry:
        entry = LogEntry(action_id=action_id, chat_id=chat_id, undo=undo)
        self.session.add(entry)
        self.session.flush()
        return entry

    def posted(self, entry_id: int, message_id: int) -> None:
        self.session.execute(
            update(LogEntry).where(LogEntry.id == entry_id).values(message_id=message_id)
        )

    def entry(self, entry_id: int) -> tuple[LogEntry, ModerationAction] | None:
        entry = self.session.get(LogEntry, entry_id)
        if entry is None:
            return None
        action = self.session.get(ModerationAction, entry.action_id)
        return None if action is None else (entry, action)

    def claim(self, entry_id: int, by_id: int, now: datetime) -> bool:
        """Mark the entry undone by ``by_id``; False when it already was (another press won)."""
        result = self.session.execute(
            update(LogEntry)
            .where(LogEntry.id == entry_id, LogEntry.undone_at.is_(None))
            .values(undone_at=now, undone_by_id=by_id)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def release(self, entry_id: int, by_id: int, at: datetime) -> None:
        """Give a claim back when the undo could not be carried out."""
        self.session.execute(
            update(LogEntry)
            .where(
                LogEntry.id == entry_id, LogEntry.undone_by_id == by_id, LogEntry.undone_at == at
            )
            .values(undone_at=None, undone_by_id=None)
        )
