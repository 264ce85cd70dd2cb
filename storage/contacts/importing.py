"""Importing contacts from a file: each row added, updated or left as it was, with a report.

Rows are taken a batch at a time (``BATCH_ROWS``): one query reads every entry a batch's rows
may match (by user id, ``lower(email)``, ``lower(telegram)``: all indexed), the rows are decided
in file order against that view, which follows the batch's own changes, and the batch is written
with one INSERT and one UPDATE statement (executemany). The caller's transaction holds the whole
import: a failure anywhere leaves the directory as it was.

The outcome is the one of taking the rows one by one: a row finds the entry with its user id,
else one with its e-mail, else one with its Telegram username (the lowest id when several
share one), as the directory stands after the rows before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from i18n import _
from moderation.contacts import FIELDS, ImportedContact
from storage.contact_index import note_unindexed_change
from storage.contacts.values import merge_clusters, search_text_of, values_of
from storage.db import one_of
from storage.models import Contact

BATCH_ROWS = 1000
Progress = Callable[[int, int], None]  # (rows done, rows in the file)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_EDITABLE = ("user_id", *FIELDS, "cluster_coordinator", "confirmed_clusters")


def _ascii_lower(text: str) -> str:
    """SQLite's lower(): ASCII letters only (PostgreSQL's is Python's ``str.lower``)."""
    return text.translate(_ASCII_LOWER)


@dataclass
class ImportReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # the person manages their own entry (consented or declined)

    def summary(self) -> str:
        """In the current language (English on the command line)."""
        return _(
            "{new} new, {updated} updated, {unchanged} unchanged, "
            "{kept} kept as their owners wrote them",
            new=self.new,
            updated=self.updated,
            unchanged=self.unchanged,
            kept=self.kept,
        )


@dataclass(eq=False)
class _Entry:
    """A directory entry as the import sees it (``id`` None: added by this batch)."""

    id: int | None
    user_id: int | None
    name: str
    organisation: str
    role: str
    clusters: str
    location: str
    phone: str
    email: str
    telegram: str
    focal_point: bool
    cluster_coordinator: bool
    confirmed_clusters: str
    consent: str
    order: tuple[int, int] = (0, 0)  # which of several matches the row finds: the lowest id
    keys: tuple[str, str] = ("", "")  # lower(email), lower(telegram) it is found by

    def state(self) -> tuple[object, ...]:
        return (values_of(self), self.cluster_coordinator, self.confirmed_clusters, self.user_id)


@dataclass
class _View:
    """The entries a batch can match, by each key, kept up to date as the batch changes them."""

    lower: Callable[[str], str]  # the database's lower(), for values this batch writes
    by_user: dict[int, _Entry] = field(default_factory=dict)
    by_email: dict[str, list[_Entry]] = field(default_factory=dict)
    by_handle: dict[str, list[_Entry]] = field(default_factory=dict)

    def add(self, entry: _Entry, email_key: str, handle_key: str) -> None:
        entry.keys = (email_key, handle_key)
        if entry.user_id is not None:
            self.by_user[entry.user_id] = entry
        if email_key:
            self.by_email.setdefault(email_key, []).append(entry)
        if handle_key:
            self.by_handle.setdefault(handle_key, []).append(entry)

    def remove(self, entry: _Entry) -> None:
        if entry.user_id is not None and self.by_user.get(entry.user_id) is entry:
            del self.by_user[entry.user_id]
        for keys, key in zip((self.by_email, self.by_handle), entry.keys, strict=True):
            found = keys.get(key, [])
            if entry in found:
                found.remove(entry)

    def find(self, row: ImportedContact) -> _Entry | None:
        if row.user_id is not None and row.user_id in self.by_user:
            return self.by_user[row.user_id]
        for keys, value in ((self.by_email, row.email), (self.by_handle, row.telegram)):
            found = keys.get(value.lower()) if value else None
            if found:
                return min(found, key=lambda e: e.order)
        return None


def import_contacts(
    session: Session,
    rows: Sequence[ImportedContact],
    now: datetime,
    apply: bool,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> ImportReport:
    """Add or update imported people (never findable until they opt in); dry run if not apply.

    ``progress(done, total)`` is called after each batch."""
    report = ImportReport()
    session.flush()
    dialect = session.get_bind().dialect.name
    lower = _ascii_lower if dialect == "sqlite" else str.lower
    wrote = False
    seqscan = None
    if dialect == "postgresql":
        # A directory filled in this transaction has no statistics yet: PostgreSQL then guesses
        # that a 1,000-key IN list matches most of the table and scans all of it (0.3 s a batch
        # at 100,000 rows, against 3 ms through the indexes). Only for this transaction.
        seqscan = session.scalar(text("select current_setting('enable_seqscan')"))
        session.execute(text("select set_config('enable_seqscan', 'off', true)"))
    for start in range(0, len(rows), batch_rows):
        batch = rows[start : start + batch_rows]
        view = _load(session, batch, lower)
        added: list[_Entry] = []
        changed: dict[int, _Entry] = {}
        for row in batch:
            entry = _decide(row, view, report, apply, start, len(added))
            if entry is None:
                continue
            if entry.id is None:
                added.append(entry)
            else:
                changed[entry.id] = entry
        if apply and (added or changed):
            _write(session, added, list(changed.values()), now)
            wrote = True
        if progress is not None:
            progress(start + len(batch), len(rows))
    if seqscan is not None:
        session.execute(text("select set_config('enable_seqscan', :v, true)"), {"v": seqscan})
    if wrote:
        # Imported entries wait for consent, so the search index holds none of them.
        note_unindexed_change(session)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Contact):
                session.expire(obj)
    return report


