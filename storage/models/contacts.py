"""The contact directory: entries, grants, requests, disclosures, lookups, imports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime

# Request and grant numbers travel in buttons (``ct:y:<request>…``, ``ct:rv:<grant>``): a number
# must never come back after its row is erased, or an old button would act on a new row.
# PostgreSQL sequences never hand a number out twice; SQLite does unless the table is declared
# AUTOINCREMENT (migration 0018_never_reused_numbers).
NEVER_REUSED = {"sqlite_autoincrement": True}


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
    # Matched case-insensitively (imports, claims): indexed as lower(…) below.
    email: Mapped[str] = mapped_column(String(254), default="")
    telegram: Mapped[str] = mapped_column(String(40), default="")  # "@handle"
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


# What an import's duplicate check and a /start claim look up (``lower(email) = ?``); the user
# id is unique, hence indexed already. Migration 0017_contact_import_indexes.
Index("ix_contacts_lower_email", func.lower(Contact.email))
Index("ix_contacts_lower_telegram", func.lower(Contact.telegram))


class ContactGrant(Base):
    """An explicit yes ("Share with this person") or a recorded moderator override."""

    __tablename__ = "contact_grants"
    __table_args__ = (
        Index("ix_contact_grants_requester_contact", "requester_id", "contact_id"),
        NEVER_REUSED,
    )

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
    __table_args__ = (NEVER_REUSED,)

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
