"""The figures ``/metrics`` reads from the database when scraped (counts only, no people)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.contact_index import index_for
from storage.models import MentionOutbox, ReminderOutbox, ReplicaRow, SweepRunRow
from storage.outbox import PENDING, SENDING, OutboxModel

ALIVE = timedelta(minutes=2)  # a replica seen this recently is running (as in `imbot status`)


@dataclass(frozen=True)
class OutboxDepth:
    due: int  # pending and due now
    later: int  # pending, due in the future
    sending: int  # claimed by a process right now
    oldest_due_at: datetime | None  # the earliest due time of what is due and not yet sent


@dataclass(frozen=True)
class SweepRun:
    started_at: datetime
    ok: bool | None


def outbox_depth(session: Session, model: OutboxModel, now: datetime) -> OutboxDepth:
    def count(*where: object) -> int:
        query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int(session.scalar(query) or 0)

    pending = model.status == PENDING
    waiting = (model.status.in_((PENDING, SENDING)), model.due_at <= now)
    return OutboxDepth(
        due=count(pending, model.due_at <= now),
        later=count(pending, model.due_at > now),
        sending=count(model.status == SENDING),
        oldest_due_at=session.scalar(select(func.min(model.due_at)).where(*waiting)),
    )


def outboxes(session: Session, now: datetime) -> dict[str, OutboxDepth]:
    return {
        "reminders": outbox_depth(session, ReminderOutbox, now),
        "mentions": outbox_depth(session, MentionOutbox, now),
    }


def sweep_runs(session: Session) -> dict[str, SweepRun]:
    return {
        row.name: SweepRun(row.started_at, row.ok) for row in session.scalars(select(SweepRunRow))
    }


def replicas_running(session: Session, now: datetime) -> dict[str, int]:
    """Running replicas (heartbeat within ``ALIVE``, not stopped) by role."""
    query = (
        select(ReplicaRow.role, func.count())
        .where(ReplicaRow.stopped_at.is_(None), ReplicaRow.last_seen_at >= now - ALIVE)
        .group_by(ReplicaRow.role)
    )
    return {str(role): int(n) for role, n in session.execute(query)}


def contacts_indexed(session: Session) -> int:
    """How many contacts this process's search index holds (as last refreshed)."""
    return index_for(session).present.bit_count()
