"""The directory's change log (``contact_changes``): an index left behind by another process's
writes catches up by reloading just the logged contacts; too many changes, or a pruned log, and
it rebuilds as before. Lookups are right either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from moderation.contacts import search_key
from simulation.simulator import Simulator
from storage import contact_index
from storage.contact_index import ContactIndex
from storage.contacts import ContactRepository, ContactValues
from storage.contacts.repository import CANDIDATES
from storage.db import Database
from storage.models import Contact, ContactChange
from tests.test_contact_index import brute_force
from tests.test_contacts import add_contact


@contextmanager
def other_process(sim: Simulator) -> Iterator[Session]:
    """A transaction of another process: its own engine on the same database, no shared index."""
    other = Database(sim.services.config.database_url)
    try:
        with other.transaction() as session:
            yield session
    finally:
        other.dispose()


def lookup(sim: Simulator, query: str) -> list[str]:
    """This process's candidates for ``query``, checked against the SQL ranking over every row."""
    key = search_key(query)
    with sim.services.db.transaction() as session:
        repo = ContactRepository(session)
        fast = [c.name for c in repo.search_candidates(key)]
        assert fast == [c.name for c in repo.scan_candidates(key)], query
        return fast


async def built_index(sim: Simulator) -> ContactIndex:
    """This process's index, built from the table and current."""
    lookup(sim, "anything")  # the first lookup starts the build
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    assert index.building is not None
    await index.building
    lookup(sim, "anything")
    assert not index.stale and not index.dirty
    return index


def edit(session: Session, name: str, change: Callable[[ContactRepository, Contact], None]) -> None:
    contact = session.scalars(select(Contact).where(Contact.name == name)).one()
    change(ContactRepository(session), contact)


async def test_another_process_s_changes_are_caught_up_without_a_rebuild(sim: Simulator) -> None:
    now = sim.clock.now()
    for name in ("Olena Koval", "Ivan Koval", "Petro Koval", "Oksana Bondar"):
        add_contact(sim, None, name=name, organisation="UNICEF")
    index = await built_index(sim)
    rebuilds, building, version = index.rebuilds, index.building, index.version
    assert lookup(sim, "koval") == ["Olena Koval", "Ivan Koval", "Petro Koval"]

    with other_process(sim) as session:  # a new person
        ContactRepository(session).save_profile(
            424242, ContactValues(name="Maria Koval", organisation="WFP"), {}, now
        )
    assert lookup(sim, "koval") == ["Olena Koval", "Ivan Koval", "Petro Koval", "Maria Koval"]

    def rename(repo: ContactRepository, contact: Contact) -> None:
        repo.apply(contact, ContactValues(name="Olena Bondar", organisation="UNICEF"), now)

    with other_process(sim) as session:  # a new name
        edit(session, "Olena Koval", rename)
    assert lookup(sim, "koval") == ["Ivan Koval", "Petro Koval", "Maria Koval"]
    assert lookup(sim, "bondar") == ["Olena Bondar", "Oksana Bondar"]  # ties by id

    with other_process(sim) as session:  # consent withdrawn
        edit(session, "Ivan Koval", lambda repo, c: repo.set_consent(c, False, now))
    assert lookup(sim, "koval") == ["Petro Koval", "Maria Koval"]

    with other_process(sim) as session:  # erased: logged although its row is gone
        petro = session.scalars(select(Contact).where(Contact.name == "Petro Koval")).one()
        session.delete(petro)
        session.flush()
        texts = session.scalars(
            select(ContactChange.before).where(ContactChange.contact_id == petro.id)
        )
        assert set(texts) == {None}  # none of their texts stays in the log
    assert lookup(sim, "koval") == ["Maria Koval"]

    # Interleaved: another process, then this one, then a lookup (this process's own note
    # finds the gap and leaves it to the log).
    with other_process(sim) as session:
        edit(session, "Ivan Koval", lambda repo, c: repo.set_consent(c, True, now))
    add_contact(sim, None, name="Taras Koval")
    assert lookup(sim, "koval") == ["Ivan Koval", "Maria Koval", "Taras Koval"]
    assert not index.stale
    assert index.rebuilds == rebuilds and index.building is building  # never rebuilt
    assert index.version is not None and version is not None and index.version > version


async def test_the_log_holds_each_change_with_its_text_before(sim: Simulator) -> None:
    cid = add_contact(sim, None, name="Olena Koval")
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        ContactRepository(session).apply(contact, ContactValues(name="Olena Bondar"), now)

    def logged() -> list[str | None]:
        with sim.services.db.transaction() as session:
            return list(
                session.scalars(
                    select(ContactChange.before)
                    .where(ContactChange.contact_id == cid)
                    .order_by(ContactChange.version)
                )
            )

    befores = logged()
    assert befores[0] == "" and befores[-1] == "olena koval"  # new, then renamed
    with sim.services.db.transaction() as session:
        session.delete(session.get(Contact, cid))
    # Erased: no text of theirs stays in the log (one row more: the erasure itself).
    assert logged() == [None] * (len(befores) + 1)


