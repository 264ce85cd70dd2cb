"""The user row stays true while ordinary group messages skip the database (SeenUsers)."""

from __future__ import annotations

from datetime import timedelta

from telegram import ChatPermissions

from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.models import User
from storage.roster import SEEN_REFRESH, RosterRepository
from tests.conftest import GROUP_ID
from tests.helpers import database_unreachable, membership


def user_row(sim: Simulator, user_id: int) -> User:
    with sim.services.db.transaction() as session:
        user = RosterRepository(session).user(user_id)
    assert user is not None
    return user


async def veteran(sim: Simulator) -> int:
    user = sim.user("Ivan", "Koval", "ivan_k")
    sim.group.members[user.id] = FakeMember("member")
    await sim.say(user, "Morning all")
    return user.id


async def test_repeated_messages_do_not_rewrite_the_user_row(sim: Simulator) -> None:
    ivan = await veteran(sim)
    first_seen = user_row(sim, ivan).last_seen
    sim.clock.advance(timedelta(minutes=5))
    said_at = sim.clock.now()
    await sim.say(sim.telegram.users[ivan], "Still here")
    assert user_row(sim, ivan).last_seen == first_seen  # not written on the message's path
    sim.clock.advance(timedelta(seconds=1))
    sim.services.write_behind()  # the one-second timer
    assert user_row(sim, ivan).last_seen == said_at


async def test_last_seen_waits_for_the_database_and_a_full_write_follows_the_refresh(
    sim: Simulator,
) -> None:
    ivan = await veteran(sim)
    sim.clock.advance(timedelta(minutes=5))
    said_at = sim.clock.now()
    await sim.say(sim.telegram.users[ivan], "Still here")
    with database_unreachable(sim):
        sim.services.write_behind()  # kept for later, nothing raised
    assert user_row(sim, ivan).last_seen < said_at
    sim.services.write_behind()
    assert user_row(sim, ivan).last_seen == said_at
    sim.clock.advance(SEEN_REFRESH)
    with sim.services.db.transaction() as session:  # e.g. a restore from a backup
        RosterRepository(session).touch_users({ivan: said_at - timedelta(days=30)})
    await sim.say(sim.telegram.users[ivan], "And now?")  # past the refresh: written in full
    assert user_row(sim, ivan).last_seen == sim.clock.now()


async def test_name_and_username_changes_are_recorded_at_once(sim: Simulator) -> None:
    ivan = await veteran(sim)
    user = sim.telegram.users[ivan]
    user.first_name, user.last_name, user.username = "Ivan", "Kovalenko", "ivan_kov"
    await sim.say(user, "New surname")
    row = user_row(sim, ivan)
    assert (row.first_name, row.last_name, row.username) == ("Ivan", "Kovalenko", "ivan_kov")
    user.username = None
    await sim.say(user, "No username any more")
    assert user_row(sim, ivan).username is None
    user.language_code = "uk"
    await sim.say(user, "Привіт")
    assert user_row(sim, ivan).language_code == "uk"


async def test_a_name_written_by_another_update_is_not_shadowed(sim: Simulator) -> None:
    """Name A cached; name B arrives in a chat_member update about Ivan sent by someone else
    (so not through track_user); then A again: A is stored."""
    ivan = await veteran(sim)
    user = sim.telegram.users[ivan]
    user.first_name = "Ivanko"
    # An admin action about Ivan (here: restrictions lifted) reports him with his new name.
    await sim.app.bot.restrict_chat_member(
        GROUP_ID, ivan, permissions=ChatPermissions.all_permissions()
    )
    await sim.feed()
    assert user_row(sim, ivan).first_name == "Ivanko"
    user.first_name = "Ivan"  # back to the name the cache remembers
    await sim.say(user, "Hello again")
    assert user_row(sim, ivan).first_name == "Ivan"


async def test_members_seen_speaking_join_the_roster_once(sim: Simulator) -> None:
    ivan = await veteran(sim)
    assert membership(sim, ivan) is not None
    for text in ["one", "two", "three"]:
        await sim.say(sim.telegram.users[ivan], text)
    found = membership(sim, ivan)
    assert found is not None and found.joined_at == sim.clock.now()


async def test_private_messages_always_record_reachability(sim: Simulator) -> None:
    ivan = await veteran(sim)
    user = sim.telegram.users[ivan]
    await sim.dm(user, "/start")
    assert user_row(sim, ivan).reachable
    await sim.feed(sim.telegram.block_bot(ivan))
    assert not user_row(sim, ivan).reachable
    sim.telegram.blocked.discard(ivan)
    await sim.dm(user, "/start")  # comes back: recorded although nothing else changed
    assert user_row(sim, ivan).reachable


async def test_an_older_touch_never_moves_last_seen_back(sim: Simulator) -> None:
    """Two replicas touch the same member; the one written last may be the older."""
    ivan = await veteran(sim)
    newer = sim.clock.now() + timedelta(minutes=10)
    with sim.services.db.transaction() as session:
        RosterRepository(session).touch_users({ivan: newer})
    with sim.services.db.transaction() as session:
        RosterRepository(session).touch_users({ivan: newer - timedelta(minutes=5)})
    assert user_row(sim, ivan).last_seen == newer


async def test_the_framework_keeps_no_list_of_everyone_who_wrote(sim: Simulator) -> None:
    """PTB notes each update's user and chat for its persistence and empties the notes only
    when it saves them; the bot has no persistence, so they would only grow."""
    for i in range(30):
        member = sim.telegram.add_user(f"Member{i}", "Writer", f"writer{i}")
        sim.group.members[member.id] = FakeMember("member")
        await sim.feed(sim.telegram.message(member.id, GROUP_ID, "Good morning"))
    assert not sim.app._user_ids_to_be_updated_in_persistence
    assert not sim.app._chat_ids_to_be_updated_in_persistence
