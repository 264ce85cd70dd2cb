"""The moderators' screen decides as the chat's buttons do, through the bot's real HTTP server:
a join request's Approve/Decline and "I sponsor them", and the held newcomer's "I sponsor
them"/"Remove" (README "Moderators' screen"); whichever comes second, app or chat, is told it
is already decided and changes nothing. An admin decides only for their own group."""

from __future__ import annotations

from datetime import timedelta

from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.introductions import IntroductionRepository
from storage.models import JoinRequest, ModerationAction
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.miniapp import auth, init_data, served, sign
from tests.miniapp_moderation_support import (
    API,
    APP_URL,
    a_newcomer_held,
    a_newcomer_introduced,
    config,
    intro_link,
    intro_row,
    membership,
    mira,
    two_groups,
)
from tests.test_contacts import rows
from tests.test_joins import intro_of, veteran
from tests.test_moderator_scope import GROUP_B, in_group

__all__ = ["config", "two_groups"]  # the fixtures: the Mini App's address set; a second group


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


def full_init_data(sim: Simulator, person: FakeUser, age: timedelta = timedelta(minutes=1)) -> str:
    """``initData`` as Telegram sends it for someone with a last name."""
    user = {"id": person.id, "first_name": person.first_name, "last_name": person.last_name}
    return sign(sim.app.bot.token, user, sim.clock.now() - age)


def join_request_row(sim: Simulator, user_id: int) -> JoinRequest:
    found: list[JoinRequest] = [r for r in rows(sim, JoinRequest) if r.user_id == user_id]
    assert len(found) == 1
    return found[0]


def last_answer(sim: Simulator) -> str:
    return str(sim.telegram.calls_to("answerCallbackQuery")[-1].get("text"))


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


def ask_about(sim: Simulator, mark: int) -> SentMessage:
    """The moderator's private notice about a held newcomer, with its two buttons."""
    [ask] = [m for m in sim.since(mark, MODERATOR_ID) if "without a known sponsor" in m.text]
    return ask


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
