"""The Mini App's directory through the bot's real HTTP server, against a consent oracle written
from seed 004 ("Protection Cluster member contact information": not shared without consent;
put in touch only after the person says yes) and the README's sharing table:

    requester                              public  cluster  coordinators  private
    member, no confirmed cluster in common   ✓        –          –          –
    member of the same (confirmed) cluster   ✓        ✓          –          –
    moderator                                ✓        ✓          ✓          –

private only with the person's own yes; imported people who have not opted in are never shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

import pytest

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage import contact_index
from storage.contacts import ContactRepository
from storage.models import Contact, ContactLookup, ContactRequest, Disclosure
from tests.conftest import MODERATOR_ID
from tests.miniapp import auth, init_data, served
from tests.test_contact_index import held_build
from tests.test_contacts import add_contact, member, rows

APP_URL = "https://bot.example.org/app"

OLENA = {
    "name": "Olena Koval",
    "organisation": "UNICEF",
    "role": "WASH IMO",
    "clusters": "Protection",
    "location": "Odesa",
    "phone": "+380441234567",
    "email": "olena@unicef.org",
    "telegram": "@olena_k",
}
LEVELS = {
    "name": "public",
    "organisation": "public",
    "role": "public",
    "clusters": "public",
    "location": "cluster",
    "phone": "private",
    "email": "coordinators",
    "telegram": "cluster",
}
# The README's table, column by column.
COLUMNS = {
    "other cluster": {"public"},
    "same cluster": {"public", "cluster"},
    "moderator": {"public", "cluster", "coordinators"},
}


def expected(column: str, shared: frozenset[str] = frozenset()) -> dict[str, str]:
    """What the oracle says the card holds (the name apart)."""
    return {
        f: v
        for f, v in OLENA.items()
        if f != "name" and (LEVELS[f] in COLUMNS[column] or f in shared)
    }


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    miniapp = config.settings.miniapp.model_copy(update={"url": APP_URL})
    settings = config.settings.model_copy(update={"miniapp": miniapp})
    return dataclasses.replace(config, settings=settings)


def listed(sim: Simulator, user_id: int | None, confirmed: list[str], **values: str) -> int:
    given: dict[str, Any] = dict(values)
    if "clusters" in given:
        given["clusters"] = [c.strip() for c in values["clusters"].split(",")]
    cid = add_contact(sim, user_id, **given)
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.levels = ";".join(f"{k}={v}" for k, v in LEVELS.items())
        ContactRepository(session).assign_clusters(contact, confirmed, sim.clock.now())
    return cid


async def world(sim: Simulator) -> dict[str, Any]:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    petro = await member(sim, "Petro", "Shevchenko")
    cid = listed(sim, olena.id, ["Protection"], **OLENA)
    listed(sim, ivan.id, ["WASH"], name="Ivan Petrenko", organisation="IOM")
    listed(sim, petro.id, ["protection"], name="Petro Shevchenko", organisation="NRC")
    # Imported from a spreadsheet, never asked: invisible until they opt in (seed 004).
    hidden = add_contact(sim, None, consent="pending", name="Hanna Unicef", organisation="UNICEF")
    return {"olena": olena, "ivan": ivan, "petro": petro, "cid": cid, "hidden": hidden}


def card_of(body: dict[str, Any], cid: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in body["results"] if c["id"] == cid]
    assert len(found) == 1
    return found[0]


def values(card: dict[str, Any]) -> dict[str, str]:
    return {f["field"]: f["value"] for f in card["fields"]}


async def search(sim: Simulator, client: Any, person: FakeUser, q: str) -> dict[str, Any]:
    response = await client.get(
        "/app/api/directory", params={"q": q}, headers=auth(init_data(sim, person))
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def test_each_requester_sees_exactly_their_column_of_the_table(sim: Simulator) -> None:
    w = await world(sim)
    moderator = sim.telegram.users[MODERATOR_ID]
    async with served(sim) as client:
        for person, column in (
            (w["ivan"], "other cluster"),
            (w["petro"], "same cluster"),
            (moderator, "moderator"),
        ):
            body = await search(sim, client, person, "unicef")
            assert w["hidden"] not in [c["id"] for c in body["results"]], column
            card = card_of(body, w["cid"])
            assert card["name"] == "Olena Koval"
            assert values(card) == expected(column), column
            assert "+380441234567" not in str(body), column  # private: never without a yes
            assert card["can_ask"] is True  # something stays hidden from each of them
        own = card_of(await search(sim, client, w["olena"], "unicef"), w["cid"])
        assert values(own) == {f: v for f, v in OLENA.items() if f != "name"}
        assert own["can_ask"] is False  # your own entry
    # The same audit as /contact: each search a lookup, each card shown a disclosure.
    assert len(rows(sim, ContactLookup)) == 4
    shown = [d for d in rows(sim, Disclosure) if d.contact_id == w["cid"]]
    assert {d.channel for d in shown} == {"lookup"} and len(shown) == 4


async def test_phone_and_email_are_not_searchable_and_labels_follow_the_language(
    sim: Simulator,
) -> None:
    w = await world(sim)
    async with served(sim) as client:
        for q in ("+380441234567", "olena@unicef.org"):
            response = await client.get(
                "/app/api/directory", params={"q": q}, headers=auth(init_data(sim, w["petro"]))
            )
            assert response.status_code in (200, 400)
            assert "Olena" not in response.text
        await sim.dm(w["petro"], "/language uk")
        body = await search(sim, client, w["petro"], "unicef")
        labels = {f["field"]: f["label"] for f in card_of(body, w["cid"])["fields"]}
        assert labels["organisation"] == "Організація"
        me = await client.get("/app/api/me", headers=auth(init_data(sim, w["petro"])))
        assert (me.json()["language"], me.json()["dir"]) == ("uk", "ltr")


async def test_ask_through_the_app_is_the_chat_ask_and_a_share_opens_the_phone(
    sim: Simulator,
) -> None:
    w = await world(sim)
    olena, ivan = w["olena"], w["ivan"]
    async with served(sim) as client:
        mark = sim.mark()
        raw = init_data(sim, ivan)
        response = await client.post(
            "/app/api/ask",
            json={"id": w["cid"], "note": "About WASH <b>kits</b> in Odesa"},
            headers=auth(raw),
        )
        assert response.status_code == 200, response.text
        [question] = sim.since(mark, olena.id)
        assert "Ivan Petrenko" in question.text and "asks to be put in touch" in question.text
        assert "&lt;b&gt;kits&lt;/b&gt;" in question.html  # typed text is never markup
        assert len(rows(sim, ContactRequest)) == 1
        # A second ask while the first waits: the same refusal as /ask gives.
        again = await client.post(
            "/app/api/ask", json={"id": w["cid"], "note": "again"}, headers=auth(raw)
        )
        assert again.status_code == 409
        assert "already asked" in again.json()["error"]
        assert len(rows(sim, ContactRequest)) == 1
        await sim.press(olena, question, "Phone")  # tick the phone on
        question = sim.last(olena.id)
        await sim.press(olena, question, "Share with this person")
        body = await search(sim, client, ivan, "unicef")
        shared = values(card_of(body, w["cid"]))
        # Her yes: the default name, organisation, Telegram, plus the phone she ticked.
        assert shared == expected("other cluster", frozenset({"telegram", "phone"}))
        assert "email" not in shared and "location" not in shared


async def test_open_buttons_in_private_and_the_menu_button(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    assert sim.telegram.menu_buttons[0]["type"] == "web_app"
    assert sim.telegram.menu_buttons[0]["web_app"]["url"] == APP_URL
    mark = sim.mark()
    await sim.dm(olena, "/start")
    start = sim.unique_reply(mark, olena.id)
    [button] = [b for b in start.buttons() if "web_app" in b]
    assert button["web_app"]["url"] == APP_URL
    await sim.dm(olena, "/language ar")
    mark = sim.mark()
    await sim.dm(olena, "/contact unicef")
    reply = sim.unique_reply(mark, olena.id)
    [button] = [b for b in reply.buttons() if "web_app" in b]
    assert button["web_app"]["url"] == f"{APP_URL}?lang=ar"
    mark = sim.mark()
    await sim.say(olena, "/contact unicef")  # in the group: no web_app button there
    assert all("web_app" not in b for m in sim.since(mark) for b in m.buttons())


async def test_a_bare_or_refused_contact_in_private_carries_the_open_button(
    sim: Simulator,
) -> None:
    olena = await member(sim, "Olena", "Koval")
    for text in ("/contact", "/contact ab", "/contact " + "x" * 400):
        mark = sim.mark()
        await sim.dm(olena, text)
        reply = sim.unique_reply(mark, olena.id)
        assert "Example" in reply.text, text
        [button] = [b for b in reply.buttons() if "web_app" in b]
        assert button["web_app"]["url"] == APP_URL, text
    mark = sim.mark()
    await sim.say(olena, "/contact")  # in the group: no web_app button there
    await sim.say(olena, "/contact ab")
    assert all("web_app" not in b for m in sim.since(mark) for b in m.buttons())


async def test_without_miniapp_url_no_buttons(sim: Simulator, config: LoadedConfig) -> None:
    settings = config.settings.model_copy(
        update={"miniapp": config.settings.miniapp.model_copy(update={"url": None})}
    )
    sim.services.config = dataclasses.replace(config, settings=settings)
    olena = await member(sim, "Olena", "Koval")
    mark = sim.mark()
    await sim.dm(olena, "/start")
    await sim.dm(olena, "/contact unicef")
    await sim.dm(olena, "/contact")
    await sim.dm(olena, "/contact ab")
    assert all("web_app" not in b for m in sim.since(mark) for b in m.buttons())


@pytest.fixture
def roomy(config: LoadedConfig) -> LoadedConfig:
    """No search limit in the way of many searches."""
    contacts = config.settings.contacts
    rate = contacts.lookup_rate.model_copy(update={"count": 10_000})
    policy = contacts.model_copy(update={"lookup_rate": rate})
    settings = config.settings.model_copy(update={"contacts": policy})
    return dataclasses.replace(config, settings=settings)


LEVEL_NAMES = ("public", "cluster", "coordinators", "private")


@pytest.mark.parametrize("seed", range(6))
async def test_the_app_and_contact_in_chat_agree_with_the_table_for_any_levels(
    roomy: LoadedConfig, seed: int
) -> None:
    """Random sharing levels for every field of Olena's entry; for each requester, what the app
    returns and what /contact shows are the same fields, and exactly the table's."""
    draw = random.Random(seed)
    async with Simulator(roomy, FakeClock()) as sim:
        w = await world(sim)
        moderator = sim.telegram.add_user("Mira", "Moderator", user_id=MODERATOR_ID)
        sim.telegram.started.add(MODERATOR_ID)
        async with served(sim) as client:
            for _round in range(3):
                levels = {f: draw.choice(LEVEL_NAMES) for f in OLENA}
                with sim.services.db.transaction() as session:
                    contact = session.get(Contact, w["cid"])
                    assert contact is not None
                    contact.levels = ";".join(f"{k}={v}" for k, v in levels.items())
                for person, column in (
                    (w["ivan"], "other cluster"),
                    (w["petro"], "same cluster"),
                    (moderator, "moderator"),
                ):
                    seen = {f for f in OLENA if levels[f] in COLUMNS[column]}
                    body = await search(sim, client, person, "unicef")
                    mark = sim.mark()
                    await sim.dm(person, "/contact unicef")
                    chat = sim.unique_reply(mark, person.id).text
                    ids = [c["id"] for c in body["results"]]
                    if "organisation" not in seen:  # nothing they may see matches "unicef"
                        assert w["cid"] not in ids and "Olena Koval" not in chat, levels
                        continue
                    card = card_of(body, w["cid"])
                    shown = set(values(card)) | ({"name"} if card["name"] else set())
                    assert shown == seen, (column, levels)
                    in_chat = {f for f, v in OLENA.items() if v in chat}
                    assert in_chat == seen, (column, levels, chat)


