"""Running the bot: replicas, sweep runs, the directory version and open forms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base
from storage.types import UTCDateTime


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


class ContactChange(Base):
    """The change log of the directory: one row per contact changed at each directory version,
    written in the same transaction as the change (storage/contact_index.py), so an index left
    behind by another process's writes reloads just those contacts instead of rebuilding.

    ``contact_id`` is no foreign key: an erased contact is logged too (it leaves the index).
    ``before`` is its search_text before the change ("" for a new contact, NULL when unknown);
    contact_id 0 marks a version that changed nothing the index holds. Pruned by the
    ``contact-index`` sweep to the newest ``contact_index.LOG_KEPT`` versions.
    """

    __tablename__ = "contact_changes"

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contact_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    before: Mapped[str | None] = mapped_column(Text)


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
