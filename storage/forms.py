"""Queries of the ``forms`` table: one open guided form per person and chat (handlers/forms.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from storage.db import SessionRepository
from storage.models import FormRow


class FormRepository(SessionRepository):
    def kind_of(self, user_id: int, chat_id: int) -> str | None:
        """Cheap check for the router: the kind of form this person has here (open or
        expired), None without one."""
        return self.session.scalar(
            select(FormRow.kind).where(FormRow.user_id == user_id, FormRow.chat_id == chat_id)
        )

    def locked(self, user_id: int, chat_id: int) -> FormRow | None:
        """The person's form, locked until the unit of work ends (PostgreSQL: FOR UPDATE), so
        two replicas handling two quick answers take turns instead of both writing."""
        return self.session.scalar(
            select(FormRow)
            .where(FormRow.user_id == user_id, FormRow.chat_id == chat_id)
            .with_for_update()
        )

    def replace(
        self,
        user_id: int,
        chat_id: int,
        kind: str,
        step: str,
        data: str,
        serial: int,
        now: datetime,
        expires_at: datetime,
    ) -> FormRow:
        """Start a form: whatever form the person had open in this chat is dropped."""
        row = self.locked(user_id, chat_id)
        if row is None:
            row = FormRow(user_id=user_id, chat_id=chat_id)
            self.session.add(row)
        row.kind, row.step, row.data = kind, step, data
        row.serial = row.entered = serial
        row.updated_at, row.expires_at = now, expires_at
        self.session.flush()
        return row

    def next_serial(self, user_id: int, chat_id: int) -> int:
        """The serial a new form's first buttons carry: above any the person was ever sent
        here, so a button of a form they had before can never pass as one of the new form's."""
        row = self.locked(user_id, chat_id)
        return (row.serial if row is not None else 0) + 1

    def drop(self, user_id: int, chat_id: int) -> bool:
        result = self.session.execute(
            delete(FormRow).where(FormRow.user_id == user_id, FormRow.chat_id == chat_id)
        )
        return bool(getattr(result, "rowcount", 0))

    def purge_expired(self, before: datetime) -> int:
        """Forms nobody came back to: removed some time after they expired."""
        result = self.session.execute(delete(FormRow).where(FormRow.expires_at < before))
        return int(getattr(result, "rowcount", 0) or 0)
