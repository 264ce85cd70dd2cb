"""Deadlines, partners, the reminder outbox, submissions and the record of changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class DeadlineRow(Base):
    """A recurring deadline (from the configuration or a moderator's command)."""

    __tablename__ = "deadlines"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(1000), default="")
    rule: Mapped[str] = mapped_column(String(300))
    starts: Mapped[str] = mapped_column(String(32))  # local wall-clock time, ISO format
    timezone: Mapped[str] = mapped_column(String(64))
    remind: Mapped[str] = mapped_column(String(200), default="")  # seconds, comma-separated
    overdue_after_s: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(2000))  # JSON
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # config | override (a config deadline changed in chat) | command (made in chat)
    source: Mapped[str] = mapped_column(String(16), default="config")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[int | None] = mapped_column(BigInteger)
    # For an override: the digest of the config definition it replaced; the config wins again
    # when its definition changes.
    config_digest: Mapped[str | None] = mapped_column(String(64))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # kept for history
    # Occurrences at or before this instant are never planned (set when added or edited in
    # chat, so a change never creates reminders for the past).
    plan_from: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Partner(Base):
    """Someone who answers for a cluster and/or organisation when deadlines come."""

    __tablename__ = "partners"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    cluster: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[str | None] = mapped_column(String(100))
    assigned_by: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReminderOutbox(Base):
    """One row per (deadline occurrence, recipient, reminder kind): the exactly-once outbox."""

    __tablename__ = "reminder_outbox"
    __table_args__ = (
        UniqueConstraint("deadline_id", "occurrence_at", "user_id", "kind"),
        Index("ix_reminder_outbox_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[str] = mapped_column(String(32))
    occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → sending (claimed) → sent | merged | skipped | cancelled | unreachable
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(255))
    # Fencing (delivery/): who holds the claim, and when its send began (a row on the wire is
    # never taken over before ``delivery.STALL_LIMIT``; if it then is, it may arrive twice).
    claim_token: Mapped[str | None] = mapped_column(String(64))
    wire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    maybe_twice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Submission(Base):
    """A unit (cluster, organisation or person) has submitted, or is exempt, for an occurrence."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("deadline_id", "occurrence_at", "unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[str] = mapped_column(String(32))
    occurrence_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unit: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16))  # submitted | not_applicable
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeadlineChange(Base):
    """What a moderator did to a deadline from chat: the record of who changed what, when."""

    __tablename__ = "deadline_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(16))  # add | edit | pause | resume | remove
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    before: Mapped[str | None] = mapped_column(String(4000))  # JSON of the definition
    after: Mapped[str | None] = mapped_column(String(4000))