def _entry_of(
    row: ImportedContact,
    entry_id: int | None,
    user_id: int | None,
    consent: str,
    order: tuple[int, int],
) -> _Entry:
    """The entry as ``row`` says it (its clusters confirmed as given)."""
    return _Entry(
        id=entry_id,
        user_id=user_id,
        name=row.name,
        organisation=row.organisation,
        role=row.role,
        clusters="|".join(row.clusters),
        location=row.location,
        phone=row.phone,
        email=row.email,
        telegram=row.telegram,
        focal_point=row.focal_point,
        cluster_coordinator=row.cluster_coordinator,
        confirmed_clusters=merge_clusters(row.clusters),
        consent=consent,
        order=order,
    )


def _decide(
    row: ImportedContact, view: _View, report: ImportReport, apply: bool, start: int, seq: int
) -> _Entry | None:
    """Count the row; with ``apply``, change the view and return the entry to write."""
    existing = view.find(row)
    if existing is not None:
        # A row's user id never moves an entry already tied to someone else.
        relinks = row.user_id is not None and existing.user_id not in (None, row.user_id)
        if existing.consent != "pending" or relinks:
            report.kept += 1
            return None
        before = existing.state()
        user_id = existing.user_id if row.user_id is None else row.user_id
        after = _entry_of(row, existing.id, user_id, existing.consent, existing.order)
        if before == after.state():
            report.unchanged += 1
            return None
        report.updated += 1
        if not apply:
            return None
        view.remove(existing)
        for name in _EDITABLE:
            setattr(existing, name, getattr(after, name))
        view.add(existing, view.lower(existing.email), view.lower(existing.telegram))
        return existing
    report.new += 1
    if not apply:
        return None
    # Linked to a person only by a Telegram user id in the file, never by a username.
    entry = _entry_of(row, None, row.user_id, "pending", (1, start + seq))
    view.add(entry, view.lower(entry.email), view.lower(entry.telegram))
    return entry


def _load(session: Session, batch: Sequence[ImportedContact], lower: Callable[[str], str]) -> _View:
    """Every entry the batch's rows may find, in one query served by the indexes."""
    view = _View(lower)
    users = {r.user_id for r in batch if r.user_id is not None}
    emails = {r.email.lower() for r in batch if r.email}
    handles = {r.telegram.lower() for r in batch if r.telegram}
    conditions = []
    # PostgreSQL takes each key list as one array parameter (= ANY): planning 2,500 separate
    # IN parameters cost more than running the query.
    for keys, column, kind in (
        (users, Contact.user_id, BigInteger),
        (emails, func.lower(Contact.email), Text),
        (handles, func.lower(Contact.telegram), Text),
    ):
        if keys:
            conditions.append(one_of(session, column, keys, kind))
    if not conditions:
        return view
    columns = [getattr(Contact, name) for name in ("id", *_EDITABLE, "consent")]
    query = select(*columns, func.lower(Contact.email), func.lower(Contact.telegram)).where(
        or_(*conditions)
    )
    for found in session.execute(query.order_by(Contact.id)):
        values = dict(zip(("id", *_EDITABLE, "consent"), found[:-2], strict=True))
        entry = _Entry(**values, order=(0, int(values["id"])))
        view.add(entry, found[-2] or "", found[-1] or "")
    return view


def _write(session: Session, added: list[_Entry], changed: list[_Entry], now: datetime) -> None:
    if added:
        session.execute(
            insert(Contact.__table__),  # type: ignore[arg-type]
            [
                {
                    **_columns(e),
                    "claimed_by": None,
                    "levels": "",
                    "consent": "pending",
                    "consent_asked_at": None,
                    "consent_at": None,
                    "source": "import",
                    "created_at": now,
                    "updated_at": now,
                }
                for e in added
            ],
        )
    if changed:
        table = Contact.__table__
        values: dict[str, Any] = {name: bindparam(f"v_{name}") for name in _COLUMNS}
        values["updated_at"] = bindparam("v_updated_at")
        session.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("v_id"))
            .values(values),
            [
                {"v_id": e.id, "v_updated_at": now} | {f"v_{k}": v for k, v in _columns(e).items()}
                for e in changed
            ],
        )


_COLUMNS = (*_EDITABLE, "search_text")


def _columns(entry: _Entry) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(entry, name) for name in _EDITABLE}
    values["search_text"] = search_text_of(entry)
    return values
