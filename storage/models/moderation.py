"""The audit log, warnings, mutes and recent group messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class ModerationAction(Base):
    """The audit log: every moderation action, by a moderator or automatic (actor_id null)."""

    __tablename__ = "moderation_actions"
    __table_args__ = (
        Index("ix_moderation_actions_chat_target", "chat_id", "target_id"),
        Index("ix_moderation_actions_chat_at", "chat_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # None: the bot on its own
    target_id: Mapped[int | None] = mapped_column(BigInteger)  # None: e.g. purging the bot's
    kind: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(1000), default="")
    detail: Mapped[str] = mapped_column(String(255), default="")
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberWarning(Base):
    """A moderator's warning; counts towards escalation while inside the warning window."""

    __tablename__ = "warnings"
    __table_args__ = (Index("ix_warnings_chat_user", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    by_id: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(1000))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(BigInteger)


class Mute(Base):
    """A temporary mute (manual, escalation or flood); Telegram lifts it at ``until``."""

    __tablename__ = "mutes"
    __table_args__ = (Index("ix_mutes_chat_user", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    cause: Mapped[str] = mapped_column(String(24))  # manual, escalation, flood
    reason: Mapped[str] = mapped_column(String(1000), default="")
    by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecentMessage(Base):
    """Messages seen or sent in a group during the last 48 h: for /purge and flood limits."""

    __tablename__ = "recent_messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id"),
        Index("ix_recent_messages_chat_user_at", "chat_id", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    media_group: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LogEntry(Base):
    """An action's entry in the moderators' log chat, with its undo button; ``undone_at`` is
    set once (a conditional update), so a press twice or replayed undoes nothing more."""

    __tablename__ = "log_entries"
    __table_args__ = (
        Index("ix_log_entries_action", "action_id"),
        {"sqlite_autoincrement": True},  # the number travels in a button: never reused
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the log chat
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # None until it is posted
    undo: Mapped[str] = mapped_column(String(16))  # unmute, unban, unwarn, readmit
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(BigInteger)
