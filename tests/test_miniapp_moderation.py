"""The Mini App's moderators' screen through the bot's real HTTP server, against what the chat
shows and does: /members (and its CSV), /pending, the join request's Approve/Decline buttons
and the held newcomer's "I sponsor them"/"Remove" buttons, /audit, /missing (README
"Moderators' screen"). Only moderators, asked live at each
request; everyone else is refused with nothing changed and nothing disclosed."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.models import JoinRequest, MiniAppDownload, ModerationAction
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.miniapp import auth, init_data, served, sign
from tests.test_contacts import rows
from tests.test_deadlines import partner
from tests.test_joins import intro_of, invite, veteran
from tests.test_moderator_scope import GROUP_B, in_group

APP_URL = "https://bot.example.org/app"
API = "/app/api/moderation"


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    miniapp = config.settings.miniapp.model_copy(update={"url": APP_URL})
    settings = config.settings.model_copy(update={"miniapp": miniapp})
    return dataclasses.replace(config, settings=settings)


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


def membership(sim: Simulator, user_id: int) -> MemberStatus | None:
    with sim.services.db.transaction() as session:
        from storage.roster import RosterRepository

        found = RosterRepository(session).membership(GROUP_ID, user_id)
        return found.status if found is not None else None


def open_requests(sim: Simulator) -> list[int]:
    with sim.services.db.transaction() as session:
        return [r.user_id for r in IntroductionRepository(session).open_join_requests()]


async def a_newcomer_introduced(sim: Simulator) -> tuple[FakeUser, FakeUser]:
    """Ivan (in the group before the bot) invites Olena Petrenko of UNICEF, who joins."""
    ivan = await veteran(sim)
    link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH IMO"])
    olena = sim.user("Olena", username="olena_p")
    await sim.join(olena, link=link)
    return ivan, olena


async def a_newcomer_held(sim: Simulator, chat_id: int = GROUP_ID) -> tuple[FakeUser, int]:
    """A stranger joins without a sponsor: held read-only for the moderators (README, Sponsored
    joins); returns them and their introduction's id."""
    stranger = sim.user("Stranger", username="stranger")
    await sim.join(stranger, chat_id=chat_id)
    with sim.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(chat_id, stranger.id)
        assert intro is not None and intro.status is IntroStatus.HELD
        return stranger, intro.id


def intro_row(sim: Simulator, intro_id: int) -> tuple[IntroStatus, int | None]:
    with sim.services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
        assert intro is not None
        return intro.status, intro.sponsor_id


def intro_link(sim: Simulator, intro_id: int) -> str:
    return f"https://t.me/{sim.telegram.bot.username}?start=intro_{intro_id}"


async def every_endpoint(
    client: httpx.AsyncClient, headers: dict[str, str], request_id: int, held_id: int = 1
) -> list[httpx.Response]:
    return [
        await client.get(f"{API}/roster", headers=headers),
        await client.post(f"{API}/csv", json={}, headers=headers),
        await client.post(f"{API}/csv-link", json={}, headers=headers),
        await client.get(f"{API}/pending", headers=headers),
        await client.post(
            f"{API}/decide", json={"id": request_id, "decision": "approve"}, headers=headers
        ),
        await client.post(
            f"{API}/held", json={"id": held_id, "decision": "remove"}, headers=headers
        ),
        await client.get(f"{API}/audit", headers=headers),
        await client.get(f"{API}/deadlines", headers=headers),
        await client.get(f"{API}/missing", params={"id": "sitrep"}, headers=headers),
    ]


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


