"""The tables. Every table that holds group data is keyed by the group's chat id."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from moderation.roster import JoinMethod, MemberStatus
from storage.types import UTCDateTime

# Stable constraint names so Alembic migrations match on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native enum type) so adding a value needs no DB migration.
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class Group(Base):
    __tablename__ = "groups"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(255))
    bot_status: Mapped[str] = mapped_column(String(24), default="unknown")
    bot_is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    bot_rights: Mapped[str] = mapped_column(String(255), default="")
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    language_code: Mapped[str | None] = mapped_column(String(16))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    # A bot may write privately only to people who started it (and did not block it since).
    started_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @property
    def reachable(self) -> bool:
        return self.started_bot and not self.blocked_bot


class Membership(Base):
    """The bot's own roster: Telegram does not let a bot list a group's members."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("groups.chat_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[MemberStatus] = mapped_column(_enum(MemberStatus))
    join_method: Mapped[JoinMethod] = mapped_column(_enum(JoinMethod))
    invite_link_name: Mapped[str | None] = mapped_column(String(64))
    added_by_id: Mapped[int | None] = mapped_column(BigInteger)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def present(self) -> bool:
        return self.status.present


class MembershipEvent(Base):
    """Every change of a membership, with who or what caused it."""

    __tablename__ = "membership_events"
    __table_args__ = (Index("ix_membership_events_chat_user", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_status: Mapped[str | None] = mapped_column(String(24))
    new_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    cause: Mapped[str] = mapped_column(String(255))


# --------------------------------------------------------------------------- deadlines
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
    source: Mapped[str] = mapped_column(String(16), default="config")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