async def test_results_come_a_page_at_a_time_and_only_shown_cards_are_recorded(
    sim: Simulator,
) -> None:
    w = await world(sim)
    for n in range(6):  # with Olena, seven UNICEF entries: pages of five (contacts.page_size)
        add_contact(sim, None, name=f"Colleague {n}", organisation="UNICEF")
    async with served(sim) as client:
        first = await search(sim, client, w["ivan"], "unicef")
        assert (first["total"], first["page"], first["pages"]) == (7, 1, 2)
        assert len(first["results"]) == 5
        assert first["summary"] == "7 found (page 1/2)"
        # The next page reuses the first search's lookup, as the chat's page buttons do.
        response = await client.get(
            "/app/api/directory",
            params={"lookup": str(first["lookup"]), "page": "2"},
            headers=auth(init_data(sim, w["ivan"])),
        )
        second = response.json()
        assert (second["page"], len(second["results"])) == (2, 2)
        assert second["lookup"] == first["lookup"]
        ids = {c["id"] for c in first["results"]} | {c["id"] for c in second["results"]}
        assert len(ids) == 7
        beyond = await client.get(
            "/app/api/directory",
            params={"lookup": str(first["lookup"]), "page": "99"},
            headers=auth(init_data(sim, w["ivan"])),
        )
        assert beyond.json()["page"] == 2  # the last page, as in chat
    assert len(rows(sim, ContactLookup)) == 1  # one search, however many pages
    assert len(rows(sim, Disclosure)) == 5 + 2 + 2


