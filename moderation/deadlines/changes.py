"""Schedule changes: what an edit means for the reminders already planned, and retry delays."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from moderation.deadlines.common import DIGEST, SNOOZE_PREFIX
from moderation.deadlines.definitions import Deadline
from moderation.deadlines.occurrences import occurrences
from moderation.deadlines.reminders import plan

RESCHEDULED = "cancelled by a schedule change"
PENDING_STATUS, CANCELLED_STATUS = "pending", "cancelled"


def is_occurrence(deadline: Deadline, instant: datetime) -> bool:
    return instant in occurrences(deadline, instant, instant + timedelta(seconds=1))


@dataclass(frozen=True)
class OutboxState:
    """An outbox row as a schedule change sees it."""

    id: int
    occurrence_at: datetime
    user_id: int
    kind: str
    due_at: datetime
    status: str
    note: str | None = None


@dataclass(frozen=True)
class Reschedule:
    cancel: list[int]  # pending rows the new definition no longer has
    revive: list[tuple[int, datetime]]  # rows an earlier change cancelled that are wanted again
    move: list[tuple[int, datetime]]  # pending rows whose time changed (overdue_after edited)


def reschedule(
    deadline: Deadline,
    rows: Iterable[OutboxState],
    recipients: Iterable[int],
    moderators: Iterable[int],
    now: datetime,
) -> Reschedule:
    """What a changed definition means for the outbox rows already planned.

    Only future occurrences (``occurrence_at > now``) are looked at: the past stays as it
    happened. A pending row the new definition still wants is kept (at its new time if that
    moved); one it no longer wants (another occurrence time, an offset dropped, a recipient no
    longer in the audience) is cancelled with the note ``RESCHEDULED``, and such a row comes
    back if a later change wants it again, so the unique (occurrence, recipient, kind) row is
    never lost. Rows already sent, or cancelled for another reason (submitted), stay as they are.
    New rows are planned afterwards by the dispatcher's usual planning.
    """
    people, mods = set(recipients), set(moderators)
    cancel: list[int] = []
    revive: list[tuple[int, datetime]] = []
    move: list[tuple[int, datetime]] = []
    plans: dict[datetime, dict[str, datetime] | None] = {}
    for row in rows:
        if row.occurrence_at <= now:
            continue
        if row.occurrence_at not in plans:
            plans[row.occurrence_at] = (
                {p.kind: p.due_at for p in plan(deadline, row.occurrence_at, digest=True)}
                if is_occurrence(deadline, row.occurrence_at)
                else None
            )
        kinds = plans[row.occurrence_at]
        wanted: datetime | None = None
        allowed = row.user_id in (mods if row.kind == DIGEST else people)
        if kinds is not None and allowed:
            wanted = row.due_at if row.kind.startswith(SNOOZE_PREFIX) else kinds.get(row.kind)
        if row.status == PENDING_STATUS:
            if wanted is None:
                cancel.append(row.id)
            elif wanted != row.due_at:
                move.append((row.id, wanted))
        elif row.status == CANCELLED_STATUS and row.note == RESCHEDULED and wanted is not None:
            revive.append((row.id, wanted))
    return Reschedule(cancel, revive, move)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before trying a delivery again (never giving up)."""
    if retry_after is not None:
        return timedelta(seconds=max(1.0, retry_after))
    return timedelta(seconds=min(900, 15 * 2 ** min(attempts, 6)))
