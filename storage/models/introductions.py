"""Invitations, admissions (introductions) and join requests."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from moderation.introductions import Category, IntroStatus
from storage.models.base import Base, enum_column
from storage.types import UTCDateTime


class Invitation(Base):
    """A sponsor's personal single-use invite link, with the newcomer's introduction pre-filled."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("groups.chat_id", ondelete="CASCADE"))
    sponsor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    link_url: Mapped[str | None] = mapped_column(String(255), unique=True)
    link_name: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str] = mapped_column(String(64))
    last_name: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(100))
    cluster: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[Category] = mapped_column(enum_column(Category))
    end_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, used, expired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(BigInteger)


class Introduction(Base):
    """A member's admission: who sponsored them and how they were introduced.

    One row per (group, person); a newcomer who leaves and comes back starts a new admission.
    Every present member has one, with a sponsor or a recorded reason (``sponsor_note``).
    """

    __tablename__ = "introductions"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("groups.chat_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[IntroStatus] = mapped_column(enum_column(IntroStatus))
    sponsor_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    sponsor_note: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str | None] = mapped_column(String(64))
    last_name: Mapped[str | None] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(100))
    cluster: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[Category | None] = mapped_column(enum_column(Category))
    end_date: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(200))
    sponsor_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    card_message_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def full_name(self) -> str | None:
        if self.first_name and self.last_name:
            return f"{self.first_name} {self.last_name}"
        return None

    @property
    def complete(self) -> bool:
        return self.sponsor_done_at is not None and self.confirmed_at is not None


class JoinRequest(Base):
    """Someone asked to join through a join-request link; a member must vouch for them."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("groups.chat_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # open → sponsored (waiting for the introduction) → approved | declined | expired
    sponsor_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger)
    notice_message_id: Mapped[int | None] = mapped_column(Integer)
    # The sponsor's introduction, kept until the person joins.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
