"""The database's gram index (storage/contacts/native.py) ranks exactly like the SQL scan,
after inserts, edits, consent changes and deletions that only its triggers (SQLite) or the
index itself (PostgreSQL) keep track of; and a lookup during a rebuild of the in-memory index
uses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, update

from storage.contacts import ContactRepository
from storage.db import Database
from storage.models import Contact

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WORDS = ["olena", "koval", "kovalenko", "lena", "коваль", "шевченко", "محمد", "wash", "ab"]
# ASCII letters in both cases (SQLite's LIKE ignores their case, PostgreSQL's does not), a
# non-ASCII pair (LIKE never folds it), and LIKE's own wildcards.
word = st.one_of(st.sampled_from(WORDS), st.text(alphabet="abAB_%дД1", min_size=1, max_size=6))
phrase = st.lists(word, min_size=1, max_size=4).map(" ".join)
entry = st.tuples(phrase, st.sampled_from(["given", "given", "pending", "declined"]))
directory = st.dictionaries(st.integers(1, 400), entry, max_size=40)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


def row(contact_id: int, text: str, consent: str) -> dict[str, object]:
    return dict(
        id=contact_id, name=text, organisation="", role="", clusters="", location="", phone="",
        email="", telegram="", focal_point=False, cluster_coordinator=False,
        confirmed_clusters="", levels="", consent=consent, source="import", search_text=text,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=directory,
    changed=directory,
    removed=st.lists(st.integers(1, 400), max_size=10),
    queries=st.lists(phrase, min_size=1, max_size=4),
    limit=st.integers(1, 12),
)
def test_same_candidates_as_the_scan(
    database: Database,
    first: dict[int, tuple[str, str]],
    changed: dict[int, tuple[str, str]],
    removed: list[int],
    queries: list[str],
    limit: int,
) -> None:
    with database.transaction() as session:
        session.execute(delete(Contact))
        if first:
            session.execute(insert(Contact), [row(i, t, c) for i, (t, c) in first.items()])
    with database.transaction() as session:  # edits, consent given or taken back, new rows
        for contact_id, (text, consent) in changed.items():
            if contact_id in first:
                session.execute(
                    update(Contact)
                    .where(Contact.id == contact_id)
                    .values(search_text=text, consent=consent)
                )
            else:
                session.execute(insert(Contact).values(row(contact_id, text, consent)))
        session.execute(delete(Contact).where(Contact.id.in_(removed)))
    with database.transaction() as session:
        repo = ContactRepository(session)
        for query in queries:
            native = [c.id for c in repo.native_candidates(query, limit)]
            assert native == [c.id for c in repo.scan_candidates(query, limit)], query


def test_rows_changed_in_the_open_transaction_are_ranked_too(database: Database) -> None:
    with database.transaction() as session:
        session.execute(insert(Contact), [row(1, "olena koval", "given"), row(2, "ab", "given")])
        session.execute(insert(Contact).values(row(3, "olena kovalenko", "pending")))
        repo = ContactRepository(session)
        assert [c.id for c in repo.native_candidates("koval")] == [1]
        session.execute(update(Contact).where(Contact.id == 3).values(consent="given"))
        session.execute(update(Contact).where(Contact.id == 1).values(search_text="lena"))
        assert [c.id for c in repo.native_candidates("koval")] == [3]
        assert [c.id for c in repo.native_candidates("olena")] == [3, 1]
        assert [c.id for c in repo.native_candidates("abba")] == [2]
