"""Where each member stands in the membership lifecycle."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class MemberLifecycle(Base):
    """Where one member stands in the membership lifecycle (departure, expiry, check-ins).

    The sweep reads these rows (not timers) and records each step it takes here, so a step is
    taken once, also after a restart. A row belongs to one admission (``joined_at``): someone
    who leaves and comes back starts afresh.
    """

    __tablename__ = "member_lifecycle"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("groups.chat_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    departure_date: Mapped[date | None] = mapped_column(Date)
    departure_set_by: Mapped[int | None] = mapped_column(BigInteger)
    departure_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    departure_answer: Mapped[str | None] = mapped_column(String(16))
    pending_sponsor_id: Mapped[int | None] = mapped_column(BigInteger)
    pending_end_date: Mapped[date | None] = mapped_column(Date)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sponsor_lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expiry_notice_for: Mapped[date | None] = mapped_column(Date)
    checkin_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removal_cause: Mapped[str | None] = mapped_column(String(64))
    removal_outcome: Mapped[str | None] = mapped_column(String(16))
    removal_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