async def test_a_moderator_approves_a_join_request_as_the_chat_button_does(
    sim: Simulator,
) -> None:
    anna, boris = sim.user("Anna"), sim.user("Boris")
    mark = sim.mark()
    await sim.request_join(anna)
    await sim.request_join(boris)
    notices = {
        name: next(m for m in sim.since(mark, GROUP_ID) if f"{name} asks to join" in m.text)
        for name in ("Anna", "Boris")
    }
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        ids = {entry["name"]: entry["id"] for entry in listed["join_requests"]}
        assert set(ids) == {"Anna", "Boris"}
        body = {"id": ids["Anna"], "decision": "approve"}
        approved = await client.post(f"{API}/decide", json=body, headers=auth(raw))
        assert approved.status_code == 200, approved.text
        await sim.feed()  # Telegram lets Anna in
        # What the chat's Approve gives (tests/test_joins.py): in, held until introduced,
        # the approving moderator her sponsor.
        assert membership(sim, anna.id) is MemberStatus.RESTRICTED
        intro = intro_of(sim, anna.id)
        assert intro is not None and intro.sponsor_id == MODERATOR_ID
        replayed = await client.post(f"{API}/decide", json=body, headers=auth(raw))
        assert replayed.status_code == 409
        assert len(sim.telegram.calls_to("approveChatJoinRequest")) == 1
        # The chat shows it: Anna's notice in the group says who approved, without buttons.
        shown = sim.telegram.messages[(GROUP_ID, notices["Anna"].message_id)]
        assert shown.text.startswith("Request approved by Mira")
        assert shown.buttons() == []
        # And the reverse: Boris declined in chat, then the app is told it is decided.
        await sim.press(mira(sim), notices["Boris"], "Decline")
        late = await client.post(
            f"{API}/decide",
            json={"id": ids["Boris"], "decision": "approve"},
            headers=auth(init_data(sim, mira(sim), timedelta(seconds=2))),
        )
        assert late.status_code == 409 and "already decided" in late.json()["error"]
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        assert listed["join_requests"] == []
        assert "Anna" in {entry["name"] for entry in listed["introductions"]}
    mark = sim.mark()
    await sim.dm(mira(sim), "/pending")
    reply = sim.unique_reply(mark, MODERATOR_ID)
    assert "waiting for a sponsor" not in reply.text
    assert [b["web_app"]["url"] for b in reply.buttons()] == [f"{APP_URL}?screen=moderation"]


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


async def test_a_member_is_refused_everywhere_and_learns_nothing(sim: Simulator) -> None:
    await a_newcomer_introduced(sim)
    await sim.say(mira(sim), "/warn @ivan please stay on topic")
    anna = sim.user("Anna")
    await sim.request_join(anna)
    [request_id] = [r.id for r in rows(sim, JoinRequest) if r.user_id == anna.id]
    _stranger, held_id = await a_newcomer_held(sim)
    member = await veteran(sim, "Petro")
    actions = len(rows(sim, ModerationAction))
    mark = sim.mark()
    async with served(sim) as client:
        headers = auth(init_data(sim, member))
        for response in await every_endpoint(client, headers, request_id, held_id):
            assert response.status_code == 403, response.text
            assert response.json() == {"error": "This part of the app is for moderators."}
        page = await client.get("/app", params={"screen": "moderation"})
        # The tab is in the page but hidden until the live role says moderator.
        assert 'data-screen="moderation" data-i18n="tab.moderation" data-moderators hidden' in (
            page.text
        )
        me = await client.get("/app/api/me", headers=auth(init_data(sim, member)))
        assert me.json()["moderator"] is False
    assert open_requests(sim) == [anna.id]
    assert sim.telegram.calls_to("approveChatJoinRequest") == []
    assert intro_row(sim, held_id) == (IntroStatus.HELD, None)
    assert sim.telegram.calls_to("banChatMember") == []
    assert len(rows(sim, ModerationAction)) == actions
    assert sim.since(mark) == []  # no document, no message to anyone


