"""Fenced claims, shared by every outbox table (reminders, mention batches).

A claim writes the claimant's token (``replica:claim number``) on the row. Every later change
of that claim — beginning the send, marking the outcome, putting the row back — is an UPDATE
conditioned on that token, so a process that lost its claim (its lease ran out and another
process took the row) changes nothing: it learns it from the row count and stops.

A row whose send has begun (``wire_at`` set) is not taken over when its lease ends, only after
the stall limit: until then its claimant may still be alive (stalled, stopped, waiting for the
database) and about to mark it. Taken over after that, it may reach its recipient twice (the
claimant died with the message on the wire), and says so (``maybe_twice``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from storage.models import MentionOutbox, ReminderOutbox

PENDING, SENDING, SENT = "pending", "sending", "sent"
OutboxModel = type[ReminderOutbox] | type[MentionOutbox]


def claimable(model: OutboxModel, now: datetime, stall_limit: timedelta) -> ColumnElement[bool]:
    """Rows another process may take: pending ones, claims whose lease ran out before their
    send began, and sends begun longer than the stall limit ago (their process is gone)."""
    return or_(
        model.status == PENDING,
        and_(model.status == SENDING, model.wire_at.is_(None), model.claimed_until < now),
        and_(model.status == SENDING, model.wire_at < now - stall_limit),
    )


def _claim_condition(
    model: OutboxModel,
    rows: ColumnElement[bool],
    now: datetime,
    stall_limit: timedelta,
    extra: ColumnElement[bool] | None,
) -> ColumnElement[bool]:
    condition = and_(rows, claimable(model, now, stall_limit))
    return condition if extra is None else and_(condition, extra)


def _claim_values(
    model: OutboxModel, token: str, now: datetime, lease: timedelta
) -> dict[str, object]:
    """What a claim writes on its rows: ours (the token) until the lease runs out, unbegun."""
    return {
        "status": SENDING,
        "claimed_until": now + lease,
        "claim_token": token,
        "wire_at": None,
        "attempts": model.attempts + 1,
    }


def take(
    session: Session,
    model: OutboxModel,
    row: Any,
    token: str,
    now: datetime,
    lease: timedelta,
    stall_limit: timedelta,
    extra: ColumnElement[bool] | None = None,
) -> bool:
    """The claim itself: a conditional UPDATE (row locks alone do not exist on SQLite)."""
    condition = _claim_condition(model, model.id == row.id, now, stall_limit, extra)
    resent = row.status == SENDING and row.wire_at is not None
    values = _claim_values(model, token, now, lease)
    if resent:  # its claimant died mid-send: this copy may be the second one
        values["maybe_twice"] = True
    result = session.execute(
        update(model).where(condition).values(values).execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def take_many(
    session: Session,
    model: OutboxModel,
    row_ids: list[int],
    token: str,
    now: datetime,
    lease: timedelta,
    stall_limit: timedelta,
    extra: ColumnElement[bool] | None = None,
) -> set[int]:
    """``take`` for many rows in one statement (``UPDATE … RETURNING``): the ids claimed."""
    if not row_ids:
        return set()
    condition = _claim_condition(model, model.id.in_(row_ids), now, stall_limit, extra)
    # Its claimant died mid-send: this copy may be the second one (SET reads the old values).
    resent = and_(model.status == SENDING, model.wire_at.is_not(None))
    values = _claim_values(model, token, now, lease)
    values["maybe_twice"] = case((resent, True), else_=model.maybe_twice)
    statement = (
        update(model)
        .where(condition)
        .values(values)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(statement).all())


_fenced_statements: dict[tuple[str, bool, tuple[str, ...]], Update] = {}


def _fenced(model: OutboxModel, keys: tuple[str, ...], unbegun: bool = False) -> Update:
    """``UPDATE … WHERE id = :row AND status = 'sending' AND claim_token = :token`` setting
    ``keys`` (each bound as ``v_<key>``), built once per shape: a reminder's begin and mark
    are the per-message statements of a fan-out, and building the expression cost more than
    running it."""
    shape = (model.__name__, unbegun, keys)
    statement = _fenced_statements.get(shape)
    if statement is None:
        where = [
            model.id == bindparam("b_row"),
            model.status == SENDING,
            model.claim_token == bindparam("b_token"),
        ]
        if unbegun:
            where.append(model.wire_at.is_(None))
        statement = (
            update(model)
            .where(*where)
            .values({key: bindparam(f"v_{key}") for key in keys})
            .execution_options(synchronize_session=False)
        )
        _fenced_statements[shape] = statement
    return statement


def maybe_twice(session: Session) -> int:
    """Messages sent again after their first claimant died mid-send: possibly received twice."""
    total = 0
    for model in (ReminderOutbox, MentionOutbox):
        query = select(func.count()).select_from(model).where(model.maybe_twice.is_(True))
        total += int(session.scalar(query) or 0)
    return total


class FencedOutbox:
    """The fenced steps of a repository over one outbox table (``outbox_model``): each
    changes the row only while the caller's claim (its token) still holds."""

    session: Session
    outbox_model: OutboxModel

    def _run_fenced(
        self, row_id: int, token: str, values: dict[str, object], unbegun: bool = False
    ) -> bool:
        keys = tuple(sorted(values))
        params = {"b_row": row_id, "b_token": token, **{f"v_{k}": values[k] for k in keys}}
        result = self.session.execute(_fenced(self.outbox_model, keys, unbegun), params)
        return getattr(result, "rowcount", 0) == 1

    def begin(self, row_id: int, token: str, now: datetime) -> bool:
        """Right before the send: True while this claim still holds (the send may start);
        False when another process took the row (send nothing)."""
        return self._run_fenced(row_id, token, {"wire_at": now}, unbegun=True)

    def finish(
        self,
        row_id: int,
        token: str,
        status: str,
        now: datetime,
        message_id: int | None = None,
        note: str | None = None,
    ) -> bool:
        """Record a claimed row's outcome; False (nothing changed) when the claim was lost."""
        values: dict[str, object] = {"status": status, "claimed_until": None}
        if status == SENT:
            values.update(sent_at=now, message_id=message_id)
        if note is not None:
            values["note"] = note[:255]
        return self._run_fenced(row_id, token, values)

    def _release(self, row_id: int, token: str, note: str, **values: object) -> bool:
        """Put a claimed row back, pending again with ``note`` and ``values``, only if this
        claim still holds."""
        back: dict[str, object] = {
            "status": PENDING,
            "claimed_until": None,
            "claim_token": None,
            "wire_at": None,
            **values,
            "note": note[:255],
        }
        return self._run_fenced(row_id, token, back)
