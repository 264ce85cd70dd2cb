"""Groups, users and the bot's own roster of memberships."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moderation.roster import JoinMethod, MemberStatus
from storage.models.base import Base, enum_column
from storage.types import UTCDateTime


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
    # Chosen with /language; None means "follow Telegram's language_code".
    language: Mapped[str | None] = mapped_column(String(8))

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
    status: Mapped[MemberStatus] = mapped_column(enum_column(MemberStatus))
    join_method: Mapped[JoinMethod] = mapped_column(enum_column(JoinMethod))
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