async def test_a_demoted_admin_is_refused_at_the_next_request(sim: Simulator) -> None:
    anna = sim.user("Anna")
    await sim.request_join(anna)
    [request_id] = [r.id for r in rows(sim, JoinRequest)]
    olha = sim.user("Olha", "Admin", "olha_a")
    sim.group.members[olha.id] = FakeMember("administrator")
    sim.telegram.started.add(olha.id)
    await sim.say(olha, "Morning all")
    await sim.advance(timedelta(minutes=10))  # the admin list is read again
    raw = init_data(sim, olha, timedelta(seconds=1))
    async with served(sim) as client:
        seen = await client.get(f"{API}/pending", headers=auth(raw))
        assert seen.status_code == 200 and "Anna" in seen.text
        sim.group.members[olha.id] = FakeMember("member")  # demoted; no update reaches the bot
        body = {"id": request_id, "decision": "approve"}
        refused = await client.post(f"{API}/decide", json=body, headers=auth(raw))
        assert refused.status_code == 403
        again = await client.get(f"{API}/pending", headers=auth(raw))
        assert again.status_code == 403 and "Anna" not in again.text
    assert open_requests(sim) == [anna.id]
    assert sim.telegram.calls_to("approveChatJoinRequest") == []


async def test_forged_and_stale_identities_are_refused(sim: Simulator) -> None:
    anna = sim.user("Anna")
    await sim.request_join(anna)
    [request_id] = [r.id for r in rows(sim, JoinRequest)]
    _stranger, held_id = await a_newcomer_held(sim)
    user = {"id": MODERATOR_ID, "first_name": "Mira"}
    now = sim.clock.now()
    forged = [
        sign("999999:another-bots-token", user, now),
        init_data(sim, mira(sim)).replace("hash=", "hash=0")[:-1],
        init_data(sim, mira(sim), timedelta(hours=1, seconds=1)),
        init_data(sim, mira(sim), timedelta(days=3)),
    ]
    async with served(sim) as client:
        for raw in forged:
            for response in await every_endpoint(client, auth(raw), request_id, held_id):
                assert response.status_code == 401, response.text
                assert "Anna" not in response.text and "Stranger" not in response.text
    assert open_requests(sim) == [anna.id]
    assert sim.telegram.calls_to("approveChatJoinRequest") == []
    assert intro_row(sim, held_id) == (IntroStatus.HELD, None)
    assert sim.telegram.calls_to("banChatMember") == []


async def test_bad_input_gets_a_polite_answer(sim: Simulator) -> None:
    anna = sim.user("Anna")
    await sim.request_join(anna)
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        for body in (
            b"not json",
            b"[]",
            b'{"id": "1", "decision": "approve"}',
            b'{"id": true, "decision": "approve"}',
            b'{"id": 1, "decision": "<b>yes</b>"}',
            b'{"id": 1}',
        ):
            response = await client.post(
                f"{API}/decide",
                content=body,
                headers={**auth(raw), "Content-Type": "application/json"},
            )
            assert response.status_code == 400, body
            assert "approve, decline or sponsor" in response.json()["error"]
            assert "<b>" not in response.text
        unknown = {"id": 987654, "decision": "decline"}
        response = await client.post(f"{API}/decide", json=unknown, headers=auth(raw))
        assert response.status_code == 404 and "no such join request" in response.text
        for params, expected in (
            ({"action": "explode"}, "Choose an action from the list."),
            ({"who": "x" * 101}, "at most 100 characters"),
            ({"who": "@nobody_here"}, "I don't know"),
        ):
            response = await client.get(f"{API}/audit", params=params, headers=auth(raw))
            assert response.status_code == 400 and expected in response.json()["error"]
        for wanted, status in (("sit rep", 400), ("<script>", 400), ("nope", 404)):
            response = await client.get(f"{API}/missing", params={"id": wanted}, headers=auth(raw))
            assert response.status_code == status, wanted
            assert "<script>" not in response.text
        long = b'{"x": "' + b"a" * 5000 + b'"}'
        response = await client.post(
            f"{API}/csv", content=long, headers={**auth(raw), "Content-Type": "application/json"}
        )
        assert response.status_code == 413
    assert open_requests(sim) == [anna.id]


def ask_about(sim: Simulator, mark: int) -> SentMessage:
    """The moderator's private notice about a held newcomer, with its two buttons."""
    [ask] = [m for m in sim.since(mark, MODERATOR_ID) if "without a known sponsor" in m.text]
    return ask


