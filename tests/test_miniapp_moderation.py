"""The Mini App's moderators' screen through the bot's real HTTP server, against what the chat
shows: the roster as /members says it (and its CSV, sent to the chat or downloaded once by a
link), the filters' data, /audit and /missing (README "Moderators' screen"). Deciding join
requests and held newcomers: tests/test_miniapp_moderation_decisions.py; who is refused:
tests/test_miniapp_moderation_access.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.models import MiniAppDownload
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.miniapp import auth, init_data, served, sign
from tests.miniapp_moderation_support import (
    API,
    APP_URL,
    a_newcomer_introduced,
    config,
    mira,
    two_groups,
)
from tests.test_contacts import rows
from tests.test_deadlines import partner
from tests.test_joins import veteran
from tests.test_moderator_scope import GROUP_B, in_group

__all__ = ["config", "two_groups"]  # the fixtures: the Mini App's address set; a second group


async def test_the_roster_is_the_members_list_and_the_csv_arrives_as_in_chat(
    sim: Simulator,
) -> None:
    await a_newcomer_introduced(sim)
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        response = await client.get(f"{API}/roster", headers=auth(raw))
        assert response.status_code == 200, response.text
        people = {row["name"]: row for row in response.json()["members"]}
        # The oracle: what /members says of the same people.
        mark = sim.mark()
        await sim.dm(mira(sim), "/members")
        listing = sim.unique_reply(mark, MODERATOR_ID)
        assert listing.text.count("•") == len(people)
        row = people["Olena Petrenko"]
        assert (row["organisation"], row["sponsor"]) == ("UNICEF", "Ivan Koval")
        assert row["category"] == "in the country" and row["status"] in listing.text
        assert people["Ivan Koval"]["sponsor"] == "member before the bot"
        assert row["seen"] and row["seen_key"]
        # The Open button under /members names this screen.
        [button] = [b for b in listing.buttons() if "web_app" in b]
        assert button["web_app"]["url"] == f"{APP_URL}?screen=moderation"

        mark = sim.mark()
        sent = await client.post(f"{API}/csv", json={}, headers=auth(raw))
        assert sent.status_code == 200 and "private chat" in sent.json()["message"]
        [document] = sim.since(mark, MODERATOR_ID)
        await sim.dm(mira(sim), "/members csv")
        chat = sim.last(MODERATOR_ID)
        assert document.document is not None and chat.document is not None
        assert document.document == chat.document  # the same file, byte for byte
        assert document.text == chat.text
        again = await client.post(f"{API}/csv", json={}, headers=auth(raw))
        assert again.status_code == 409  # a replay sends nothing
    assert sim.since(mark, MODERATOR_ID) == [document, chat]


async def a_link(client: httpx.AsyncClient, raw: str, status: int = 200) -> dict[str, Any]:
    """POST csv-link; the answer's JSON, its url reduced to the path the server is asked."""
    response = await client.post(f"{API}/csv-link", json={}, headers=auth(raw))
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    if status == 200:
        assert data["url"].startswith(f"{APP_URL}/download/"), data
        data["path"] = urlsplit(data["url"]).path
    return data


