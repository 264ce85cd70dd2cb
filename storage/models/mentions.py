"""Mention broadcasts, their outbox, tag preferences and how each person is reached."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


class MentionBroadcast(Base):
    """One accepted @all / @moderators / tag message: whom it was for, and when (cooldowns)."""

    __tablename__ = "mention_broadcasts"
    __table_args__ = (
        Index("ix_mention_broadcasts_author", "chat_id", "author_id", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # all | tag
    label: Mapped[str] = mapped_column(String(255))  # "@all", "@moderators @wash"
    quote: Mapped[str] = mapped_column(String(300))
    source_message_id: Mapped[int] = mapped_column(BigInteger)
    recipients: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MentionOutbox(Base):
    """One paced message of a broadcast (seq 0 is the notice): sent at most per_minute a group."""

    __tablename__ = "mention_outbox"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "seq"),
        Index("ix_mention_outbox_chat_status_due", "chat_id", "status", "due_at"),
        Index("ix_mention_outbox_chat_sent", "chat_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("mention_broadcasts.id", ondelete="CASCADE")
    )
    chat_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    user_ids: Mapped[str] = mapped_column(Text)  # "1,2,3"
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # pending → sending (claimed) → sent | skipped (everyone left) | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(255))
    # Fencing (delivery/): who holds the claim, and when its send began (a row on the wire is
    # never taken over before ``delivery.STALL_LIMIT``; if it then is, it may arrive twice).
    claim_token: Mapped[str | None] = mapped_column(String(64))
    wire_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    maybe_twice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A private message to this person instead of a group batch (None: a group message).
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)


class TagPreference(Base):
    """A member's choice for one optional tag: in (opted in) or out (opted out)."""

    __tablename__ = "tag_preferences"
    __table_args__ = (UniqueConstraint("user_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    tag: Mapped[str] = mapped_column(String(64))  # the tag key (moderation.mentions.tag_key)
    subscribed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MentionDelivery(Base):
    """How a person who started the bot wants broadcasts: privately, or mentioned in the group
    (no row: the group's ``mentions.private_default``)."""

    __tablename__ = "mention_delivery"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    private: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
