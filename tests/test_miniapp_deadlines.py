"""The Mini App's deadline board through the bot's real HTTP server.

Oracles: config/example.yaml's deadlines (SitRep inputs: every other Wednesday 12:00 Kyiv from
2 Dec 2026, for every cluster, reminders 2 days and 3 hours before; Weekly displacement figures
only for Shelter/NFI, CCCM and Protection), the README's reminder rules (an answer counts for
the whole cluster and stops its reminders; Snooze waits `reminders.snooze`, 2 h) and its
/calendar rules (the address is shown once; the database keeps only its SHA-256)."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from config.loader import LoadedConfig
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.models import CalendarFeed, MiniAppWrite, ReminderOutbox, Submission
from tests.miniapp import auth, init_data, served, sign
from tests.test_contacts import member, rows
from tests.test_deadlines import SITREP, reminders

APP_URL = "https://bot.example.org/app"
PUBLIC = "https://bot.example.org"
SITREP_DUE = "Wed, 2 Dec 2026, 12:00 Kyiv time"


@pytest.fixture
def config(config: LoadedConfig) -> LoadedConfig:
    settings = config.settings
    update = {
        "miniapp": settings.miniapp.model_copy(update={"url": APP_URL}),
        "http": settings.http.model_copy(update={"public_url": PUBLIC}),
    }
    return dataclasses.replace(config, settings=settings.model_copy(update=update))


async def partner(sim: Simulator, first: str, cluster: str, org: str = "UNICEF") -> FakeUser:
    """A group member who subscribed in chat for ``cluster`` and ``org``."""
    person: FakeUser = await member(sim, first, "Partner")
    sim.telegram.started.add(person.id)
    mark = sim.mark()
    await sim.dm(person, "/subscribe")
    await sim.press(person, sim.unique_reply(mark, person.id), cluster)
    await sim.press(person, sim.last(person.id), org)
    assert "You are now a partner" in sim.last(person.id).text
    return person


async def board(sim: Simulator, client: httpx.AsyncClient, person: FakeUser) -> dict[str, Any]:
    response = await client.get("/app/api/deadlines", headers=auth(init_data(sim, person)))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


async def until(sim: Simulator, when: datetime) -> None:
    """Let virtual time pass up to ``when``, the sweeps running at every moment they have work
    (each reminder at its time), as the running bot would."""
    await sim.advance_through(when - sim.clock.now())


def card(body: dict[str, Any], deadline_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [d for d in body["deadlines"] if d["id"] == deadline_id]
    assert len(found) == 1
    return found[0]


def current(body: dict[str, Any], deadline_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        o for o in card(body, deadline_id)["occurrences"] if o["current"]
    ]
    assert len(found) == 1
    return found[0]


async def post(
    sim: Simulator,
    client: httpx.AsyncClient,
    person: FakeUser,
    body: object,
    raw: str | None = None,
    path: str = "/app/api/deadlines/answer",
) -> httpx.Response:
    headers = auth(raw or init_data(sim, person))
    return await client.post(path, json=body, headers=headers)


def mark_submitted(at: datetime = SITREP) -> dict[str, str]:
    return {"deadline": "sitrep", "occurrence": at.isoformat(), "action": "submitted"}


async def test_the_board_shows_dates_in_kyiv_time_and_the_partners_status(sim: Simulator) -> None:
    olena = await partner(sim, "Olena", "WASH")
    async with served(sim) as client:
        body = await board(sim, client, olena)
    assert body["partner"] == "You answer for WASH and UNICEF."
    sitrep = card(body, "sitrep")
    assert sitrep["title"] == "SitRep inputs" and sitrep["mine"] is True
    assert sitrep["rule"] == "every other Wednesday at 12:00 Kyiv time"
    assert sitrep["unit"] == "WASH (cluster)"
    dates = [o["due"] for o in sitrep["occurrences"]]
    assert dates == [
        SITREP_DUE,
        "Wed, 16 Dec 2026, 12:00 Kyiv time",
        "Wed, 30 Dec 2026, 12:00 Kyiv time",
        "Wed, 13 Jan 2027, 12:00 Kyiv time",
    ]
    first = current(body, "sitrep")
    assert (first["status"], first["status_text"]) == ("pending", "Not submitted yet")
    # No reminder has reached her yet: nothing to snooze.
    assert [a["action"] for a in first["actions"]] == ["submitted", "not_applicable"]
    assert [a["label"] for a in first["actions"]] == ["✅ Submitted", "Not applicable this time"]
    assert all(o["status"] == "later" and o["actions"] == [] for o in sitrep["occurrences"][1:])
    displacement = card(body, "displacement")  # Protection, CCCM, Shelter/NFI only
    assert displacement["mine"] is False
    assert all("status" not in o for o in displacement["occurrences"])
    assert body["calendar"]["state"] == "none" and body["calendar"]["url"] is None


async def test_submitted_in_the_app_stops_the_reminders_of_that_cluster_only(
    sim: Simulator,
) -> None:
    olena = await partner(sim, "Olena", "WASH")
    bohdan = await partner(sim, "Bohdan", "WASH", org="NRC")  # the same cluster
    petro = await partner(sim, "Petro", "Protection")
    async with served(sim) as client:
        response = await post(sim, client, olena, mark_submitted())
        assert response.status_code == 200, response.text
        assert response.json()["message"] == "Recorded."
        after = current(await board(sim, client, bohdan), "sitrep")
        assert (after["status"], after["actions"]) == ("submitted", [])
    [saved] = rows(sim, Submission)
    assert (saved.deadline_id, saved.occurrence_at, saved.unit, saved.status, saved.user_id) == (
        "sitrep", SITREP, "cluster:WASH", "submitted", olena.id
    )  # fmt: skip
    # The chat says so too.
    mark = sim.mark()
    await sim.dm(bohdan, "/deadlines")
    assert f"{SITREP_DUE}: ✅ answered" in sim.unique_reply(mark, bohdan.id).text
    await until(sim, SITREP + timedelta(hours=4))
    assert reminders(sim, olena) == [] and reminders(sim, bohdan) == []
    assert len(reminders(sim, petro)) == 3  # 2 days, 3 hours, overdue: Protection did not


async def test_chat_answers_show_in_the_app_and_snooze_follows_the_reminder(
    sim: Simulator,
) -> None:
    olena = await partner(sim, "Olena", "WASH")
    petro = await partner(sim, "Petro", "Protection")
    await until(sim, SITREP - timedelta(days=2))
    assert len(reminders(sim, olena)) == 1
    async with served(sim) as client:
        reminded = current(await board(sim, client, olena), "sitrep")
        assert [a["action"] for a in reminded["actions"]] == [
            "submitted",
            "snooze",
            "not_applicable",
        ]
        assert reminded["actions"][1]["label"] == "⏰ Snooze 2 hours"
        response = await post(sim, client, olena, {**mark_submitted(), "action": "snooze"})
        assert response.status_code == 200 and response.json()["message"] == "Snoozed."
        snoozed = current(await board(sim, client, olena), "sitrep")
        assert snoozed["status"] == "snoozed"
        assert snoozed["status_text"] == "Snoozed until Mon, 30 Nov 2026, 14:00 Kyiv time"
        assert "snooze" not in [a["action"] for a in snoozed["actions"]]
        await until(sim, SITREP - timedelta(days=2) + timedelta(hours=2))
        assert len(reminders(sim, olena)) == 2  # the snooze reminded her, as in chat
        # Petro answers in chat; the app shows it.
        await sim.dm(petro, "/submitted sitrep")
        assert current(await board(sim, client, petro), "sitrep")["status"] == "submitted"
        again = await post(sim, client, petro, mark_submitted())
        assert again.status_code == 409
        assert again.json()["error"] == "Already recorded for this deadline."
    assert len(rows(sim, Submission)) == 1


async def test_forged_or_replayed_requests_change_nothing(sim: Simulator) -> None:
    olena = await partner(sim, "Olena", "WASH")
    now = sim.clock.now()
    user = {"id": olena.id, "first_name": "Olena"}
    async with served(sim) as client:
        for raw in (
            sign("999999:another-bots-token", user, now),  # bad HMAC
            init_data(sim, olena, age=timedelta(hours=2)),  # older than miniapp.max_age
            init_data(sim, olena).replace("hash=", "hash=0")[:-1],
        ):
            for response in (
                await client.get("/app/api/deadlines", headers=auth(raw)),
                await post(sim, client, olena, mark_submitted(), raw),
                await post(
                    sim, client, olena, {"action": "new"}, raw, "/app/api/deadlines/calendar"
                ),
            ):
                assert response.status_code == 401, response.text
                assert "open the app again" in response.json()["error"]
                assert "SitRep" not in response.text
        assert rows(sim, Submission) == [] and rows(sim, CalendarFeed) == []
        raw = init_data(sim, olena)
        first = await post(sim, client, olena, mark_submitted(), raw)
        assert first.status_code == 200
        replayed = await post(sim, client, olena, mark_submitted(), raw)
        assert replayed.status_code == 409
        assert replayed.json()["error"] == "This request was already sent."
    assert len(rows(sim, Submission)) == 1 and len(rows(sim, MiniAppWrite)) == 1


async def test_only_a_partner_answers_and_only_for_their_own_deadlines(sim: Simulator) -> None:
    olena = await partner(sim, "Olena", "WASH")
    ivan = await member(sim, "Ivan", "Member")  # a member, not a partner
    stranger = sim.user("Stranger", "Outside")  # not in the group
    async with served(sim) as client:
        body = await board(sim, client, ivan)
        assert body["partner"] is None and "/subscribe" in body["subscribe"]
        assert all("actions" not in o for d in body["deadlines"] for o in d["occurrences"])
        refused = await post(sim, client, ivan, mark_submitted())
        assert refused.status_code == 403
        assert "not one of yours" in refused.json()["error"]
        outsider = await post(sim, client, stranger, mark_submitted())
        assert outsider.status_code == 403
        # Protection's deadline, and another cluster named in the body: refused.
        displacement = {
            "deadline": "displacement",
            "occurrence": datetime(2026, 11, 26, 10, 0, tzinfo=UTC).isoformat(),
            "action": "submitted",
        }
        assert (await post(sim, client, olena, displacement)).status_code == 403
        other_cluster = {**mark_submitted(), "unit": "cluster:Protection"}
        assert (await post(sim, client, olena, other_cluster)).status_code == 400
        later = mark_submitted(SITREP + timedelta(days=14))  # not the current date
        response = await post(sim, client, olena, later)
        assert response.status_code == 409 and "current date" in response.json()["error"]
        # Nothing reminded her yet: no snooze either.
        snooze = await post(sim, client, olena, {**mark_submitted(), "action": "snooze"})
        assert snooze.status_code == 409
    assert rows(sim, Submission) == []
    assert [r for r in rows(sim, ReminderOutbox) if r.kind.startswith("snooze")] == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"deadline": "sitrep", "occurrence": "yesterday", "action": "submitted"}',
        b'{"deadline": "<b>x</b>", "occurrence": "2026-12-02T10:00:00+00:00", "action": "s"}',
        b'{"deadline": "sitrep", "occurrence": "2026-12-02T10:00:00+00:00", "action": "delete"}',
        b'{"deadline": 7, "occurrence": "2026-12-02T10:00:00+00:00", "action": "submitted"}',
        b'{"deadline": "sitrep", "action": "submitted"}',
    ],
)
async def test_bad_input_gets_a_polite_400_and_nothing_is_stored(
    sim: Simulator, body: bytes
) -> None:
    olena = await partner(sim, "Olena", "WASH")
    async with served(sim) as client:
        headers = {**auth(init_data(sim, olena)), "Content-Type": "application/json"}
        response = await client.post("/app/api/deadlines/answer", content=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "Expected a deadline, its current date and an answer."
        assert "<b>" not in response.text
        calendar = await client.post("/app/api/deadlines/calendar", content=body, headers=headers)
        assert calendar.status_code == 400
    assert rows(sim, Submission) == [] and rows(sim, MiniAppWrite) == []
    assert rows(sim, CalendarFeed) == []


async def test_the_calendar_link_is_made_shown_once_and_stopped_as_in_chat(
    sim: Simulator,
) -> None:
    olena = await partner(sim, "Olena", "WASH")
    async with served(sim) as client:
        made = await post(sim, client, olena, {"action": "new"}, path="/app/api/deadlines/calendar")
        assert made.status_code == 200, made.text
        feed = made.json()["calendar"]
        assert feed["state"] == "issued" and feed["url"].startswith(f"{PUBLIC}/calendar/")
        secret = feed["url"].removeprefix(f"{PUBLIC}/calendar/").removesuffix(".ics")
        [row] = rows(sim, CalendarFeed)
        assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        shown = (await board(sim, client, olena))["calendar"]
        assert shown["state"] == "live" and shown["url"] is None  # never shown again
        assert secret not in str(shown) and shown["can_stop"] is True
        stop = await post(
            sim, client, olena, {"action": "stop"}, path="/app/api/deadlines/calendar"
        )
        assert stop.status_code == 200 and stop.json()["calendar"]["state"] == "stopped"
    mark = sim.mark()
    await sim.dm(olena, "/calendar")
    assert "You stopped your subscription link on" in sim.since(mark, olena.id)[-1].text


async def test_open_buttons_under_deadlines_and_calendar_in_private_only(sim: Simulator) -> None:
    olena = await partner(sim, "Olena", "WASH")
    for command in ("/deadlines", "/calendar"):
        mark = sim.mark()
        await sim.dm(olena, command)
        buttons = [b for m in sim.since(mark, olena.id) for b in m.buttons() if "web_app" in b]
        assert [b["web_app"]["url"] for b in buttons] == [f"{APP_URL}?screen=deadlines"], command
        assert buttons[0]["text"] == "Open in the app"
    mark = sim.mark()
    await sim.say(olena, "/deadlines")
    assert all("web_app" not in b for m in sim.since(mark) for b in m.buttons())