def last_answer(sim: Simulator) -> str:
    return str(sim.telegram.calls_to("answerCallbackQuery")[-1].get("text"))


async def test_a_moderator_sponsors_a_held_newcomer_as_the_chat_button_does(
    sim: Simulator,
) -> None:
    await a_newcomer_introduced(sim)  # Olena: sponsored, not held
    mark = sim.mark()
    stranger, held_id = await a_newcomer_held(sim)
    ask = ask_about(sim, mark)
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        held = {entry["name"]: entry["held"] for entry in listed["introductions"]}
        assert held == {"Stranger": True, "Olena": False}
        body = {"id": held_id, "decision": "sponsor"}
        sponsored = await client.post(f"{API}/held", json=body, headers=auth(raw))
        assert sponsored.status_code == 200, sponsored.text
        # As the chat's "I sponsor them": the moderator is the sponsor, the newcomer goes on
        # as any sponsored newcomer, and the answer leads straight to the introduction.
        assert sponsored.json()["link"] == intro_link(sim, held_id)
        assert "You sponsor them now" in sponsored.json()["message"]
        assert intro_row(sim, held_id) == (IntroStatus.PENDING, MODERATOR_ID)
        assert membership(sim, stranger.id) is MemberStatus.RESTRICTED  # until introduced
        # The group's card names the sponsor and offers the introduction, as after the press.
        intro = intro_of(sim, stranger.id)
        assert intro is not None and intro.card_message_id is not None
        card = sim.telegram.messages[(GROUP_ID, intro.card_message_id)]
        assert "Mira" in card.text and "please introduce them" in card.text
        assert MODERATOR_ID in card.mentions
        assert [b["url"] for b in card.buttons() if "Sponsor" in b["text"]] == [
            intro_link(sim, held_id)
        ]
        replayed = await client.post(f"{API}/held", json=body, headers=auth(raw))
        assert replayed.status_code == 409 and "already sent" in replayed.json()["error"]
        later = auth(init_data(sim, mira(sim), timedelta(seconds=2)))
        again = await client.post(
            f"{API}/held", json={"id": held_id, "decision": "remove"}, headers=later
        )
        assert again.status_code == 409 and "already decided" in again.json()["error"]
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        [entry] = [e for e in listed["introductions"] if e["name"] == "Stranger"]
        assert entry["held"] is False and "the sponsor's introduction" in entry["needs"]
    # The chat's buttons, pressed after the app decided: already decided, nothing done.
    await sim.press(mira(sim), ask, "Remove")
    assert last_answer(sim) == "Already decided by someone else."
    assert sim.telegram.calls_to("banChatMember") == []
    assert intro_row(sim, held_id) == (IntroStatus.PENDING, MODERATOR_ID)
    # The link is the chat's own: it opens the introduction in the private chat.
    mark = sim.mark()
    await sim.dm(mira(sim), "/start " + intro_link(sim, held_id).split("start=")[1])
    assert any("first and last name" in m.text for m in sim.since(mark, MODERATOR_ID))


