"""Queries for deadlines, partners, the reminder outbox and submissions."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from moderation.deadlines import (
    RESCHEDULED,
    Audience,
    Deadline,
    DueRow,
    OutboxState,
    PlannedReminder,
    Reschedule,
    parse_starts,
)
from storage import outbox
from storage.db import SessionRepository, upsert_insert
from storage.models import (
    DeadlineChange,
    DeadlineRow,
    Membership,
    Partner,
    ReminderOutbox,
    Submission,
    User,
)

log = logging.getLogger(__name__)

CONFIG, OVERRIDE, COMMAND = "config", "override", "command"
PENDING, SENDING, SENT = outbox.PENDING, outbox.SENDING, outbox.SENT
MERGED, SKIPPED, CANCELLED, UNREACHABLE = "merged", "skipped", "cancelled", "unreachable"


def _audience_json(audience: Audience) -> str:
    return json.dumps(
        {
            "everyone": audience.everyone,
            "clusters": list(audience.clusters) if audience.clusters is not None else None,
            "organisations": (
                list(audience.organisations) if audience.organisations is not None else None
            ),
            "all_clusters": audience.all_clusters,
            "all_organisations": audience.all_organisations,
            "users": list(audience.users) if audience.users is not None else None,
        },
        sort_keys=True,
    )


def _audience(text: str) -> Audience:
    data: dict[str, Any] = json.loads(text)
    return Audience(
        everyone=bool(data.get("everyone")),
        clusters=tuple(data["clusters"]) if data.get("clusters") is not None else None,
        organisations=(
            tuple(data["organisations"]) if data.get("organisations") is not None else None
        ),
        all_clusters=bool(data.get("all_clusters")),
        all_organisations=bool(data.get("all_organisations")),
        users=tuple(int(u) for u in data["users"]) if data.get("users") is not None else None,
    )


def to_deadline(row: DeadlineRow) -> Deadline:
    return Deadline(
        id=row.id,
        title=row.title,
        rule=row.rule,
        starts=parse_starts(row.starts),
        timezone=row.timezone,
        remind=tuple(timedelta(seconds=int(s)) for s in row.remind.split(",") if s),
        overdue_after=(
            timedelta(seconds=row.overdue_after_s) if row.overdue_after_s is not None else None
        ),
        description=row.description,
        audience=_audience(row.audience),
        paused=row.paused,
        source=row.source,
        plan_from=row.plan_from,
    )


def _row_values(deadline: Deadline) -> dict[str, Any]:
    return {
        "title": deadline.title,
        "description": deadline.description,
        "rule": deadline.rule,
        "starts": deadline.starts.isoformat(sep=" "),
        "timezone": deadline.timezone,
        "remind": ",".join(str(int(o.total_seconds())) for o in deadline.remind),
        "overdue_after_s": (
            int(deadline.overdue_after.total_seconds())
            if deadline.overdue_after is not None
            else None
        ),
        "audience": _audience_json(deadline.audience),
        "paused": deadline.paused,
    }


def digest(deadline: Deadline) -> str:
    """A fingerprint of a definition (from the file), to notice when the file changes it."""
    text = json.dumps({"id": deadline.id, **_row_values(deadline)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _definition_json(row: DeadlineRow) -> str:
    values = {
        "title": row.title,
        "description": row.description,
        "rule": row.rule,
        "starts": row.starts,
        "timezone": row.timezone,
        "remind": row.remind,
        "overdue_after_s": row.overdue_after_s,
        "audience": row.audience,
        "paused": row.paused,
        "source": row.source,
    }
    return json.dumps(values, sort_keys=True)[:4000]


@dataclass
class BatchReads:
    """What composing a batch of claimed reminders needs, read at once (``batch_reads``)."""

    deadlines: dict[str, Deadline] = field(default_factory=dict)  # not removed
    users: dict[int, User] = field(default_factory=dict)
    partners: dict[int, Partner] = field(default_factory=dict)
    submitted: set[tuple[str, datetime, str]] = field(default_factory=set)  # + unit
    present_in: dict[int, set[int]] = field(default_factory=dict)  # user → chats (if asked)


class DeadlineRepository(outbox.FencedOutbox, SessionRepository):
    outbox_model = ReminderOutbox

    # --- definitions -------------------------------------------------------------------------
    def sync_config(self, definitions: Sequence[Deadline], now: datetime) -> None:
        """Make the configured deadlines rows.

        - A config row mirrors the file; a deadline dropped from the file is paused.
        - An override (a config deadline edited, paused or removed in chat) stays as the chat
          left it while the file's definition is unchanged (same digest), across restarts; once
          someone changes that deadline in the file, the file wins again.
        - A deadline made in chat whose id later appears in the file is taken over by the file.
        """
        configured = {d.id for d in definitions}
        for deadline in definitions:
            values = _row_values(deadline)
            row = self.session.get(DeadlineRow, deadline.id)
            if row is None:
                self.session.add(
                    DeadlineRow(id=deadline.id, source=CONFIG, updated_at=now, **values)
                )
                continue
            if row.source == OVERRIDE and row.config_digest == digest(deadline):
                continue
            if row.source != CONFIG:
                log.warning(
                    "deadline %s: the configuration file now defines it; it replaces the "
                    "version set in chat (%s)",
                    row.id,
                    row.source,
                )
                row.source, row.config_digest, row.removed_at = CONFIG, None, None
                row.updated_at, row.updated_by, row.plan_from = now, None, now
            if any(getattr(row, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
        dropped = select(DeadlineRow).where(DeadlineRow.source.in_((CONFIG, OVERRIDE)))
        for row in self.session.scalars(dropped):
            if row.id not in configured and not row.paused:
                row.paused, row.updated_at = True, now
        self.session.flush()

    def definitions(self, include_paused: bool = False) -> list[Deadline]:
        query = select(DeadlineRow).where(DeadlineRow.removed_at.is_(None)).order_by(DeadlineRow.id)
        if not include_paused:
            query = query.where(DeadlineRow.paused.is_(False))
        return [to_deadline(row) for row in self.session.scalars(query)]

    def last_change(self) -> datetime | None:
        """When any deadline was last added, changed, paused or removed (calendar feeds)."""
        return self.session.scalar(select(func.max(DeadlineRow.updated_at)))

    def deadline(self, deadline_id: str, include_removed: bool = False) -> Deadline | None:
        row = self.session.get(DeadlineRow, deadline_id)
        if row is None or (row.removed_at is not None and not include_removed):
            return None
        return to_deadline(row)

    def id_taken(self, deadline_id: str, configured: Iterable[str]) -> bool:
        """Ids are never reused: not those in the file, nor those of removed deadlines."""
        return (
            deadline_id in set(configured) or self.session.get(DeadlineRow, deadline_id) is not None
        )

    # --- changes from chat ---------------------------------------------------------------------
    def save_from_chat(
        self,
        deadline: Deadline,
        action: str,
        actor_id: int | None,
        now: datetime,
        config: Deadline | None = None,
    ) -> None:
        """Add or change a deadline from chat, with a record of the change.

        ``config``: the file's definition of this id, when there is one: the row then becomes
        an override of exactly that definition. Adding or editing (not pausing or resuming)
        sets ``plan_from``: no reminder is ever planned for an occurrence before the change.
        """
        row = self.session.get(DeadlineRow, deadline.id)
        before = _definition_json(row) if row is not None else None
        values = _row_values(deadline)
        if row is None:
            row = DeadlineRow(id=deadline.id, updated_at=now, **values)
            self.session.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        if config is not None:
            row.source, row.config_digest = OVERRIDE, digest(config)
        elif row.source != OVERRIDE:
            row.source = COMMAND
        row.updated_at, row.updated_by = now, actor_id
        if action in ("add", "edit"):
            row.plan_from = now
        self.session.flush()
        self._record(deadline.id, action, actor_id, now, before, _definition_json(row))

    def remove(
        self, deadline_id: str, actor_id: int | None, now: datetime, config: Deadline | None
    ) -> int:
        """Remove a deadline from chat: pending reminders cancelled, history kept.

        Returns how many pending reminders were cancelled.
        """
        row = self.session.get(DeadlineRow, deadline_id)
        if row is None or row.removed_at is not None:
            return 0
        before = _definition_json(row)
        row.removed_at, row.updated_at, row.updated_by = now, now, actor_id
        if config is not None:
            row.source, row.config_digest = OVERRIDE, digest(config)
        result = self.session.execute(
            update(ReminderOutbox)
            .where(
                ReminderOutbox.deadline_id == deadline_id,
                ReminderOutbox.status.in_((PENDING, SENDING)),
            )
            .values(status=CANCELLED, claimed_until=None, claim_token=None, note="deadline removed")
            .execution_options(synchronize_session=False)
        )
        self._record(deadline_id, "remove", actor_id, now, before, None)
        return int(getattr(result, "rowcount", 0) or 0)

    def _record(
        self,
        deadline_id: str,
        action: str,
        actor_id: int | None,
        now: datetime,
        before: str | None,
        after: str | None,
    ) -> None:
        self.session.add(
            DeadlineChange(
                deadline_id=deadline_id,
                action=action,
                actor_id=actor_id,
                at=now,
                before=before,
                after=after,
            )
        )

    def changes(self, deadline_id: str) -> list[DeadlineChange]:
        query = (
            select(DeadlineChange)
            .where(DeadlineChange.deadline_id == deadline_id)
            .order_by(DeadlineChange.id)
        )
        return list(self.session.scalars(query))

    def future_rows(self, deadline_id: str, now: datetime) -> list[OutboxState]:
        query = select(ReminderOutbox).where(
            ReminderOutbox.deadline_id == deadline_id, ReminderOutbox.occurrence_at > now
        )
        return [
            OutboxState(r.id, r.occurrence_at, r.user_id, r.kind, r.due_at, r.status, r.note)
            for r in self.session.scalars(query)
        ]

    def apply_reschedule(self, decision: Reschedule) -> None:
        for row_id in decision.cancel:
            row = self.session.get(ReminderOutbox, row_id)
            if row is not None and row.status == PENDING:
                row.status, row.note = CANCELLED, RESCHEDULED
        for row_id, due_at in decision.revive:
            row = self.session.get(ReminderOutbox, row_id)
            if row is not None and row.status == CANCELLED and row.note == RESCHEDULED:
                row.status, row.due_at, row.note, row.not_before = PENDING, due_at, None, None
                row.attempts = 0
        for row_id, due_at in decision.move:
            row = self.session.get(ReminderOutbox, row_id)
            if row is not None and row.status == PENDING:
                row.due_at = due_at
        self.session.flush()

    # --- partners ----------------------------------------------------------------------------
    def set_partner(
        self,
        user_id: int,
        cluster: str | None,
        organisation: str | None,
        now: datetime,
        assigned_by: int | None = None,
    ) -> Partner:
        partner = self.session.get(Partner, user_id)
        if partner is None:
            partner = Partner(user_id=user_id, created_at=now, updated_at=now)
            self.session.add(partner)
        partner.cluster, partner.organisation = cluster, organisation
        partner.assigned_by, partner.updated_at = assigned_by, now
        self.session.flush()
        return partner

    def partner(self, user_id: int) -> Partner | None:
        return self.session.get(Partner, user_id)

    def remove_partner(self, user_id: int) -> bool:
        partner = self.session.get(Partner, user_id)
        if partner is None:
            return False
        self.session.delete(partner)
        return True

    def partners(self) -> list[tuple[Partner, User | None]]:
        query = (
            select(Partner, User)
            .join(User, User.id == Partner.user_id, isouter=True)
            .order_by(Partner.user_id)
        )
        return [(row[0], row[1]) for row in self.session.execute(query).all()]

    def user(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def recipients(self, deadline: Deadline) -> list[Partner]:
        return [
            p for p, _ in self.partners() if deadline.audience.includes(p.cluster, p.organisation)
        ]

    # --- the outbox --------------------------------------------------------------------------
    def enqueue(
        self,
        deadline_id: str,
        occurrence_at: datetime,
        user_ids: Iterable[int],
        planned: Iterable[PlannedReminder],
    ) -> int:
        """Insert outbox rows that do not exist yet (idempotent; safe with several processes)."""
        rows = [
            {
                "deadline_id": deadline_id,
                "occurrence_at": occurrence_at,
                "user_id": user_id,
                "kind": p.kind,
                "due_at": p.due_at,
                "status": PENDING,
                "attempts": 0,
            }
            for user_id in user_ids
            for p in planned
        ]
        if not rows:
            return 0
        dialect = self.session.get_bind().dialect.name
        insert = upsert_insert(dialect)
        statement = insert(ReminderOutbox).values(rows).on_conflict_do_nothing()
        result = self.session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)

    def claim(
        self, now: datetime, limit: int, lease: timedelta, token: str, stall_limit: timedelta
    ) -> list[DueRow]:
        """Claim due rows for ``token``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

        A claimed row is leased: if the process dies (or stalls) before beginning its send,
        another run takes it once the lease expires (see ``storage.outbox``).
        """
        pending_due = and_(
            ReminderOutbox.due_at <= now,
            or_(ReminderOutbox.not_before.is_(None), ReminderOutbox.not_before <= now),
        )
        due = and_(
            outbox.claimable(ReminderOutbox, now, stall_limit),
            or_(ReminderOutbox.status != PENDING, pending_due),
        )
        # A paused deadline's rows wait (on resume the catch-up rule decides what is still
        # worth sending); a removed deadline's rows were cancelled with it.
        held = select(DeadlineRow.id).where(
            or_(DeadlineRow.paused.is_(True), DeadlineRow.removed_at.is_not(None))
        )
        o = ReminderOutbox
        query = (
            select(o.id, o.deadline_id, o.occurrence_at, o.user_id, o.kind, o.due_at)
            .where(due, o.deadline_id.not_in(held))
            .order_by(o.due_at, o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self.session.execute(query).all()
        taken = outbox.take_many(
            self.session, ReminderOutbox, [r.id for r in rows], token, now, lease, stall_limit, due
        )
        return [
            DueRow(row.id, row.deadline_id, row.occurrence_at, row.user_id, row.kind, row.due_at)
            for row in rows
            if row.id in taken
        ]

    def batch_reads(self, rows: Sequence[DueRow], chats: Sequence[int] = ()) -> BatchReads:
        """Deadlines, recipients (language, reachability), partners, submissions and, for
        ``chats``, where each recipient is present: a constant number of queries per batch."""
        reads = BatchReads()
        if not rows:
            return reads
        user_ids = sorted({r.user_id for r in rows})
        deadline_ids = sorted({r.deadline_id for r in rows})
        for row in self.session.scalars(
            select(DeadlineRow).where(DeadlineRow.id.in_(deadline_ids))
        ):
            if row.removed_at is None:
                reads.deadlines[row.id] = to_deadline(row)
        reads.users = {
            u.id: u for u in self.session.scalars(select(User).where(User.id.in_(user_ids)))
        }
        partners = select(Partner).where(Partner.user_id.in_(user_ids))
        reads.partners = {p.user_id: p for p in self.session.scalars(partners)}
        occurrences = {(r.deadline_id, r.occurrence_at) for r in rows}
        submitted = select(Submission.deadline_id, Submission.occurrence_at, Submission.unit).where(
            or_(
                *(
                    and_(Submission.deadline_id == d, Submission.occurrence_at == at)
                    for d, at in sorted(occurrences)
                )
            )
        )
        reads.submitted = {(d, at, unit) for d, at, unit in self.session.execute(submitted)}
        if chats:
            memberships = select(Membership).where(
                Membership.user_id.in_(user_ids), Membership.chat_id.in_(list(chats))
            )
            for membership in self.session.scalars(memberships):
                if membership.present:
                    reads.present_in.setdefault(membership.user_id, set()).add(membership.chat_id)
        return reads

    def next_pending_at(self, now: datetime) -> datetime | None:
        """The first moment after ``now`` at which a pending row becomes due."""
        pending = ReminderOutbox.status == PENDING
        later_due = self.session.scalar(
            select(func.min(ReminderOutbox.due_at)).where(pending, ReminderOutbox.due_at > now)
        )
        later_retry = self.session.scalar(
            select(func.min(ReminderOutbox.not_before)).where(
                pending, ReminderOutbox.not_before > now
            )
        )
        return min((t for t in (later_due, later_retry) if t is not None), default=None)

    def release(self, row_id: int, token: str, not_before: datetime, note: str) -> bool:
        """Put a claimed row back: it is tried again later, never dropped (if still ours)."""
        return self._release(row_id, token, note, not_before=not_before)

    def outbox_row(self, row_id: int) -> ReminderOutbox | None:
        return self.session.get(ReminderOutbox, row_id)

    def reminders_of(self, user_id: int, deadline_id: str, since: datetime) -> list[ReminderOutbox]:
        """One person's reminder rows for a deadline's occurrences from ``since`` on."""
        query = select(ReminderOutbox).where(
            ReminderOutbox.user_id == user_id,
            ReminderOutbox.deadline_id == deadline_id,
            ReminderOutbox.occurrence_at >= since,
        )
        return list(self.session.scalars(query))

    def outbox(self, deadline_id: str | None = None) -> list[ReminderOutbox]:
        query = select(ReminderOutbox).order_by(ReminderOutbox.due_at, ReminderOutbox.id)
        if deadline_id is not None:
            query = query.where(ReminderOutbox.deadline_id == deadline_id)
        return list(self.session.scalars(query))

    # --- submissions -------------------------------------------------------------------------
    def submit(
        self,
        deadline_id: str,
        occurrence_at: datetime,
        unit: str,
        status: str,
        user_id: int,
        now: datetime,
    ) -> Submission | None:
        """Record a submission; None when the unit had already answered for this occurrence."""
        existing = self.submission(deadline_id, occurrence_at, unit)
        if existing is not None:
            return None
        submission = Submission(
            deadline_id=deadline_id,
            occurrence_at=occurrence_at,
            unit=unit,
            status=status,
            user_id=user_id,
            at=now,
        )
        self.session.add(submission)
        self.session.flush()
        return submission

    def submission(self, deadline_id: str, occurrence_at: datetime, unit: str) -> Submission | None:
        return self.session.scalars(
            select(Submission).where(
                Submission.deadline_id == deadline_id,
                Submission.occurrence_at == occurrence_at,
                Submission.unit == unit,
            )
        ).first()

    def submissions(self, deadline_id: str, occurrence_at: datetime) -> dict[str, Submission]:
        query = select(Submission).where(
            Submission.deadline_id == deadline_id, Submission.occurrence_at == occurrence_at
        )
        return {s.unit: s for s in self.session.scalars(query)}
