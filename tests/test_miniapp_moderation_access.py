"""Only moderators use the Mini App's moderators' screen, asked live at each request: a member,
an admin demoted since, and forged or stale initData are refused everywhere with nothing
changed and nothing disclosed; bad input gets one polite answer and changes nothing (README
"Moderators' screen")."""

from __future__ import annotations

from datetime import timedelta

import httpx

from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.models import JoinRequest, ModerationAction
from tests.conftest import MODERATOR_ID
from tests.miniapp import auth, init_data, served, sign
from tests.miniapp_moderation_support import (
    API,
    a_newcomer_held,
    a_newcomer_introduced,
    config,
    intro_row,
    membership,
    mira,
)
from tests.test_contacts import rows
from tests.test_joins import intro_of, veteran

__all__ = ["config"]  # the fixture: the Mini App's address set


def open_requests(sim: Simulator) -> list[int]:
    with sim.services.db.transaction() as session:
        return [r.user_id for r in IntroductionRepository(session).open_join_requests()]


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