async def test_a_moderator_removes_a_held_newcomer_as_the_chat_button_does(
    sim: Simulator,
) -> None:
    mark = sim.mark()
    stranger, held_id = await a_newcomer_held(sim)
    ask = ask_about(sim, mark)
    raw = init_data(sim, mira(sim))
    mark = sim.mark()
    async with served(sim) as client:
        body = {"id": held_id, "decision": "remove"}
        removed = await client.post(f"{API}/held", json=body, headers=auth(raw))
        assert removed.status_code == 200, removed.text
        assert "Removed" in removed.json()["message"] and "link" not in removed.json()
        # "Kick, can return" (README): banned then unbanned at once; recorded as removed.
        assert [c["user_id"] for c in sim.telegram.calls_to("banChatMember")] == [stranger.id]
        assert [c["user_id"] for c in sim.telegram.calls_to("unbanChatMember")] == [stranger.id]
        assert membership(sim, stranger.id) is MemberStatus.REMOVED
        assert intro_row(sim, held_id) == (IntroStatus.REMOVED, None)
        [action] = [a for a in rows(sim, ModerationAction) if a.kind == "remove"]
        assert (action.target_id, action.actor_id) == (stranger.id, MODERATOR_ID)
        assert any("Stranger was removed" in m.text for m in sim.since(mark, GROUP_ID))
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        assert "Stranger" not in {entry["name"] for entry in listed["introductions"]}
        later = auth(init_data(sim, mira(sim), timedelta(seconds=2)))
        again = await client.post(
            f"{API}/held", json={"id": held_id, "decision": "sponsor"}, headers=later
        )
        assert again.status_code == 409 and "already decided" in again.json()["error"]
    await sim.press(mira(sim), ask, "I sponsor them")
    assert last_answer(sim) == "Already decided by someone else."
    assert sim.telegram.opened_links == []
    assert intro_row(sim, held_id) == (IntroStatus.REMOVED, None)


async def test_the_chat_button_first_then_the_app_is_told(sim: Simulator) -> None:
    mark = sim.mark()
    _stranger, held_id = await a_newcomer_held(sim)
    await sim.press(mira(sim), ask_about(sim, mark), "I sponsor them")
    async with served(sim) as client:
        body = {"id": held_id, "decision": "remove"}
        late = await client.post(f"{API}/held", json=body, headers=auth(init_data(sim, mira(sim))))
        assert late.status_code == 409 and "already decided" in late.json()["error"]
    assert intro_row(sim, held_id) == (IntroStatus.PENDING, MODERATOR_ID)
    assert sim.telegram.calls_to("banChatMember") == []