async def test_paging_does_not_count_toward_the_limit_and_a_forged_lookup_is_refused(
    sim: Simulator,
) -> None:
    w = await world(sim)
    for n in range(6):
        add_contact(sim, None, name=f"Colleague {n}", organisation="UNICEF")
    count = sim.services.settings.contacts.lookup_rate.count
    async with served(sim) as client:
        petro = auth(init_data(sim, w["petro"]))
        mine = await search(sim, client, w["ivan"], "unicef")
        for _n in range(count - 1):  # up to the limit: this search plus count - 1 more
            await search(sim, client, w["ivan"], "protection")
        over = await client.get(
            "/app/api/directory", params={"q": "unicef"}, headers=auth(init_data(sim, w["ivan"]))
        )
        assert over.status_code == 429
        for page in ("2", "1", "2"):  # paging the first search still works: not a new search
            response = await client.get(
                "/app/api/directory",
                params={"lookup": str(mine["lookup"]), "page": page},
                headers=auth(init_data(sim, w["ivan"])),
            )
            assert response.status_code == 200, response.text
            assert response.json()["page"] == int(page)
        assert len([r for r in rows(sim, ContactLookup) if r.user_id == w["ivan"].id]) == count
        # Petro forges Ivan's lookup id (and one that does not exist): the same refusal,
        # nothing of Ivan's search (its query, its results) in it, nothing recorded.
        shown = len(rows(sim, Disclosure))
        forged = [
            await client.get(
                "/app/api/directory", params={"lookup": lookup, "page": "1"}, headers=petro
            )
            for lookup in (str(mine["lookup"]), "999999", "x1", "")
        ]
        assert [r.status_code for r in forged] == [403] * 4
        assert len({r.text for r in forged}) == 1
        assert "unicef" not in forged[0].text.casefold() and "Olena" not in forged[0].text
        assert forged[0].json() == {"error": "This search is not yours."}
        assert len(rows(sim, Disclosure)) == shown
        assert not [r for r in rows(sim, ContactLookup) if r.user_id == w["petro"].id]
        # Someone who left: their own earlier search no longer pages, as in chat.
        await sim.leave(w["ivan"])
        gone = await client.get(
            "/app/api/directory",
            params={"lookup": str(mine["lookup"]), "page": "2"},
            headers=auth(init_data(sim, w["ivan"])),
        )
        assert gone.status_code in (403, 401), gone.text
        assert "Colleague" not in gone.text


