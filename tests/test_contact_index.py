"""The in-memory contact index: same candidates as the SQL ranking, and in sync after every
insert, edit, consent change, erasure and write by another process."""

from __future__ import annotations

import asyncio
import random
import threading
from array import array
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from moderation.contacts import parse_contacts_csv, search_key, trigrams
from simulation.simulator import Simulator
from storage import contact_index
from storage.contact_index import ContactIndex, grams_of
from storage.contacts import ContactRepository, ContactValues, import_contacts, native, repository
from storage.db import Database
from storage.models import Contact, ContactChange
from tests.test_contacts import add_contact, member

WORDS = [
    "olena",
    "koval",
    "kovalenko",
    "lena",
    "коваль",
    "шевченко",
    "محمد",
    "حداد",
    "wash",
    "kharkiv",
    "unicef",
    "ab",
]


def brute_force(texts: dict[int, str], grams: list[str], limit: int) -> list[int]:
    scored = [(-sum(g in t for g in set(grams)), i) for i, t in texts.items()]
    return [i for score, i in sorted(scored) if score < 0][:limit]


texts_strategy = st.dictionaries(
    st.integers(1, 3000),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    texts=texts_strategy,
    removed=st.lists(st.integers(1, 3000), max_size=10),
    added=texts_strategy,
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    limit=st.integers(1, 20),
)
def test_index_ranks_like_the_brute_force_after_any_changes(
    texts: dict[int, str], removed: list[int], added: dict[int, str], query: str, limit: int
) -> None:
    index = ContactIndex()
    index.rebuild(sorted(texts.items()), version=1)
    expected = dict(texts)
    for contact_id in removed:
        index._remove(contact_id, expected.pop(contact_id, ""))
    for contact_id, text in added.items():  # an edit is a removal and an addition
        index._remove(contact_id, expected.get(contact_id, ""))
        index._add(contact_id, text)
        expected[contact_id] = text
    grams = sorted(trigrams(search_key(query)))[:24]
    assert index.candidates(grams, limit) == brute_force(expected, grams, limit)


def test_postings_take_4_bytes_an_id_and_widen_for_a_bigint_one() -> None:
    postings: dict[str, array[int]] = {}
    contact_index._append(postings, "ab", 7)
    assert postings["ab"].itemsize == 4
    contact_index._append(postings, "ab", 2**40)
    contact_index._append(postings, "ab", 9)
    assert postings["ab"].itemsize == 8
    assert list(postings["ab"]) == [7, 2**40, 9]


def test_grams_stay_inside_words() -> None:
    assert grams_of("ab cde") == {"ab", "cd", "de", "cde"}


async def test_same_candidates_as_the_sql_ranking(sim: Simulator) -> None:
    rng = random.Random(5)
    names = ["Olena Koval", "Олена Коваль", "محمد حداد", "Ivan Shevchenko", "Іван Шевченко"]
    for i in range(150):
        add_contact(
            sim,
            None,
            consent="given" if i % 7 else "pending",
            name=f"{rng.choice(names)} {i % 13}",
            organisation=rng.choice(["UNICEF", "NRC", "REACH"]),
            location=rng.choice(["Kharkiv", "Харків", "Odesa"]),
        )
    queries = ["koval", "kovl", "коваль", "ковль", "محمد", "حدد", "unicef kharkiv", "olena 12"]
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        for query in queries:
            key = search_key(query)
            for limit in (5, 200):
                fast = [c.id for c in repo.search_candidates(key, limit)]
                assert fast == [c.id for c in repo.scan_candidates(key, limit)], query
                assert fast


async def found(sim: Simulator, who, query: str) -> str:
    await sim.dm(who, f"/contact {query}")
    return sim.last(who.id).text


