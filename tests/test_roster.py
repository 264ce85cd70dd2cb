"""The bot's own roster, kept from chat_member updates, service messages and what it sees."""

from __future__ import annotations

from moderation.roster import JoinMethod, MemberStatus
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events, membership, status


async def test_join_via_invite_link_records_link_name(sim: Simulator) -> None:
    link = sim.telegram.api_createChatInviteLink({"chat_id": GROUP_ID, "name": "spons-ivan"})
    olena = sim.user("Olena", "Petrenko")
    await sim.join(olena, link=link["invite_link"])
    found = membership(sim, olena.id)
    assert found is not None
    assert found.status is MemberStatus.RESTRICTED  # held until introduced
    assert found.join_method is JoinMethod.INVITE_LINK
    assert found.invite_link_name == "spons-ivan"
    # chat_member update and service message both arrived: the join is recorded once.
    assert [e.new_status for e in events(sim, olena.id)] == ["member", "restricted"]


async def test_added_directly_records_who_added(sim: Simulator) -> None:
    ivan, pavlo = sim.user("Ivan"), sim.user("Pavlo")
    await sim.join(ivan)
    await sim.join(pavlo, added_by=ivan)
    found = membership(sim, pavlo.id)
    assert found is not None and found.join_method is JoinMethod.ADDED
    assert found.added_by_id == ivan.id


async def test_leave_and_rejoin(sim: Simulator) -> None:
    ivan = sim.user("Ivan")
    await sim.join(ivan)
    await sim.leave(ivan)
    assert status(sim, ivan.id) is MemberStatus.LEFT
    assert membership(sim, ivan.id).left_at == sim.clock.now()  # type: ignore[union-attr]
    await sim.join(ivan)
    assert status(sim, ivan.id) is MemberStatus.RESTRICTED
    assert [e.new_status for e in events(sim, ivan.id)] == [
        "member",
        "restricted",
        "left",
        "member",
        "restricted",
    ]


async def test_restriction_removal_and_promotion_are_tracked(sim: Simulator) -> None:
    ivan = sim.user("Ivan")
    await sim.join(ivan)
    await sim.app.bot.restrict_chat_member(GROUP_ID, ivan.id, permissions={})  # type: ignore[arg-type]
    await sim.feed()
    assert status(sim, ivan.id) is MemberStatus.RESTRICTED
    await sim.app.bot.ban_chat_member(GROUP_ID, ivan.id)
    await sim.feed()
    assert status(sim, ivan.id) is MemberStatus.REMOVED
    assert events(sim, ivan.id)[-1].actor_id == sim.telegram.bot.id
    # An admin promotes someone: Telegram reports it as a chat_member update.
    olena = sim.user("Olena")
    await sim.join(olena)
    from simulation.faketg import ADMIN_RIGHTS, FakeMember

    update = sim.telegram._set_member(
        GROUP_ID,
        olena.id,
        FakeMember("administrator", rights=dict.fromkeys(ADMIN_RIGHTS, True)),
        MODERATOR_ID,
    )
    await sim.feed(update)
    assert status(sim, olena.id) is MemberStatus.ADMIN
    assert events(sim, olena.id)[-1].cause == "promoted to admin"


async def test_member_seen_speaking_is_added_to_roster(sim: Simulator) -> None:
    veteran = sim.user("Vera")
    sim.telegram.groups[GROUP_ID].members[veteran.id] = __import__(
        "simulation.faketg", fromlist=["FakeMember"]
    ).FakeMember("member")
    mark = sim.mark()
    await sim.say(veteran, "hello everyone")
    found = membership(sim, veteran.id)
    assert found is not None and found.join_method is JoinMethod.UNKNOWN
    assert sim.since(mark) == []  # no noise in the group


async def test_without_admin_rights_service_messages_still_count(sim: Simulator) -> None:
    mark = sim.mark()
    await sim.feed(sim.telegram.set_bot_status(GROUP_ID, "member"))
    warning = sim.unique_reply(mark, MODERATOR_ID)
    assert "I am not an admin of Ukraine IM community" in warning.text
    ivan, pavlo = sim.user("Ivan"), sim.user("Pavlo")
    await sim.join(ivan)
    await sim.join(pavlo, added_by=ivan)  # no chat_member update reaches a non-admin bot
    found = membership(sim, pavlo.id)
    assert found is not None and found.join_method is JoinMethod.ADDED
    await sim.leave(pavlo)
    assert status(sim, pavlo.id) is MemberStatus.LEFT


async def test_admin_check_warns_once_per_change(sim: Simulator) -> None:
    sim.telegram.groups[GROUP_ID].members[sim.telegram.bot.id].rights["can_restrict_members"] = (
        False
    )
    mark = sim.mark()
    await sim.run_sweeps()
    warning = sim.unique_reply(mark, MODERATOR_ID)
    assert "lack: restrict members" in warning.text
    mark = sim.mark()
    await sim.run_sweeps()
    assert sim.since(mark) == []  # unchanged: logged, not repeated to people


async def test_admins_learned_at_start(sim: Simulator) -> None:
    from simulation.faketg import FakeMember

    sim.telegram.groups[GROUP_ID].members[MODERATOR_ID] = FakeMember("creator")
    await sim.run_sweeps()
    assert status(sim, MODERATOR_ID) is MemberStatus.OWNER


async def test_bot_leaves_unconfigured_group(sim: Simulator) -> None:
    sim.telegram.add_group(-100999, "Random chat", bot_admin=False)
    await sim.feed(sim.telegram.set_bot_status(-100999, "member"))
    assert sim.telegram.calls_to("leaveChat") == [{"chat_id": -100999}]
    assert "I only work in the groups" in sim.last(-100999).text


async def test_blocking_the_bot_marks_user_unreachable(sim: Simulator) -> None:
    alice = sim.user("Alice")
    await sim.dm(alice, "/start")
    await sim.feed(sim.telegram.block_bot(alice.id))
    from storage.roster import RosterRepository

    with sim.services.db.transaction() as session:
        user = RosterRepository(session).user(alice.id)
        assert user is not None and user.started_bot and user.blocked_bot
        assert not user.reachable