async def test_more_changes_than_the_log_replays_rebuild(sim: Simulator) -> None:
    add_contact(sim, None, name="Olena Koval")
    index = await built_index(sim)
    rebuilds = index.rebuilds
    now = sim.clock.now()
    with other_process(sim) as session:  # 201 contacts, one transaction
        repo = ContactRepository(session)
        for i in range(contact_index.CATCH_UP_CONTACTS + 1):
            repo.save_profile(10_000 + i, ContactValues(name=f"Hanna Koval{i:03}"), {}, now)
    found = lookup(sim, "koval")  # from the database's gram index while it rebuilds
    assert index.rebuilds == rebuilds + 1
    assert index.building is not None
    assert len(found) == CANDIDATES and "Olena Koval" in found
    await index.building
    assert lookup(sim, "koval0")[:100] == [f"Hanna Koval{i:03}" for i in range(100)]
    assert lookup(sim, "olena")[0] == "Olena Koval"
    assert not index.stale and index.rebuilds == rebuilds + 1


async def test_a_pruned_log_rebuilds(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    add_contact(sim, None, name="Olena Koval")
    index = await built_index(sim)
    rebuilds = index.rebuilds
    with other_process(sim) as session:
        ContactRepository(session).save_profile(
            424242, ContactValues(name="Maria Koval"), {}, sim.clock.now()
        )
    with other_process(sim) as session:
        edit(session, "Maria Koval", lambda repo, c: repo.set_consent(c, False, sim.clock.now()))
    monkeypatch.setattr(contact_index, "LOG_KEPT", 1)  # keeps the last version only: a gap
    with sim.services.db.transaction() as session:
        assert contact_index.prune_log(session) > 0
        kept = session.scalars(select(ContactChange.version).distinct()).all()
        assert kept == [contact_index.current_version(session)]
    assert lookup(sim, "koval") == ["Olena Koval"]
    assert index.rebuilds == rebuilds + 1
    assert index.building is not None
    await index.building
    assert lookup(sim, "koval") == ["Olena Koval"] and not index.stale


async def test_an_unknown_before_is_taken_out_by_id(sim: Simulator) -> None:
    for name in ("Olena Koval", "Ivan Koval", "Petro Koval"):
        add_contact(sim, None, name=name)
    index = await built_index(sim)
    rebuilds = index.rebuilds

    def rename(repo: ContactRepository, contact: Contact) -> None:
        repo.apply(contact, ContactValues(name="Olena Bondar"), sim.clock.now())

    with other_process(sim) as session:
        edit(session, "Olena Koval", rename)
        session.flush()
        session.execute(  # as a flush that could not tell the text before
            update(ContactChange)
            .where(ContactChange.version > (index.version or 0))
            .values(before=None)
        )
    assert lookup(sim, "koval") == ["Ivan Koval", "Petro Koval"]
    assert lookup(sim, "bondar") == ["Olena Bondar"]
    assert index.rebuilds == rebuilds


def test_taking_out_by_id_leaves_the_others_as_they_were() -> None:
    texts = {i: f"name{i % 7} org{i % 3} place{i}" for i in range(1, 400)}
    index = ContactIndex()
    index.rebuild(sorted(texts.items()), version=1)
    gone = {3, 17, 250, 399, 1000}  # 1000: never indexed
    index._remove_unknown(gone)
    left = {i: t for i, t in texts.items() if i not in gone}
    assert index.present == sum(1 << i for i in left)
    for grams in (["e3"], ["g1"], ["pla", "ce2"], ["e39", "me3", "rg0"], ["25"]):
        assert index.candidates(grams, 500) == brute_force(left, grams, 500), grams


async def test_an_import_of_pending_entries_is_a_marker_only(sim: Simulator) -> None:
    from moderation.contacts import parse_contacts_csv
    from storage.contacts import import_contacts

    add_contact(sim, None, name="Olena Koval")
    index = await built_index(sim)
    rebuilds = index.rebuilds
    parsed = parse_contacts_csv(b"name,organisation\nPavlo Koval,IOM\n", 10_000, None)
    with other_process(sim) as session:
        import_contacts(session, parsed.rows, sim.clock.now(), apply=True)
        version = contact_index.current_version(session)
        assert session.scalars(
            select(ContactChange.contact_id).where(ContactChange.version == version)
        ).all() == [contact_index.UNINDEXED]
    assert lookup(sim, "koval") == ["Olena Koval"]
    assert index.rebuilds == rebuilds and index.version == version


async def test_the_contact_index_sweep_prunes_the_log(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers.contacts import warm_index

    for name in ("Olena Koval", "Ivan Koval", "Petro Koval"):
        add_contact(sim, None, name=name)
    monkeypatch.setattr(contact_index, "LOG_KEPT", 2)
    await warm_index(sim.app)
    with sim.services.db.transaction() as session:
        current = contact_index.current_version(session)
        kept = session.scalars(select(ContactChange.version).distinct()).all()
    assert sorted(kept) == [current - 1, current]  # the newest two versions
    assert lookup(sim, "koval") == ["Olena Koval", "Ivan Koval", "Petro Koval"]
