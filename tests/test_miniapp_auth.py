"""Forged and stale identities against the Mini App on the bot's real HTTP server: each is
refused, nothing is recorded or changed, and the answer discloses nothing about anyone.

Oracles: Telegram's documentation of initData (signed with the bot's token; auth_date checked
against a window, here the default ``miniapp.max_age`` of 1 hour), the README's directory rules
(members only, live role and membership at each request)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from simulation.faketg import FakeMember, FakeUser
from simulation.http import FakeTelegramServer
from simulation.simulator import Simulator
from storage.models import ContactLookup, ContactRequest, Disclosure, MiniAppWrite
from tests.conftest import GROUP_ID as PROCESS_GROUP
from tests.miniapp import auth, init_data, served, sign
from tests.processes import TOKEN as PROCESS_TOKEN
from tests.processes import BotProcess, wait_for, write_config
from tests.test_contacts import add_contact, member, rows

PRIVATE_BITS = ("Olena", "Koval", "UNICEF", "+380441234567", "olena@unicef.org")


def nothing_recorded(sim: Simulator) -> None:
    assert rows(sim, ContactLookup) == []
    assert rows(sim, Disclosure) == []
    assert rows(sim, ContactRequest) == []


def discloses_nothing(response: httpx.Response) -> None:
    for bit in PRIVATE_BITS:
        assert bit not in response.text, bit


async def every_endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], contact_id: int
) -> list[httpx.Response]:
    return [
        await client.get("/app/api/me", headers=headers),
        await client.get("/app/api/directory", params={"q": "unicef"}, headers=headers),
        await client.post("/app/api/ask", json={"id": contact_id, "note": "hi"}, headers=headers),
    ]


async def olena_listed(sim: Simulator) -> tuple[Any, int]:
    olena = await member(sim, "Olena", "Koval")
    cid = add_contact(
        sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567"
    )
    return olena, cid


def reauthenticate(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert "open the app again" in response.json()["error"]
    discloses_nothing(response)


async def test_forged_signatures_are_refused_with_nothing_recorded(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    now = sim.clock.now()
    user = {"id": ivan.id, "first_name": "Ivan"}
    mark = sim.mark()
    async with served(sim) as client:
        forged = [
            sign("999999:another-bots-token", user, now),  # signed with another bot's token
            "user=%7B%22id%22%3A1%7D&auth_date=1&hash=" + "0" * 64,
            "garbage",
        ]
        # Ivan's genuine initData with the user swapped for Olena's: the signature breaks.
        fields = dict(parse_qsl(init_data(sim, ivan)))
        fields["user"] = fields["user"].replace(str(ivan.id), str(olena.id))
        forged.append(urlencode(fields, quote_via=quote))
        for raw in forged:
            for response in await every_endpoint(client, auth(raw), cid):
                reauthenticate(response)
        for headers in ({}, {"Authorization": f"Bearer {init_data(sim, ivan)}"}):
            for response in await every_endpoint(client, headers, cid):
                reauthenticate(response)
    nothing_recorded(sim)
    assert sim.since(mark, olena.id) == []


async def test_old_and_future_auth_dates_are_refused(sim: Simulator) -> None:
    _olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    async with served(sim) as client:
        for age in (timedelta(hours=1, seconds=1), timedelta(days=2), -timedelta(minutes=5)):
            for response in await every_endpoint(client, auth(init_data(sim, ivan, age)), cid):
                reauthenticate(response)
        nothing_recorded(sim)
        # Within the hour it is accepted; the same initData an hour later no more.
        raw = init_data(sim, ivan, timedelta(minutes=59))
        assert (await client.get("/app/api/me", headers=auth(raw))).status_code == 200
        await sim.advance(timedelta(minutes=2))
        reauthenticate(await client.get("/app/api/me", headers=auth(raw)))


async def test_a_replayed_write_is_refused_and_another_write_is_not(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    petro = await member(sim, "Petro", "Shevchenko")
    other = add_contact(
        sim, petro.id, name="Petro Shevchenko", organisation="UNICEF", phone="+380441234568"
    )
    ivan = await member(sim, "Ivan", "Petrenko")
    raw = init_data(sim, ivan)
    mark = sim.mark()
    async with served(sim) as client:
        body = {"id": cid, "note": "WASH kits in Odesa"}
        first = await client.post("/app/api/ask", json=body, headers=auth(raw))
        assert first.status_code == 200, first.text
        for _replay in range(2):
            replay = await client.post("/app/api/ask", json=body, headers=auth(raw))
            assert replay.status_code == 409
            assert replay.json() == {"error": "This request was already sent."}
        # Another write with the same initData (another person) is not a replay.
        second = await client.post(
            "/app/api/ask", json={"id": other, "note": ""}, headers=auth(raw)
        )
        assert second.status_code == 200, second.text
    assert len(rows(sim, ContactRequest)) == 2
    assert len(sim.since(mark, olena.id)) == 1  # one question to Olena, not three
    assert len(sim.since(mark, petro.id)) == 1
    assert all(re.fullmatch(r"[0-9a-f]{64}", w.key) for w in rows(sim, MiniAppWrite))


async def test_non_members_are_refused_and_a_member_who_left_at_the_next_request(
    sim: Simulator,
) -> None:
    olena, cid = await olena_listed(sim)
    stranger = sim.user("Stranger", "Outside")
    sim.telegram.started.add(stranger.id)
    await sim.dm(stranger, "/start")
    ivan = await member(sim, "Ivan", "Petrenko")
    mark = sim.mark()
    async with served(sim) as client:
        for response in await every_endpoint(client, auth(init_data(sim, stranger)), cid):
            assert response.status_code == 403
            assert response.json() == {"error": "The directory is for members of the group."}
            discloses_nothing(response)
        nothing_recorded(sim)
        raw = init_data(sim, ivan)
        ok = await client.get("/app/api/directory", params={"q": "unicef"}, headers=auth(raw))
        assert ok.status_code == 200 and "Olena Koval" in ok.text
        await sim.leave(ivan)
        lookups = len(rows(sim, ContactLookup))
        for response in await every_endpoint(client, auth(raw), cid):
            assert response.status_code == 403
            discloses_nothing(response)
    assert len(rows(sim, ContactLookup)) == lookups
    assert rows(sim, ContactRequest) == []
    assert sim.since(mark, olena.id) == []


async def test_a_demoted_admin_loses_the_moderator_view_with_the_same_initdata(
    sim: Simulator,
) -> None:
    _olena, cid = await olena_listed(sim)
    with sim.services.db.transaction() as session:
        from storage.models import Contact

        contact = session.get(Contact, cid)
        assert contact is not None
        contact.email = "olena@unicef.org"  # coordinators' level by default
    olha = sim.user("Olha", "Admin", "olha_a")
    sim.group.members[olha.id] = FakeMember("administrator")
    sim.telegram.started.add(olha.id)
    await sim.say(olha, "Morning all")
    await sim.advance(timedelta(minutes=10))  # the admin list is read again
    raw = init_data(sim, olha, timedelta(seconds=1))
    async with served(sim) as client:
        me = await client.get("/app/api/me", headers=auth(raw))
        assert me.json()["moderator"] is True
        seen = await client.get("/app/api/directory", params={"q": "unicef"}, headers=auth(raw))
        assert "olena@unicef.org" in seen.text
        sim.group.members[olha.id] = FakeMember("member")  # demoted; no update reaches the bot
        me = await client.get("/app/api/me", headers=auth(raw))
        assert me.json()["moderator"] is False
        seen = await client.get("/app/api/directory", params={"q": "unicef"}, headers=auth(raw))
        assert seen.status_code == 200 and "olena@unicef.org" not in seen.text


async def test_bad_input_gets_a_polite_answer_and_nothing_stored(sim: Simulator) -> None:
    olena, cid = await olena_listed(sim)
    ivan = await member(sim, "Ivan", "Petrenko")
    raw = init_data(sim, ivan)
    async with served(sim) as client:
        short = await client.get("/app/api/directory", params={"q": "ab"}, headers=auth(raw))
        assert short.status_code == 400 and "3" in short.json()["error"]
        for body in (b"not json", b"[]", b'{"id": "7"}', b'{"id": true}', b'{"id": 1, "note": 5}'):
            response = await client.post(
                "/app/api/ask",
                content=body,
                headers={**auth(raw), "Content-Type": "application/json"},
            )
            assert response.status_code == 400
            assert response.json() == {"error": "Expected the directory entry's number and a note."}
        long_note = await client.post(
            "/app/api/ask", json={"id": cid, "note": "<i>x</i>" * 100}, headers=auth(raw)
        )
        assert long_note.status_code == 400
        assert "<i>" not in long_note.text and "Nothing was sent" in long_note.json()["error"]
        huge = await client.post(
            "/app/api/ask", json={"id": cid, "note": "x" * 5000}, headers=auth(raw)
        )
        assert huge.status_code == 413
        unknown = await client.post("/app/api/ask", json={"id": 999999}, headers=auth(raw))
        assert unknown.status_code == 409
        assert "cannot be contacted" in unknown.json()["error"]
    assert rows(sim, ContactRequest) == []
    assert sim.since(0, olena.id) == [] or all(
        "asks to be put in touch" not in m.text for m in sim.since(0, olena.id)
    )


async def test_the_page_its_policy_and_languages(sim: Simulator) -> None:
    assert sim.telegram.menu_buttons[0] == {"type": "default"}  # no miniapp.url: no app
    async with served(sim) as client:
        page = await client.get("/app")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self' https://telegram.org" in policy
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert '<html lang="en" dir="ltr">' in page.text
        assert 'src="app/static/miniapp.js"' in page.text
        assert 'src="https://telegram.org/js/telegram-web-app.js"' in page.text
        arabic = await client.get("/app/", params={"lang": "ar"})
        assert '<html lang="ar" dir="rtl">' in arabic.text
        assert 'src="static/miniapp.js"' in arabic.text
        assert ">البحث<" in arabic.text and ">الدليل<" in arabic.text
        hostile = await client.get("/app", params={"lang": '"><script>alert(1)</script>'})
        assert "alert(1)" not in hostile.text and '<html lang="en"' in hostile.text
        script = await client.get("/app/static/miniapp.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "innerHTML" not in script.text  # values go in as text only
        assert (await client.get("/app/static/miniapp.css")).status_code == 200
        assert (await client.get("/app/static/other.js")).status_code == 404
        assert (await client.post("/app/api/me")).status_code == 405


def test_a_real_imbot_run_serves_the_app_and_sets_the_menu_button(
    database_url: str, tmp_path: Path, server: FakeTelegramServer
) -> None:
    """The routes as `imbot run` wires them. A real process reads the system clock, so the
    initData is signed with that same clock (as Telegram's would be)."""
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Koval", "olena_k", user_id=7_200_001)
    stranger = telegram.add_user("Stranger", "Outside", user_id=7_200_002)
    telegram.groups[PROCESS_GROUP].members[olena.id] = FakeMember("member")
    extra: dict[str, object] = {"miniapp": {"url": "https://bot.example.org/app", "max_age": "10m"}}
    bot = BotProcess(
        "a", write_config(tmp_path, "30s", extra), database_url, server.url(), tmp_path
    )
    try:
        base = f"http://127.0.0.1:{bot.http_port()}"
        wait_for(lambda: "receives updates" in bot.output(), 30, "polling to start")
        button = telegram.menu_buttons.get(0, {})
        assert button.get("type") == "web_app", button
        assert button["web_app"]["url"] == "https://bot.example.org/app"
        server.push_update(telegram.message(olena.id, PROCESS_GROUP, "hello"))

        def signed(user: FakeUser, token: str = PROCESS_TOKEN) -> dict[str, str]:
            who = {"id": user.id, "first_name": user.first_name}
            return auth(sign(token, who, datetime.now(UTC)))

        with httpx.Client(base_url=base, timeout=10) as client:
            page = client.get("/app")
            assert page.status_code == 200
            assert (
                "script-src 'self' https://telegram.org" in page.headers["content-security-policy"]
            )

            def olena_known() -> bool:
                return client.get("/app/api/me", headers=signed(olena)).status_code == 200

            wait_for(olena_known, 30, "Olena to be known as a member")
            assert client.get("/app/api/me", headers=signed(stranger)).status_code == 403
            forged = client.get("/app/api/me", headers=signed(olena, "999:another-bot"))
            assert forged.status_code == 401
            found = client.get("/app/api/directory", params={"q": "unicef"}, headers=signed(olena))
            assert (found.status_code, found.json()["total"]) == (200, 0)
        assert "Olena" not in bot.output() and str(olena.id) not in bot.output()
    finally:
        bot.stop_quietly()