async def test_during_an_index_build_the_app_shows_the_same_columns(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the in-memory index is rebuilt, the page comes from the database's own index in a
    worker thread: the same cards and the same consent columns as from the index."""
    w = await world(sim)
    listed(sim, None, ["Shelter"], name="Maria Unicef", organisation="UNICEF")  # 4 consented
    moderator = sim.telegram.users[MODERATOR_ID]
    with sim.services.db.transaction() as session:
        index = contact_index.index_for(session)
    async with served(sim) as client:
        before = {
            p.id: await search(sim, client, p, "unicef") for p in (w["ivan"], w["petro"], moderator)
        }
        assert index.building is not None
        await index.building
        index.stale = True  # as after another process's change the log cannot replay
        started, go = held_build(monkeypatch)
        try:
            for person, column in (
                (w["ivan"], "other cluster"),
                (w["petro"], "same cluster"),
                (moderator, "moderator"),
            ):
                body = await search(sim, client, person, "unicef")
                await asyncio.to_thread(started.wait, 5)
                assert started.is_set() and not index.building.done(), "not during a build"
                assert body["results"] == before[person.id]["results"], column
                assert values(card_of(body, w["cid"])) == expected(column), column
                assert w["hidden"] not in [c["id"] for c in body["results"]], column
        finally:
            go.set()
    await index.building
