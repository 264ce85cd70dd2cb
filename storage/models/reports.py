"""/report: a reported message, who reported it, what the moderators decided, where it is shown."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime

NEVER_REUSED = {"sqlite_autoincrement": True}  # the number travels in buttons


class Report(Base):
    """One per reported message. ``status``: open, acted (deleted, warned or muted), dismissed;
    changed only by conditional updates, so a decision is taken once."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger)  # a person or a channel
    excerpt: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # deleted pending review
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportVote(Base):
    """A member's report of a message: one per reporter and message."""

    __tablename__ = "report_votes"
    __table_args__ = (
        UniqueConstraint("report_id", "reporter_id"),
        Index("ix_report_votes_reporter_at", "reporter_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportDecision(Base):
    """A moderator's press on a report: delete, warn, mute or dismiss, each at most once."""

    __tablename__ = "report_decisions"
    __table_args__ = (UniqueConstraint("report_id", "decision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(16))
    by_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportPost(Base):
    """Where a report's entry was posted (the log chat, or each moderator's private chat)."""

    __tablename__ = "report_posts"
    __table_args__ = (Index("ix_report_posts_report", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
