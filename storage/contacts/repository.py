"""Queries on the contact directory: contacts, grants, requests, disclosures, lookups, imports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Integer, case, func, select, update

from moderation.contacts import FIELDS, Grant, GrantKind, Level, trigrams
from storage import erasure
from storage.contact_index import index_for
from storage.contacts.native import candidate_ids
from storage.contacts.values import (
    ContactValues,
    cluster_list,
    confirmed_cluster_list,
    encode_levels,
    merge_clusters,
    search_text_of,
)
from storage.db import SessionRepository, one_of
from storage.models import (
    Contact,
    ContactGrant,
    ContactImport,
    ContactLookup,
    ContactRequest,
    Disclosure,
)

CANDIDATES = 200


class ContactRepository(SessionRepository):
    # --- contacts --------------------------------------------------------------------------
    def get(self, contact_id: int) -> Contact | None:
        return self.session.get(Contact, contact_id)

    def by_user(self, user_id: int) -> Contact | None:
        return self.session.scalars(select(Contact).where(Contact.user_id == user_id)).first()

    def by_handle(self, handle: str) -> Contact | None:
        if not handle:
            return None
        return self.session.scalars(
            select(Contact).where(func.lower(Contact.telegram) == handle.lower())
        ).first()

    def by_email(self, email: str) -> Contact | None:
        if not email:
            return None
        return self.session.scalars(
            select(Contact).where(func.lower(Contact.email) == email.lower())
        ).first()

    def apply(self, contact: Contact, values: ContactValues, now: datetime) -> None:
        contact.name = values.name
        contact.organisation = values.organisation
        contact.role = values.role
        contact.clusters = "|".join(values.clusters)
        contact.location = values.location
        contact.phone = values.phone
        contact.email = values.email
        contact.telegram = values.telegram
        contact.focal_point = values.focal_point
        contact.search_text = search_text_of(contact)
        contact.updated_at = now

    def new(self, user_id: int | None, source: str, now: datetime) -> Contact:
        contact = Contact(
            user_id=user_id,
            name="",
            organisation="",
            role="",
            clusters="",
            location="",
            phone="",
            email="",
            telegram="",
            focal_point=False,
            cluster_coordinator=False,
            confirmed_clusters="",
            levels="",
            consent="pending",
            source=source,
            search_text="",
            created_at=now,
            updated_at=now,
        )
        self.session.add(contact)
        return contact

    def save_profile(
        self, user_id: int, values: ContactValues, levels: Mapping[str, Level], now: datetime
    ) -> Contact:
        """The person's own edit: saving it is their opt-in to the directory."""
        contact = self.by_user(user_id) or self.new(user_id, "profile", now)
        self.apply(contact, values, now)
        self.set_levels(contact, levels, now)
        if contact.consent != "given":
            contact.consent, contact.consent_at = "given", now
        self.session.flush()
        return contact

    def set_levels(self, contact: Contact, levels: Mapping[str, Level], now: datetime) -> None:
        """Who may see each detail (the person's own choice: /profile, the Mini App)."""
        contact.levels = encode_levels(levels)
        contact.updated_at = now
        self.session.flush()

    def upsert_from_introduction(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None,
        organisation: str,
        role: str,
        cluster: str | None,
        location: str | None,
        now: datetime,
    ) -> Contact:
        """Pre-fill from a completed introduction. Consent is unchanged (new = not findable)."""
        contact = self.by_user(user_id)
        if contact is None:
            contact = self.new(user_id, "introduction", now)
        name = f"{first_name} {last_name}".strip() if last_name else first_name
        clusters = tuple(c for c in [*cluster_list(contact), cluster or ""] if c)
        if cluster:  # the sponsor's introduction confirms it
            contact.confirmed_clusters = merge_clusters(confirmed_cluster_list(contact), [cluster])
        self.apply(
            contact,
            ContactValues(
                name=name or contact.name,
                organisation=organisation or contact.organisation,
                role=role or contact.role,
                clusters=tuple(dict.fromkeys(clusters)),
                location=location or contact.location,
                phone=contact.phone,
                email=contact.email,
                telegram=contact.telegram,
                focal_point=contact.focal_point,
            ),
            now,
        )
        self.session.flush()
        return contact

    def link(self, contact: Contact, user_id: int) -> bool:
        """Tie an unlinked (imported) entry to a Telegram user id, once; a moderator's call."""
        if contact.user_id is not None or self.by_user(user_id) is not None:
            return False
        contact.user_id = user_id
        self.session.flush()
        return True

    def unlinked_by_handle(self, handle: str) -> Contact | None:
        """An imported entry nobody is linked to yet, carrying this @username (a hint for a
        moderator only: usernames change hands, so it never links anything by itself)."""
        found = self.by_handle(handle)
        return found if found is not None and found.user_id is None else None

    def assign_clusters(self, contact: Contact, clusters: Sequence[str], now: datetime) -> None:
        contact.confirmed_clusters = merge_clusters(clusters)
        contact.updated_at = now

    def set_consent(self, contact: Contact, given: bool, now: datetime) -> None:
        contact.consent = "given" if given else "declined"
        contact.consent_at = now

    def search_candidates(
        self, key: str, limit: int = CANDIDATES, *, from_index: bool = True
    ) -> Sequence[Contact]:
        """Consented contacts sharing the most grams with the query (ranked in Python), through
        the in-memory index (storage/contact_index.py); the same rows as ``scan_candidates``.
        While the index is being rebuilt, or with ``from_index=False`` (a worker thread, which
        must not touch the index the event loop keeps), the database's own gram index answers
        (storage/contacts/native.py: FTS5 on SQLite, GIN on PostgreSQL), again the same rows."""
        grams = sorted(trigrams(key))[:24]
        if not grams:
            return self.scan_candidates(key, limit)
        index = index_for(self.session) if from_index else None
        if index is not None and index.refresh(self.session):
            ids = index.candidates(grams, limit)
        else:
            ids = candidate_ids(self.session, grams, limit)
        return self._rows(ids)

    def native_candidates(self, key: str, limit: int = CANDIDATES) -> Sequence[Contact]:
        """The ranking from the database's gram index alone (the answer during a rebuild)."""
        grams = sorted(trigrams(key))[:24]
        if not grams:
            return self.scan_candidates(key, limit)
        return self._rows(candidate_ids(self.session, grams, limit))

    def _rows(self, ids: Sequence[int]) -> Sequence[Contact]:
        if not ids:
            return []
        found = {
            c.id: c
            for c in self.session.scalars(
                select(Contact)
                .where(one_of(self.session, Contact.id, ids, Integer))
                .where(Contact.consent == "given")
            )
        }
        return [found[i] for i in ids if i in found]

    def scan_candidates(self, key: str, limit: int = CANDIDATES) -> Sequence[Contact]:
        """The same ranking in SQL over every row (kept for queries without grams, and as the
        reference the in-memory and the database's indexes are tested against)."""
        grams = sorted(trigrams(key))[:24] or [key]
        hits = [case((Contact.search_text.contains(g, autoescape=True), 1), else_=0) for g in grams]
        score = sum(hits[1:], hits[0]).cast(Integer) if len(hits) > 1 else hits[0]
        stmt = (
            select(Contact)
            .where(Contact.consent == "given")
            .where(score > 0)
            .order_by(score.desc(), Contact.id)
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def consented(self) -> Sequence[Contact]:
        return self.session.scalars(
            select(Contact).where(Contact.consent == "given").order_by(Contact.name, Contact.id)
        ).all()

    def focal_point_of(self, organisation: str, excluding: int) -> Contact | None:
        return self.session.scalars(
            select(Contact)
            .where(func.lower(Contact.organisation) == organisation.lower())
            .where(Contact.focal_point.is_(True))
            .where(Contact.consent == "given")
            .where(Contact.user_id.is_not(None))
            .where(Contact.id != excluding)
            .order_by(Contact.id)
        ).first()

    # --- grants ----------------------------------------------------------------------------
    def grants(self, requester_id: int, contact_ids: Iterable[int]) -> list[Grant]:
        """Unrevoked grants (filter them with moderation.contacts.counting_grants)."""
        ids = list(contact_ids)
        if not ids:
            return []
        rows = self.session.scalars(
            select(ContactGrant)
            .where(ContactGrant.requester_id == requester_id)
            .where(one_of(self.session, ContactGrant.contact_id, ids, Integer))
            .where(ContactGrant.revoked_at.is_(None))
        ).all()
        return [
            Grant(
                r.requester_id,
                r.contact_id,
                frozenset(r.fields.split(",")),
                GrantKind(r.kind),
                r.expires_at,
            )
            for r in rows
        ]

    def revoke_grant(self, grant_id: int, contact_id: int, now: datetime) -> bool:
        """The person takes back a "Share": only a consent grant on their own entry."""
        grant = self.session.get(ContactGrant, grant_id)
        if (
            grant is None
            or grant.contact_id != contact_id
            or grant.kind != GrantKind.CONSENT.value
            or grant.revoked_at is not None
        ):
            return False
        grant.revoked_at = now
        return True

    def add_grant(
        self,
        requester_id: int,
        contact_id: int,
        fields: Iterable[str],
        kind: GrantKind,
        granted_by: int,
        now: datetime,
        reason: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        self.session.add(
            ContactGrant(
                requester_id=requester_id,
                contact_id=contact_id,
                fields=",".join(f for f in FIELDS if f in set(fields)),
                kind=kind.value,
                granted_by=granted_by,
                reason=reason,
                at=now,
                expires_at=expires_at,
            )
        )

    def grants_given(self, contact_id: int) -> Sequence[ContactGrant]:
        return self.session.scalars(
            select(ContactGrant)
            .where(ContactGrant.contact_id == contact_id)
            .order_by(ContactGrant.id)
        ).all()

    # --- requests --------------------------------------------------------------------------
    def add_request(
        self,
        requester_id: int,
        contact: Contact,
        asked: Contact,
        now: datetime,
        expires_at: datetime,
        note: str = "",
    ) -> ContactRequest:
        assert asked.user_id is not None
        request = ContactRequest(
            requester_id=requester_id,
            contact_id=contact.id,
            asked_contact_id=asked.id,
            asked_user_id=asked.user_id,
            status="pending",
            created_at=now,
            expires_at=expires_at,
            requester_told=False,
            note=note,
        )
        self.session.add(request)
        self.session.flush()
        return request

    def pending_asks(self, requester_id: int) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(ContactRequest)
                .where(ContactRequest.requester_id == requester_id)
                .where(ContactRequest.status == "pending")
            )
            or 0
        )

    def request(self, request_id: int) -> ContactRequest | None:
        return self.session.get(ContactRequest, request_id)

    def open_request(self, requester_id: int, contact_id: int) -> ContactRequest | None:
        return self.session.scalars(
            select(ContactRequest)
            .where(ContactRequest.requester_id == requester_id)
            .where(ContactRequest.contact_id == contact_id)
            .where(ContactRequest.status == "pending")
        ).first()

    def due_requests(self, now: datetime) -> Sequence[ContactRequest]:
        """Requests with no yes by their deadline whose requester has not been told yet."""
        return self.session.scalars(
            select(ContactRequest)
            .where(ContactRequest.status.in_(("pending", "declined")))
            .where(ContactRequest.requester_told.is_(False))
            .where(ContactRequest.expires_at <= now)
            .order_by(ContactRequest.id)
        ).all()

    def next_expiry(self, now: datetime) -> datetime | None:
        """When the next request whose requester has not been told runs out."""
        return self.session.scalar(
            select(func.min(ContactRequest.expires_at))
            .where(ContactRequest.status.in_(("pending", "declined")))
            .where(ContactRequest.requester_told.is_(False))
            .where(ContactRequest.expires_at > now)
        )

    def claim_expiry(self, request_id: int) -> bool:
        """Mark a due request told (and expired if still pending) unless another run did."""
        result = self.session.execute(
            update(ContactRequest)
            .where(ContactRequest.id == request_id, ContactRequest.requester_told.is_(False))
            .values(
                requester_told=True,
                status=case(
                    (ContactRequest.status == "pending", "expired"), else_=ContactRequest.status
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def requests_about(self, contact_id: int) -> Sequence[ContactRequest]:
        return self.session.scalars(
            select(ContactRequest).where(ContactRequest.contact_id == contact_id)
        ).all()

    # --- disclosures and lookups -----------------------------------------------------------
    def record_disclosure(
        self,
        viewer_id: int,
        contact_id: int,
        fields: Iterable[str],
        channel: str,
        now: datetime,
        detail: str | None = None,
    ) -> None:
        self.session.add(
            Disclosure(
                viewer_id=viewer_id,
                contact_id=contact_id,
                fields=",".join(f for f in FIELDS if f in set(fields)),
                channel=channel,
                detail=detail,
                at=now,
            )
        )

    def disclosures_of(self, contact_id: int) -> Sequence[Disclosure]:
        return self.session.scalars(
            select(Disclosure).where(Disclosure.contact_id == contact_id).order_by(Disclosure.id)
        ).all()

    def add_lookup(self, user_id: int, query: str, now: datetime) -> ContactLookup:
        lookup = ContactLookup(user_id=user_id, query=query[:120], at=now)
        self.session.add(lookup)
        self.session.flush()
        return lookup

    def lookup(self, lookup_id: int) -> ContactLookup | None:
        return self.session.get(ContactLookup, lookup_id)

    def lookups_since(self, user_id: int, since: datetime) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(ContactLookup)
                .where(ContactLookup.user_id == user_id)
                .where(ContactLookup.at > since)
            )
            or 0
        )

    # --- privacy rights --------------------------------------------------------------------
    def forget(self, user_id: int, now: datetime) -> bool:
        """What /forgetme does, column by column, as ``storage.erasure.REGISTRY`` declares."""
        return erasure.forget(self.session, user_id, now)

    # --- imports ---------------------------------------------------------------------------
    def add_import(
        self, moderator_id: int, filename: str, content: str, now: datetime
    ) -> ContactImport:
        pending = ContactImport(
            moderator_id=moderator_id,
            filename=filename[:255],
            content=content,
            status="pending",
            created_at=now,
        )
        self.session.add(pending)
        self.session.flush()
        return pending

    def pending_import(self, import_id: int, moderator_id: int) -> ContactImport | None:
        """This moderator's import still waiting for "Import", locked until the transaction
        ends (PostgreSQL; SQLite has one writer), so two presses cannot both apply it."""
        found = self.session.get(ContactImport, import_id, with_for_update=True)
        if found is None or found.moderator_id != moderator_id or found.status != "pending":
            return None
        return found
