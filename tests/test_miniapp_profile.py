"""The Mini App's profile screen through the bot's real HTTP server: levels saved per tap and
seen at once by another member's /contact in chat, the previews against the README's sharing
table, the shares and their take-back, /mydata's data and "forget me", and forged or bad
requests refused with nothing stored.

The oracle is the README's table ("Contact directory and consent"):

    requester                              public  cluster  coordinators  private
    member, no confirmed cluster in common   ✓        –          –          –
    member of the same (confirmed) cluster   ✓        ✓          –          –
    cluster coordinator of the same cluster  ✓        ✓          ✓          –
    moderator                                ✓        ✓          ✓          –
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import httpx
import pytest

from config.loader import LoadedConfig
from moderation.contacts import GrantKind
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.contacts import ContactRepository
from storage.models import Contact, ContactGrant
from tests.miniapp import auth, init_data, served, sign
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
    "focal_point": "public",
}
COLUMNS = {
    "member": {"public"},
    "cluster": {"public", "cluster"},
    "coordinator": {"public", "cluster", "coordinators"},
    "moderator": {"public", "cluster", "coordinators"},
}


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    miniapp = config.settings.miniapp.model_copy(update={"url": APP_URL})
    settings = config.settings.model_copy(update={"miniapp": miniapp})
    return dataclasses.replace(config, settings=settings)


async def olena_listed(sim: Simulator) -> tuple[FakeUser, int]:
    olena = await member(sim, "Olena", "Koval")
    given: dict[str, Any] = {**OLENA, "clusters": ["Protection"]}
    cid = add_contact(sim, olena.id, **given)
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        contact.levels = ";".join(f"{k}={v}" for k, v in LEVELS.items())
        ContactRepository(session).assign_clusters(contact, ["Protection"], sim.clock.now())
    return olena, cid


def stored_levels(sim: Simulator, cid: int) -> str:
    with sim.services.db.transaction() as session:
        contact = session.get(Contact, cid)
        assert contact is not None
        return contact.levels


async def get_profile(sim: Simulator, client: httpx.AsyncClient, person: FakeUser) -> Any:
    response = await client.get("/app/api/profile", headers=auth(init_data(sim, person)))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def set_level(
    sim: Simulator, client: httpx.AsyncClient, person: FakeUser, field: str, level: str
) -> httpx.Response:
    return await client.post(
        "/app/api/profile/level",
        json={"field": field, "level": level},
        headers=auth(init_data(sim, person)),
    )


async def contact_card(sim: Simulator, person: FakeUser) -> str:
    mark = sim.mark()
    await sim.dm(person, "/contact unicef")
    return sim.unique_reply(mark, person.id).text


async def test_a_level_set_in_the_app_is_what_contact_in_chat_shows(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    async with served(sim) as client:
        assert "+380441234567" not in await contact_card(sim, ivan)  # private
        response = await set_level(sim, client, olena, "phone", "public")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["message"] == "Saved"
        assert {f["field"]: f["level"] for f in body["fields"]}["phone"] == "public"
        assert "phone=public" in stored_levels(sim, cid)
        assert "+380441234567" in await contact_card(sim, ivan)
        back = await set_level(sim, client, olena, "phone", "private")
        assert back.status_code == 200, back.text
        assert "+380441234567" not in await contact_card(sim, ivan)
        # The other details kept their levels; her consent is unchanged.
        assert stored_levels(sim, cid) == ";".join(f"{k}={v}" for k, v in sorted(LEVELS.items()))
    [contact] = [c for c in rows(sim, Contact) if c.id == cid]
    assert contact.consent == "given"


async def test_each_preview_is_its_column_of_the_table_and_own_values_are_listed(
    sim: Simulator,
) -> None:
    olena, _cid = await olena_listed(sim)
    async with served(sim) as client:
        body = await get_profile(sim, client, olena)
    assert body["entry"] is True and body["listed"] is True and body["notice"] == ""
    assert [(f["field"], f["value"], f["level"]) for f in body["fields"]] == [
        (f, OLENA.get(f, "no"), LEVELS[f]) for f in LEVELS
    ]
    assert [lv["level"] for lv in body["levels"]] == [
        "public",
        "cluster",
        "coordinators",
        "private",
    ]
    previews = {p["audience"]: p for p in body["previews"]}
    assert list(previews) == ["member", "cluster", "coordinator", "moderator"]
    for audience, column in COLUMNS.items():
        seen = {f["field"]: f["value"] for f in previews[audience]["fields"]}
        assert seen == {f: v for f, v in OLENA.items() if LEVELS[f] in column}, audience
        assert "+380441234567" not in str(previews[audience])  # private: nobody without a yes


async def test_an_unlisted_entry_previews_nothing_and_no_entry_is_said(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, consent="pending", name="Olena Koval", organisation="UNICEF")
    async with served(sim) as client:
        body = await get_profile(sim, client, olena)
        assert body["listed"] is False and "not listed" in body["notice"]
        assert all(p["fields"] == [] for p in body["previews"])
        none = await get_profile(sim, client, ivan)
        assert none["entry"] is False and "/profile" in none["notice"]
        refused = await set_level(sim, client, ivan, "phone", "public")
        assert refused.status_code == 409 and "/profile" in refused.json()["error"]
    assert [c.user_id for c in rows(sim, Contact)] == [olena.id]


async def test_a_share_is_listed_and_taken_back_as_in_chat(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    petro = await member(sim, "Petro", "Shevchenko")
    with sim.services.db.transaction() as session:
        ContactRepository(session).add_grant(
            ivan.id, cid, {"phone"}, GrantKind.CONSENT, olena.id, sim.clock.now()
        )
    [grant] = rows(sim, ContactGrant)
    assert "+380441234567" in await contact_card(sim, ivan)
    async with served(sim) as client:
        body = await get_profile(sim, client, olena)
        assert body["shares"] == [{"id": grant.id, "who": "Ivan Petrenko", "fields": "Phone"}]
        # Petro cannot take back Olena's share (it is not his): nothing changes.
        raw = init_data(sim, petro)
        theirs = await client.post(
            "/app/api/profile/revoke", json={"id": grant.id}, headers=auth(raw)
        )
        assert theirs.status_code == 409 and "not a sharing of yours" in theirs.json()["error"]
        assert "+380441234567" in await contact_card(sim, ivan)
        raw = init_data(sim, olena)
        done = await client.post(
            "/app/api/profile/revoke", json={"id": grant.id}, headers=auth(raw)
        )
        assert done.status_code == 200, done.text
        assert "Taken back" in done.json()["message"] and done.json()["shares"] == []
        again = await client.post(
            "/app/api/profile/revoke", json={"id": grant.id}, headers=auth(raw)
        )
        assert again.status_code == 409  # a replay
    assert "+380441234567" not in await contact_card(sim, ivan)
    [grant] = rows(sim, ContactGrant)
    assert grant.revoked_at is not None


async def test_my_data_is_mydata_as_text_and_forget_me_needs_the_confirmation(
    sim: Simulator,
) -> None:
    olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    await contact_card(sim, ivan)  # Ivan saw her card: /mydata says so
    await sim.dm(olena, "/mydata")
    chat = sim.last(olena.id).text
    async with served(sim) as client:
        body = await get_profile(sim, client, olena)
        titles = [s["title"] for s in body["data"]]
        for title in (
            "What the directory holds about you",
            "Who has seen your details",
            "People you agreed to share with",
            "What /forgetme keeps, and why",
        ):
            assert title in titles and title in chat
        text = "\n".join(line for s in body["data"] for line in s["lines"])
        assert "Ivan Petrenko" in text and "<b>" not in text
        assert "+380441234567" in text and "(private)" in text
        raw = init_data(sim, olena)
        for wrong in ({}, {"confirm": "yes"}, {"confirm": 1}):
            refused = await client.post("/app/api/profile/forget", json=wrong, headers=auth(raw))
            assert refused.status_code == 400 and "confirmation" in refused.json()["error"]
        assert [c.id for c in rows(sim, Contact)] == [cid]
        erased = await client.post(
            "/app/api/profile/forget", json={"confirm": True}, headers=auth(raw)
        )
        assert erased.status_code == 200, erased.text
        assert erased.json()["message"] == "Erased. Your contact data and consents are gone."
        assert erased.json()["entry"] is False
    assert rows(sim, Contact) == []
    await sim.dm(olena, "/mydata")
    assert "No contact entry." in sim.last(olena.id).text


async def test_forged_old_replayed_and_departed_requests_change_nothing(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    before = stored_levels(sim, cid)
    body = {"field": "phone", "level": "public"}
    async with served(sim) as client:
        bad_hmac = init_data(sim, olena).replace("hash=", "hash=0")[:-1]
        other_bot = sign(
            "999999:another-bots-token",
            {"id": olena.id, "first_name": "Olena"},
            sim.clock.now(),
        )
        old = init_data(sim, olena, timedelta(hours=2))
        for raw in (bad_hmac, other_bot, old):
            for response in (
                await client.get("/app/api/profile", headers=auth(raw)),
                await client.post("/app/api/profile/level", json=body, headers=auth(raw)),
                await client.post(
                    "/app/api/profile/forget", json={"confirm": True}, headers=auth(raw)
                ),
            ):
                assert response.status_code == 401, response.text
                assert "open the app again" in response.json()["error"]
                assert "+380441234567" not in response.text and "UNICEF" not in response.text
        assert stored_levels(sim, cid) == before
        # A genuine write, then the same request again: refused, the later change stands.
        raw = init_data(sim, olena)
        first = await client.post("/app/api/profile/level", json=body, headers=auth(raw))
        assert first.status_code == 200
        back = await set_level(sim, client, olena, "phone", "private")
        assert back.status_code == 200
        replay = await client.post("/app/api/profile/level", json=body, headers=auth(raw))
        assert replay.status_code == 409
        assert replay.json() == {"error": "This request was already sent."}
        assert "phone=private" in stored_levels(sim, cid)
        # Setting it again from the page is a new tap (a fresh nonce), not a replay.
        tap = await client.post(
            "/app/api/profile/level", json={**body, "nonce": "2"}, headers=auth(raw)
        )
        assert tap.status_code == 200 and "phone=public" in stored_levels(sim, cid)
        # Olena leaves the group: the same initData is refused at the next request.
        await sim.leave(olena)
        for response in (
            await client.get("/app/api/profile", headers=auth(raw)),
            await client.post(
                "/app/api/profile/level", json={**body, "level": "cluster"}, headers=auth(raw)
            ),
            await client.post("/app/api/profile/forget", json={"confirm": True}, headers=auth(raw)),
        ):
            assert response.status_code == 403
            assert "+380441234567" not in response.text
    assert "phone=public" in stored_levels(sim, cid)
    assert [c.id for c in rows(sim, Contact)] == [cid]


async def test_bad_input_gets_a_polite_400_in_the_persons_language(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    before = stored_levels(sim, cid)
    raw = init_data(sim, olena)
    async with served(sim) as client:
        for content in (
            b"not json",
            b"[]",
            b'{"field": "passport", "level": "public"}',
            b'{"field": "phone", "level": "everyone"}',
            b'{"field": "phone"}',
            b'{"field": ["phone"], "level": "public"}',
            b'{"field": "phone", "level": "public", "nonce": 5}',
        ):
            response = await client.post(
                "/app/api/profile/level",
                content=content,
                headers={**auth(raw), "Content-Type": "application/json"},
            )
            assert response.status_code == 400, content
            assert response.json() == {"error": "Expected a detail and a level."}
        for content in (b"nope", b'{"id": "1"}', b'{"id": true}'):
            response = await client.post(
                "/app/api/profile/revoke",
                content=content,
                headers={**auth(raw), "Content-Type": "application/json"},
            )
            assert response.status_code == 400
        await sim.dm(olena, "/language uk")
        ukrainian = await client.post(
            "/app/api/profile/level", content=b"{", headers=auth(init_data(sim, olena))
        )
        assert ukrainian.status_code == 400
        assert ukrainian.json()["error"] != "Expected a detail and a level."
    assert stored_levels(sim, cid) == before


async def test_open_buttons_under_profile_and_mydata_in_private_only(sim: Simulator) -> None:
    olena = await member(sim, "Olena", "Koval")
    for command in ("/profile", "/mydata"):
        mark = sim.mark()
        await sim.dm(olena, command)
        first = sim.since(mark, olena.id)[0 if command == "/profile" else -1]
        [button] = [b for b in first.buttons() if "web_app" in b]
        assert button["web_app"]["url"] == f"{APP_URL}?screen=profile"
    await sim.dm(olena, "/cancel")
    mark = sim.mark()
    await sim.say(olena, "/profile")  # in the group: a link to the private chat only
    assert all("web_app" not in b for m in sim.since(mark) for b in m.buttons())
