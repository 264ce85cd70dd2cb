"""The tables. Every table that holds group data is keyed by the group's chat id."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from moderation.introductions import Category, IntroStatus
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
    category: Mapped[Category] = mapped_column(_enum(Category))
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
    status: Mapped[IntroStatus] = mapped_column(_enum(IntroStatus))
    sponsor_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    sponsor_note: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str | None] = mapped_column(String(64))
    last_name: Mapped[str | None] = mapped_column(String(64))
    organisation: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(100))
    cluster: Mapped[str | None] = mapped_column(String(100))
    location: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[Category | None] = mapped_column(_enum(Category))
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


# --------------------------------------------------------------------------- contacts
class Contact(Base):
    """A person in the contact directory; nothing is disclosed before ``consent == 'given'``."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null for people imported from CSV who never started the bot (matched by handle later).
    user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    clusters: Mapped[str] = mapped_column(String(700), default="")  # "WASH|Health"
    location: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")  # E.164
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    telegram: Mapped[str] = mapped_column(String(40), default="", index=True)  # "@handle"
    focal_point: Mapped[bool] = mapped_column(Boolean, default=False)
    cluster_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    # Clusters someone else confirmed (the sponsor's introduction, a moderator's /assign, an
    # import): the only ones that open cluster-level fields. ``clusters`` is the person's own
    # description, shown on the card and opening nothing.
    confirmed_clusters: Mapped[str] = mapped_column(String(700), default="")  # "WASH|Health"
    # The last user whose /start carried this unlinked entry's @username: moderators were
    # asked to confirm (a username is a hint, never an identity).
    claimed_by: Mapped[int | None] = mapped_column(BigInteger)
    levels: Mapped[str] = mapped_column(String(500), default="")  # "phone=private;email=…"
    consent: Mapped[str] = mapped_column(String(16), default="pending")  # pending/given/declined
    consent_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(24))  # profile, import, introduction
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContactGrant(Base):
    """An explicit yes ("Share with this person") or a recorded moderator override."""

    __tablename__ = "contact_grants"
    __table_args__ = (Index("ix_contact_grants_requester_contact", "requester_id", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    fields: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Overrides expire (contacts.override_expiry); a consent grant lasts until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ContactRequest(Base):
    """ "Please put me in touch": waits for the owner's (or focal point's) yes."""

    __tablename__ = "contact_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(BigInteger, index=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    # The contact who is asked and whose details a yes shares (the person or the focal point).
    asked_contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    asked_user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending, shared, declined, expired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requester_told: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(300), default="")  # the requester's own words


class Disclosure(Base):
    """Who saw which fields of whom, when and how (lookup, introduction, export, override)."""

    __tablename__ = "contact_disclosures"

    id: Mapped[int] = mapped_column(primary_key=True)
    viewer_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    fields: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContactLookup(Base):
    """One /contact search (for the per-user rate limit and for paging its results)."""

    __tablename__ = "contact_lookups"
    __table_args__ = (Index("ix_contact_lookups_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    query: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContactImport(Base):
    """A CSV upload waiting for the moderator's "Import" after the dry-run report."""

    __tablename__ = "contact_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    moderator_id: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, applied, cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


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


# --------------------------------------------------------------------------- moderation
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


# --------------------------------------------------------------------------- mentions
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


class TagPreference(Base):
    """A member's choice for one optional tag: in (opted in) or out (opted out)."""

    __tablename__ = "tag_preferences"
    __table_args__ = (UniqueConstraint("user_id", "tag"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    tag: Mapped[str] = mapped_column(String(64))  # the tag key (moderation.mentions.tag_key)
    subscribed: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------- lifecycle
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


class ReplicaRow(Base):
    """One running (or recently stopped) bot process: what `/status` and `imbot status` show."""

    __tablename__ = "ops_replicas"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # host:pid:start
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # polling, standby, webhook
    revision: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SweepRunRow(Base):
    """The last run of each sweep, whichever replica ran it."""

    __tablename__ = "ops_sweep_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    every_s: Mapped[int] = mapped_column(Integer)
    replica: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(String(255))


class DirectoryVersion(Base):
    """One row: bumped in the same transaction as every change to ``contacts``, so each
    process's in-memory search index (storage/contact_index.py) knows when it is stale."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class FormRow(Base):
    """One person's open guided form in one chat (storage/forms.py, handlers/forms.py): its
    kind, current step and typed answers so far (JSON of a pydantic model). In the database,
    not in process memory, so a restart or another webhook replica continues it."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("user_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    # Buttons carry the serial of the turn that sent them; only those sent since the current
    # step began (entered <= serial) are accepted, so a replayed older button changes nothing.
    serial: Mapped[int] = mapped_column(Integer)
    entered: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarFeed(Base):
    """A person's calendar subscription (web/calendar_feed.py): one per person. Only the
    SHA-256 digest of the secret in its address is kept, so a copy of the database does not
    reveal the address; a new link replaces the digest, stopping it sets ``revoked_at``."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