async def test_the_csv_downloads_once_as_the_chat_sends_it(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The download link (Telegram's downloadFile fetches it without initData): the same
    file as /members csv, byte for byte; once; never the token in the database or the log."""
    caplog.set_level(logging.DEBUG)
    await a_newcomer_introduced(sim)
    raw = init_data(sim, mira(sim))
    zone = sim.services.settings.group_timezone(sim.services.settings.groups[0])
    today = sim.clock.now().astimezone(zone).date()
    async with served(sim) as client:
        link = await a_link(client, raw)
        assert link["file_name"] == f"members-{today}.csv"
        assert [f["file_name"] for f in link["files"]] == [link["file_name"]]
        token = link["path"].rsplit("/", 1)[1]
        assert len(token) >= 40
        replayed = await client.post(f"{API}/csv-link", json={}, headers=auth(raw))
        assert replayed.status_code == 409  # claim_once, as every write
        mark = sim.mark()
        fetched = await client.get(link["path"])  # no Authorization: the link is the proof
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "text/csv; charset=utf-8"
        assert fetched.headers["content-disposition"] == (
            f'attachment; filename="members-{today}.csv"'
        )
        assert fetched.headers["cache-control"] == "no-store"
        assert sim.since(mark) == []  # nothing sent to the chat
        await sim.dm(mira(sim), "/members csv")
        chat = sim.last(MODERATOR_ID)
        assert chat.document is not None and chat.document[1] == fetched.content
        assert "Olena Petrenko" in fetched.content.decode("utf-8-sig")
        again = await client.get(link["path"])
        assert again.status_code == 404 and b"Olena" not in again.content
        # A forged token, a token of the right shape never handed out, a mangled one.
        for path in (
            f"/app/download/{'A' * 43}",
            link["path"][:-1] + ("a" if link["path"][-1] != "a" else "b"),
            "/app/download/short",
            link["path"] + "x" * 30,
        ):
            forged = await client.get(path)
            assert forged.status_code == 404, path
            assert b"Olena" not in forged.content
    assert rows(sim, MiniAppDownload) == []  # used up: nothing kept
    # The bot's own log (the test's HTTP client logs the addresses it asks for itself).
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert ours and not [line for line in ours if token in line]


async def test_a_csv_link_expires_after_five_minutes(sim: Simulator) -> None:
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        early = await a_link(client, raw)
        late = await a_link(client, init_data(sim, mira(sim), timedelta(seconds=2)))
        [kept] = [r for r in rows(sim, MiniAppDownload) if r.user_id == MODERATOR_ID][:1]
        tokens = {early["path"].rsplit("/", 1)[1], late["path"].rsplit("/", 1)[1]}
        assert kept.digest not in tokens  # only the token's digest is stored
        sim.clock.advance(timedelta(minutes=4, seconds=59))
        assert (await client.get(early["path"])).status_code == 200  # still in time
        sim.clock.advance(timedelta(seconds=1))  # five minutes on the bot's clock
        expired = await client.get(late["path"])
        assert expired.status_code == 404 and expired.content == b"Not found\n"
        # A new link made now works, and the expired one was dropped on the way.
        fresh = await a_link(client, init_data(sim, mira(sim), timedelta(seconds=3)))
        assert len(rows(sim, MiniAppDownload)) == 1
        assert (await client.get(fresh["path"])).status_code == 200


async def test_a_demoted_admin_cannot_use_the_link_made_before(sim: Simulator) -> None:
    olha = sim.user("Olha", "Admin", "olha_a")
    sim.group.members[olha.id] = FakeMember("administrator")
    sim.telegram.started.add(olha.id)
    await sim.say(olha, "Morning all")
    await sim.advance(timedelta(minutes=10))  # the admin list is read again
    member = await veteran(sim, "Petro")
    async with served(sim) as client:
        refused = await a_link(client, init_data(sim, member), 403)
        assert refused == {"error": "This part of the app is for moderators."}
        link = await a_link(client, init_data(sim, olha, timedelta(seconds=1)))
        sim.group.members[olha.id] = FakeMember("member")  # demoted; no update reaches the bot
        response = await client.get(link["path"])
        assert response.status_code == 404 and b"Petro" not in response.content
        # And the link is spent: promoted again, it still does not work.
        sim.group.members[olha.id] = FakeMember("administrator")
        assert (await client.get(link["path"])).status_code == 404
    assert rows(sim, MiniAppDownload) == []


def roster_filter(members: list[dict[str, Any]], end: str = "", seen: str = "") -> set[str]:
    """The page's end-date and last-seen filters (web/static/moderation.js), as README says."""

    def kept(row: dict[str, Any]) -> bool:
        ends, unseen = row["ends_in"], row["unseen_days"]
        by_end = {
            "": True,
            "soon": ends is not None and 0 <= ends <= 30,
            "ended": ends is not None and ends < 0,
        }[end]
        by_seen = {
            "": True,
            "30": unseen >= 30,
            "90": unseen >= 90,
            "never": bool(row["never_seen"]),
        }[seen]
        return by_end and by_seen

    return {r["name"] for r in members if kept(r)}


async def test_the_roster_carries_what_the_end_and_last_seen_filters_need(
    sim: Simulator,
) -> None:
    ivan, olena = await a_newcomer_introduced(sim)
    petro = await veteran(sim, "Petro")
    now = sim.clock.now()
    today = now.astimezone(sim.services.settings.group_timezone(sim.services.settings.groups[0]))
    with sim.services.db.transaction() as session:
        people = RosterRepository(session)
        intro = IntroductionRepository(session).introduction(GROUP_ID, olena.id)
        assert intro is not None
        intro.end_date = today.date() + timedelta(days=30)
        for user, days in ((ivan, 45), (petro, 100)):
            row = people.user(user.id)
            assert row is not None
            row.last_seen = now - timedelta(days=days, hours=1)
    raw = init_data(sim, mira(sim))

    async def members() -> list[dict[str, Any]]:
        response = await client.get(f"{API}/roster", headers=auth(raw))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["members"]
        return found

    async with served(sim) as client:
        rows_ = await members()
        by_name = {r["name"]: r for r in rows_}
        assert by_name["Olena Petrenko"]["ends_in"] == 30
        assert by_name["Ivan Koval"]["ends_in"] is None  # no end date: in no end filter
        assert (by_name["Ivan Koval"]["unseen_days"], by_name["Petro Koval"]["unseen_days"]) == (
            45,
            100,
        )
        assert roster_filter(rows_, end="soon") == {"Olena Petrenko"}
        assert roster_filter(rows_, end="ended") == set()
        assert roster_filter(rows_, seen="30") == {"Ivan Koval", "Petro Koval"}
        assert roster_filter(rows_, seen="90") == {"Petro Koval"}
        # Olena joined through the link and has not been seen since; the veterans were
        # learned by being seen.
        assert "Olena Petrenko" in roster_filter(rows_, seen="never")
        assert not {"Ivan Koval", "Petro Koval"} & roster_filter(rows_, seen="never")
        with sim.services.db.transaction() as session:
            intro = IntroductionRepository(session).introduction(GROUP_ID, olena.id)
            assert intro is not None
            intro.end_date = today.date() - timedelta(days=1)
        await sim.advance(timedelta(minutes=5))
        await sim.dm(olena, "/help")  # any word to the bot, here in private
        rows_ = await members()
        assert roster_filter(rows_, end="ended") == {"Olena Petrenko"}
        assert roster_filter(rows_, end="soon") == set()
        assert "Olena Petrenko" not in roster_filter(rows_, seen="never")


async def test_the_log_and_who_is_missing_match_the_chat(sim: Simulator) -> None:
    await veteran(sim)
    await veteran(sim, "Petro")
    await sim.say(mira(sim), "/warn @ivan please stay on topic")
    await sim.say(mira(sim), "/mute @petro 1h")
    await partner(sim, "Alice")
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        log = (await client.get(f"{API}/audit", headers=auth(raw))).json()
        assert [(e["did"], e["target"]) for e in log["entries"]] == [
            ("muted", "Petro Koval"),
            ("warned", "Ivan Koval"),
        ]  # newest first
        assert log["entries"][1]["reason"] == "please stay on topic"
        only = await client.get(f"{API}/audit", params={"action": "warn"}, headers=auth(raw))
        assert [e["target"] for e in only.json()["entries"]] == ["Ivan Koval"]
        whom = await client.get(f"{API}/audit", params={"who": "@petro"}, headers=auth(raw))
        assert [e["did"] for e in whom.json()["entries"]] == ["muted"]
        both = {"who": "@petro", "action": "warn"}
        none = (await client.get(f"{API}/audit", params=both, headers=auth(raw))).json()
        assert none["entries"] == [] and not none["more"]

        deadlines = (await client.get(f"{API}/deadlines", headers=auth(raw))).json()
        assert "sitrep" in {d["id"] for d in deadlines["deadlines"]}
        report = await client.get(f"{API}/missing", params={"id": "sitrep"}, headers=auth(raw))
        data: dict[str, Any] = report.json()
        units = {u["unit"]: [p["name"] for p in u["people"]] for u in data["missing"]}
        assert units["WASH (cluster)"] == ["Alice"]
        assert units["Health (cluster)"] == []
    mark = sim.mark()
    await sim.dm(mira(sim), "/missing sitrep")
    chat = sim.unique_reply(mark, MODERATOR_ID).text
    assert data["summary"].split(": ", 1)[1] in chat  # "N of M answered."


async def test_an_admin_of_one_group_downloads_only_its_roster(two_groups: Simulator) -> None:
    """Bohdan administers group B only: his link serves group B's CSV (named by its chat id,
    as the chat names it), never group A's; Mira, a moderator everywhere, gets one per group."""
    sim = two_groups
    bohdan = await in_group(sim, "Bohdan", GROUP_B, "administrator")
    await a_newcomer_introduced(sim)  # Olena, in group A
    async with served(sim) as client:
        link = await a_link(client, init_data(sim, bohdan))
        assert [f["group"] for f in link["files"]] == ["Group B"]
        assert link["file_name"].startswith(f"members-{GROUP_B}-")
        fetched = await client.get(link["path"])
        assert fetched.status_code == 200 and b"Bohdan" in fetched.content
        assert b"Olena" not in fetched.content
        everywhere = {"id": MODERATOR_ID, "first_name": "Mira"}  # a configured moderator
        both = await a_link(client, sign(sim.app.bot.token, everywhere, sim.clock.now()))
        assert len(both["files"]) == 2
        paths = [urlsplit(f["url"]).path for f in both["files"]]
        first = await client.get(paths[0])
        assert b"Olena" in first.content and b"Bohdan" not in first.content
        assert (await client.get(paths[1])).content == fetched.content
