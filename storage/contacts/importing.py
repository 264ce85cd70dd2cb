"""Importing contacts from a file: each row added, updated or left as it was, with a report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from i18n import _
from moderation.contacts import ImportedContact
from storage.contacts.repository import ContactRepository
from storage.contacts.values import ContactValues, merge_clusters, values_of
from storage.models import Contact


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


def import_contacts(
    session: Session, rows: Sequence[ImportedContact], now: datetime, apply: bool
) -> ImportReport:
    """Add or update imported people (never findable until they opt in); dry run if not apply."""
    repo = ContactRepository(session)
    report = ImportReport()
    for row in rows:
        by_id = repo.by_user(row.user_id) if row.user_id is not None else None
        existing = by_id or repo.by_email(row.email) or repo.by_handle(row.telegram)
        values = ContactValues(
            name=row.name,
            organisation=row.organisation,
            role=row.role,
            clusters=row.clusters,
            location=row.location,
            phone=row.phone,
            email=row.email,
            telegram=row.telegram,
            focal_point=row.focal_point,
        )
        # A row's user id never moves an entry already tied to someone else.
        relinks = (
            existing is not None
            and row.user_id is not None
            and existing.user_id not in (None, row.user_id)
        )
        if existing is not None and (existing.consent != "pending" or relinks):
            report.kept += 1
            continue
        if existing is not None:
            before = (
                values_of(existing),
                existing.cluster_coordinator,
                existing.confirmed_clusters,
                existing.user_id,
            )
            after = (
                values_of(_as_contact(values)),
                row.cluster_coordinator,
                merge_clusters(row.clusters),
                existing.user_id if row.user_id is None else row.user_id,
            )
            if before == after:
                report.unchanged += 1
                continue
            report.updated += 1
            target = existing
        else:
            report.new += 1
            if not apply:
                continue
            # Linked to a person only by a Telegram user id in the file, never by a username.
            target = repo.new(row.user_id, "import", now)
        if apply:
            repo.apply(target, values, now)
            target.cluster_coordinator = row.cluster_coordinator
            target.confirmed_clusters = merge_clusters(row.clusters)
            if row.user_id is not None and target.user_id is None:
                target.user_id = row.user_id
            session.flush()
    return report


def _as_contact(values: ContactValues) -> Contact:
    return Contact(
        name=values.name,
        organisation=values.organisation,
        role=values.role,
        clusters="|".join(values.clusters),
        location=values.location,
        phone=values.phone,
        email=values.email,
        telegram=values.telegram,
        focal_point=values.focal_point,
    )