@pytest.fixture
async def two_groups(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
    groups = [
        *config.settings.groups,
        config.settings.groups[0].model_copy(update={"chat_id": GROUP_B, "title": "Group B"}),
    ]
    settings = config.settings.model_copy(update={"groups": groups})
    simulator = Simulator(dataclasses.replace(config, settings=settings), clock)
    await simulator.start()
    yield simulator
    await simulator.stop()
    assert not simulator.errors, f"the bot raised: {simulator.errors!r}"


async def test_an_admin_of_another_group_cannot_decide_a_held_newcomer(
    two_groups: Simulator,
) -> None:
    """Bohdan administers group B only: the app's moderators' screen is his, but a held
    newcomer of group A is not his to decide (as the chat's button, README Permissions)."""
    sim = two_groups
    bohdan = await in_group(sim, "Bohdan", GROUP_B, "administrator")
    stranger, held_a = await a_newcomer_held(sim)
    outsider = sim.user("Outsider")
    await sim.join(outsider, chat_id=GROUP_B)
    with sim.services.db.transaction() as session:
        intro_of_b = IntroductionRepository(session).introduction(GROUP_B, outsider.id)
        assert intro_of_b is not None
        held_b = intro_of_b.id
    raw = init_data(sim, bohdan)
    async with served(sim) as client:
        for decision in ("sponsor", "remove"):
            body = {"id": held_a, "decision": decision}
            refused = await client.post(f"{API}/held", json=body, headers=auth(raw))
            assert refused.status_code == 403, refused.text
            assert refused.json() == {"error": "This part of the app is for moderators."}
        assert intro_row(sim, held_a) == (IntroStatus.HELD, None)
        assert sim.telegram.calls_to("banChatMember") == []
        assert membership(sim, stranger.id) is MemberStatus.RESTRICTED
        # His own group's held newcomer: he decides.
        body = {"id": held_b, "decision": "remove"}
        own = await client.post(f"{API}/held", json=body, headers=auth(raw))
        assert own.status_code == 200, own.text
    assert [c["user_id"] for c in sim.telegram.calls_to("banChatMember")] == [outsider.id]
    assert intro_row(sim, held_b) == (IntroStatus.REMOVED, None)


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


async def test_a_held_decision_with_bad_input_gets_a_polite_answer(sim: Simulator) -> None:
    _ivan, olena = await a_newcomer_introduced(sim)
    _stranger, held_id = await a_newcomer_held(sim)
    raw = init_data(sim, mira(sim))
    async with served(sim) as client:
        for body in (
            b"not json",
            b"[]",
            b'{"id": "%d", "decision": "sponsor"}' % held_id,
            b'{"id": true, "decision": "remove"}',
            b'{"id": %d, "decision": "<b>yes</b>"}' % held_id,
            b'{"id": %d, "decision": "approve"}' % held_id,
            b'{"id": %d}' % held_id,
        ):
            response = await client.post(
                f"{API}/held",
                content=body,
                headers={**auth(raw), "Content-Type": "application/json"},
            )
            assert response.status_code == 400, body
            assert "sponsor or remove" in response.json()["error"]
            assert "<b>" not in response.text
        unknown = {"id": 987654, "decision": "remove"}
        response = await client.post(f"{API}/held", json=unknown, headers=auth(raw))
        assert response.status_code == 404 and "no such newcomer" in response.text
        # Olena has a sponsor: she is not held, so there is nothing to decide.
        intro = intro_of(sim, olena.id)
        assert intro is not None
        sponsored = {"id": intro.id, "decision": "remove"}
        response = await client.post(f"{API}/held", json=sponsored, headers=auth(raw))
        assert response.status_code == 409 and "already decided" in response.json()["error"]
        # Nothing was stored: the first real decision with the same initData goes through.
        decision = {"id": held_id, "decision": "sponsor"}
        response = await client.post(f"{API}/held", json=decision, headers=auth(raw))
        assert response.status_code == 200, response.text
    assert intro_row(sim, held_id) == (IntroStatus.PENDING, MODERATOR_ID)
    assert membership(sim, olena.id) is not MemberStatus.REMOVED
    assert sim.telegram.calls_to("banChatMember") == []


def full_init_data(sim: Simulator, person: FakeUser, age: timedelta = timedelta(minutes=1)) -> str:
    """``initData`` as Telegram sends it for someone with a last name."""
    user = {"id": person.id, "first_name": person.first_name, "last_name": person.last_name}
    return sign(sim.app.bot.token, user, sim.clock.now() - age)


def join_request_row(sim: Simulator, user_id: int) -> JoinRequest:
    found: list[JoinRequest] = [r for r in rows(sim, JoinRequest) if r.user_id == user_id]
    assert len(found) == 1
    return found[0]


async def test_a_moderator_sponsors_a_join_request_as_the_chat_button_does(
    sim: Simulator,
) -> None:
    """README, Sponsored joins 3: "I sponsor them" makes the presser the sponsor (the request
    waits for their introduction, approved once it is given) and opens the introduction
    (``start=jr_<id>``); the group's notice names the sponsor and keeps a "Sponsor: introduce"
    button. The app's *I sponsor them* is the same code: Anna sponsored in the app, Boris by
    the chat's button, and the two end up the same."""
    petro = await veteran(sim, "Petro")
    await sim.say(mira(sim), "Good morning")  # the moderator is a member of the group
    anna, boris = sim.user("Anna"), sim.user("Boris")
    mark = sim.mark()
    await sim.request_join(anna)
    await sim.request_join(boris)
    notices = {
        name: next(m for m in sim.since(mark, GROUP_ID) if f"{name} asks to join" in m.text)
        for name in ("Anna", "Boris")
    }
    raw = full_init_data(sim, mira(sim))
    async with served(sim) as client:
        listed = (await client.get(f"{API}/pending", headers=auth(raw))).json()
        ids = {entry["name"]: entry["id"] for entry in listed["join_requests"]}
        assert not any(e["sponsored"] for e in listed["join_requests"])
        body = {"id": ids["Anna"], "decision": "sponsor"}
        # A member: refused, nothing changed.
        refused = await client.post(f"{API}/decide", json=body, headers=auth(init_data(sim, petro)))
        assert refused.status_code == 403
        assert join_request_row(sim, anna.id).sponsor_id is None
        sponsored = await client.post(f"{API}/decide", json=body, headers=auth(raw))
        assert sponsored.status_code == 200, sponsored.text
        bot = sim.telegram.bot.username
        assert sponsored.json()["link"] == f"https://t.me/{bot}?start=jr_{ids['Anna']}"
        assert "You sponsor them now" in sponsored.json()["message"]
        replayed = await client.post(f"{API}/decide", json=body, headers=auth(raw))
        assert replayed.status_code == 409
        later = auth(full_init_data(sim, mira(sim), timedelta(seconds=2)))
        again = await client.post(f"{API}/decide", json=body, headers=later)
        assert again.status_code == 409
        assert "already sponsors them" in again.json()["error"]
        listed = (await client.get(f"{API}/pending", headers=later)).json()
        [entry] = [e for e in listed["join_requests"] if e["name"] == "Anna"]
        assert entry["sponsored"] is True and "waiting for the introduction" in entry["state"]
    # Boris by the chat's button: the same stored state, the same notice.
    await sim.press(mira(sim), notices["Boris"], "I sponsor them")
    in_app, in_chat = join_request_row(sim, anna.id), join_request_row(sim, boris.id)
    assert (in_app.status, in_app.sponsor_id, in_app.decided_by_id, in_app.decided_at) == (
        "sponsored",
        MODERATOR_ID,
        None,
        None,
    )
    assert (in_chat.status, in_chat.sponsor_id, in_chat.decided_by_id, in_chat.decided_at) == (
        in_app.status,
        in_app.sponsor_id,
        in_app.decided_by_id,
        in_app.decided_at,
    )
    shown = {n: sim.telegram.messages[(GROUP_ID, notices[n].message_id)] for n in notices}
    assert "sponsors this request" in shown["Anna"].text
    assert shown["Anna"].text == shown["Boris"].text
    assert shown["Anna"].html == shown["Boris"].html
    [[anna_button], [boris_button]] = [shown[n].buttons() for n in ("Anna", "Boris")]
    assert anna_button["text"] == boris_button["text"] == "Sponsor: introduce"
    assert anna_button["url"] == boris_button["url"].replace(f"jr_{in_chat.id}", f"jr_{in_app.id}")
    # The chat's button pressed after the app decided (a stale copy of the notice): refused,
    # nothing changed.
    data = f"jr:{in_app.id}:s"
    await sim.feed(sim.telegram.forged_press(petro.id, GROUP_ID, notices["Anna"].message_id, data))
    assert "Someone else already sponsors them" in last_answer(sim)
    assert join_request_row(sim, anna.id).sponsor_id == MODERATOR_ID
    # The link is the chat's own: it opens the introduction in the private chat.
    mark = sim.mark()
    await sim.dm(mira(sim), f"/start jr_{in_app.id}")
    assert any("first and last name" in m.text for m in sim.since(mark, MODERATOR_ID))


async def test_sponsoring_a_decided_join_request_is_refused(sim: Simulator) -> None:
    await sim.say(mira(sim), "Good morning")
    anna = sim.user("Anna")
    mark = sim.mark()
    await sim.request_join(anna)
    notice = next(m for m in sim.since(mark, GROUP_ID) if "Anna asks to join" in m.text)
    await sim.press(mira(sim), notice, "Decline")
    [request] = rows(sim, JoinRequest)
    async with served(sim) as client:
        late = await client.post(
            f"{API}/decide",
            json={"id": request.id, "decision": "sponsor"},
            headers=auth(init_data(sim, mira(sim))),
        )
        assert late.status_code == 409
        assert late.json()["error"] == "This request is already decided."
    assert join_request_row(sim, anna.id).status == "declined"
    assert join_request_row(sim, anna.id).sponsor_id is None
    # The chat's button on the old notice says the same.
    data = f"jr:{request.id}:s"
    await sim.feed(sim.telegram.forged_press(MODERATOR_ID, GROUP_ID, notice.message_id, data))
    assert last_answer(sim) == "This request is already decided."