async def test_index_follows_insert_edit_consent_and_forget(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    olena = await member(sim, "Olena", "Koval")
    assert "Nobody found" in await found(sim, ivan, "olena")  # the index is built after this
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    assert index.building is not None
    await index.building
    built = index.sparse
    cid = add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF")
    assert "Olena Koval" in await found(sim, ivan, "olena")  # insert
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(cid)
        assert contact is not None
        repo.apply(contact, ContactValues(name="Olena Bondar", organisation="UNICEF"), now)
    assert "Olena Bondar" in await found(sim, ivan, "bondar")  # edit
    assert "Nobody found" in await found(sim, ivan, "koval")
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(cid)
        assert contact is not None
        repo.set_consent(contact, False, now)
    assert "Nobody found" in await found(sim, ivan, "bondar")  # consent withdrawn
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(cid)
        assert contact is not None
        repo.set_consent(contact, True, now)
    assert "Olena Bondar" in await found(sim, ivan, "bondar")
    await sim.dm(olena, "/forgetme")
    await sim.press(olena, sim.last(olena.id), "Erase")
    assert "Nobody found" in await found(sim, ivan, "bondar")  # erased
    assert index.sparse is built  # every change was applied in place, never by a rebuild


async def test_a_rolled_back_change_leaves_the_index_alone(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, None, name="Petro Bondar")
    assert "Petro Bondar" in await found(sim, ivan, "bondar")
    try:
        with sim.services.db.transaction() as session:
            session.add(
                Contact(
                    name="Ghost Bondar",
                    consent="given",
                    source="profile",
                    search_text="ghost bondar",
                    created_at=sim.clock.now(),
                    updated_at=sim.clock.now(),
                )
            )
            session.flush()
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert "Ghost" not in await found(sim, ivan, "bondar")
    add_contact(sim, None, name="Anna Bondar")
    text = await found(sim, ivan, "bondar")
    assert "Anna Bondar" in text and "Petro Bondar" in text and "Ghost" not in text


async def test_changes_by_another_process_and_imports_are_seen(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    assert "Nobody found" in await found(sim, ivan, "tkachenko")  # the index is built here
    other = Database(sim.services.config.database_url)  # another process: its own engine
    try:
        with other.transaction() as session:
            ContactRepository(session).save_profile(
                424242, ContactValues(name="Maria Tkachenko", organisation="WFP"), {}, now_of(sim)
            )
    finally:
        other.dispose()
    assert "Maria Tkachenko" in await found(sim, ivan, "tkachenko")
    # `imbot import-contacts` (another process too): invisible until the person says yes.
    parsed = parse_contacts_csv(b"name,organisation\nPavlo Tkachenko,IOM\n", 10_000, None)
    other = Database(sim.services.config.database_url)
    try:
        with other.transaction() as session:
            import_contacts(session, parsed.rows, now_of(sim), apply=True)
    finally:
        other.dispose()
    assert "Pavlo" not in await found(sim, ivan, "tkachenko")
    sim.clock.advance(timedelta(minutes=1))
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = session.scalars(select(Contact).where(Contact.name == "Pavlo Tkachenko")).one()
        repo.set_consent(contact, True, now_of(sim))
    assert "Pavlo Tkachenko" in await found(sim, ivan, "tkachenko")


def now_of(sim: Simulator) -> datetime:
    return sim.clock.now()


def held_build(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Hold the index's background build after its first row, until ``go`` is set."""
    started, go = threading.Event(), threading.Event()
    real = contact_index._consented

    def slow(session):
        for n, row in enumerate(real(session)):
            if n == 1:
                started.set()
                go.wait(30)
            yield row
        started.set()

    monkeypatch.setattr(contact_index, "_consented", slow)
    return started, go


async def test_background_warm_up_keeps_changes_made_meanwhile(sim: Simulator, monkeypatch) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    for i in range(5):
        add_contact(sim, None, name=f"Oksana Lysenko{i}")
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    index.stale = True  # as after a change by another process
    started, go = held_build(monkeypatch)
    warming = asyncio.ensure_future(contact_index.warm(sim.services.db))
    await asyncio.to_thread(started.wait, 30)
    # While the new index is being built, this process adds someone.
    added = add_contact(sim, None, name="Oksana Meanwhile")
    go.set()
    await warming
    assert not index.stale and added in index.dirty
    assert "6 found" in await found(sim, ivan, "oksana")
    assert "Oksana Meanwhile" in await found(sim, ivan, "meanwhile")


async def test_lookups_are_answered_from_sql_while_the_index_is_rebuilt(
    sim: Simulator, monkeypatch
) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, None, name="Oksana Lysenko", organisation="UNICEF")
    assert "Oksana Lysenko" in await found(sim, ivan, "lysenko")
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    assert index.building is not None
    await index.building
    other = Database(sim.services.config.database_url)  # another process changes the directory
    try:
        with other.transaction() as session:
            ContactRepository(session).save_profile(
                424242, ContactValues(name="Maria Lysenko", organisation="WFP"), {}, now_of(sim)
            )
            session.execute(delete(ContactChange))  # its change log pruned: only a rebuild helps
    finally:
        other.dispose()
    started, go = held_build(monkeypatch)
    try:
        text = await found(sim, ivan, "lysenko")  # starts the rebuild, answered without it
        assert "Maria Lysenko" in text and "Oksana Lysenko" in text
        await asyncio.to_thread(started.wait, 30)
        assert index.building is not None and not index.building.done()
        text = await found(sim, ivan, "maria")  # the rebuild is still held
        assert "Maria Lysenko" in text and "Oksana" not in text
    finally:
        go.set()
    await index.building
    with sim.services.db.transaction() as session:
        assert index.version == contact_index.current_version(session) and not index.stale
    assert "Maria Lysenko" in await found(sim, ivan, "maria")  # from the new index


@given(
    st.sets(st.integers(min_value=0, max_value=5000), max_size=300),
    st.integers(min_value=0, max_value=250),
)
def test_the_lowest_set_bits_few_or_many(ids: set[int], count: int) -> None:
    """Both ways of listing a mask's lowest ids (peeled one by one, or through its binary
    text once there are many) give the smallest ``count`` ids, ascending."""
    mask = sum(1 << i for i in ids)
    assert contact_index._lowest(mask, count) == sorted(ids)[:count]


async def test_a_lookup_during_a_build_does_not_hold_up_the_bot(
    sim: Simulator, monkeypatch
) -> None:
    """While the index is built, the database's gram index answers; its query (up to a few
    hundred ms at 100,000 contacts) runs in a worker thread, so other updates are handled
    meanwhile. The query is held here until another member's /start has been answered."""
    ivan = await member(sim, "Ivan", "Petrenko")
    olena = await member(sim, "Olena", "Koval")
    add_contact(sim, None, name="Oksana Lysenko", organisation="UNICEF")
    add_contact(sim, None, name="Petro Bondar", organisation="WFP")  # the build holds at row 2
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    if index.building is not None:
        await index.building  # the start-up build
    index.stale = True  # as after a change by another process that the log cannot replay
    started, go = held_build(monkeypatch)
    entered, release = threading.Event(), threading.Event()
    real = native.candidate_ids

    def held_query(session, grams, limit):
        entered.set()
        release.wait(5)  # on the event loop (the old way) this would hold every update up
        return real(session, grams, limit)

    monkeypatch.setattr(repository, "candidate_ids", held_query)
    try:
        lookup = asyncio.ensure_future(found(sim, ivan, "lysenko"))  # starts the build
        await asyncio.to_thread(entered.wait, 5)
        await asyncio.to_thread(started.wait, 5)
        assert entered.is_set() and index.building is not None and not index.building.done()
        before = sim.mark()
        await sim.dm(olena, "/start")
        answered_meanwhile = bool(sim.since(before, olena.id)) and not lookup.done()
        release.set()
        text = await lookup
    finally:
        release.set()
        go.set()
    assert answered_meanwhile, "the /start waited for the lookup's query"
    assert "Oksana Lysenko" in text
    await index.building
    assert "Oksana Lysenko" in await found(sim, ivan, "lysenko")  # now from the index
