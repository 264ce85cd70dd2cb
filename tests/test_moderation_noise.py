"""Keeping the chat readable, end to end through the fake Bot API: the moderators' /offtopic
and /purge, and the automatic noise control (flood, banned words, links and media before the
introduction)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.faketg import ApiError, FakeMember
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import actions, calls_since, custom, member, mira, texts


# --------------------------------------------------------------------------- /offtopic
async def test_offtopic_nudges_with_the_configured_link(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, offtopic_link="https://t.me/im_coffee") as sim:
        ivan = await member(sim, "Ivan")
        said = await sim.say(ivan, "anyone watching the match?")
        mark = sim.mark()
        await sim.say(mira(sim), "/offtopic", reply_to=said["message"]["message_id"])
        nudge = sim.unique_reply(mark, GROUP_ID)
        assert nudge.reply_to == said["message"]["message_id"]
        assert "drifting off-topic" in nudge.text and 'href="https://t.me/im_coffee"' in nudge.html
        (action,) = actions(sim, "offtopic")
        assert action.target_id == ivan.id and action.actor_id == MODERATOR_ID


# --------------------------------------------------------------------------- /purge
async def test_purge_the_bots_and_a_members_recent_messages(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    await sim.say(mira(sim), "/warns @ivan")
    await sim.say(mira(sim), "/warns @ivan")
    bot_messages = [m.message_id for m in sim.telegram.sent(GROUP_ID)]
    mark = sim.mark()
    await sim.say(mira(sim), "/purge 2")
    assert all(sim.telegram.messages[(GROUP_ID, i)].deleted for i in bot_messages[-2:])
    assert "Deleted 2 messages of the bot." in sim.unique_reply(mark, GROUP_ID).text
    ids = [(await sim.say(ivan, f"spam {n}"))["message"]["message_id"] for n in range(3)]
    mark = sim.mark()
    await sim.say(mira(sim), "/purge 5", reply_to=ids[0])
    reply = sim.unique_reply(mark, GROUP_ID).text
    assert "Deleted 4 messages of Ivan Koval." in reply  # the 3 and his greeting
    assert all(sim.telegram.messages[(GROUP_ID, i)].deleted for i in ids)
    assert "I only knew of 4 recent messages." in reply
    (action,) = actions(sim, "purge")[:1]
    assert action.target_id == ivan.id
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit @ivan")
    assert "purged messages of Ivan Koval (4 deleted of 5 asked)" in (
        sim.unique_reply(mark, MODERATOR_ID).text
    )


async def test_purge_respects_48_hours_and_the_delete_right(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    old = (await sim.say(ivan, "old news"))["message"]["message_id"]
    sim.clock.advance(timedelta(hours=48, minutes=30))
    with pytest.raises(ApiError, match="for everyone"):  # the fake refuses as Telegram does
        sim.telegram.handle("deleteMessage", {"chat_id": GROUP_ID, "message_id": old}, {})
    mark = sim.mark()
    await sim.say(mira(sim), "/purge 1 @ivan")
    assert "1 was too old to delete" in sim.unique_reply(mark, GROUP_ID).text
    await sim.say(ivan, "fresh")
    sim.group.members[sim.telegram.bot.id].rights["can_delete_messages"] = False
    mark = sim.mark()
    await sim.say(mira(sim), "/purge 1 @ivan")
    assert "lack the admin right to delete messages" in texts(sim, mark, GROUP_ID)[0]
    assert "could not delete messages" in sim.unique_reply(mark, MODERATOR_ID).text


# --------------------------------------------------------------------------- noise control
async def test_flood_mutes_with_a_notice(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")  # his greeting is message 1 of 8
    for n in range(6):
        await sim.say(ivan, f"msg {n}")
    assert actions(sim) == []
    mark = sim.mark()
    await sim.say(ivan, "msg 7")
    note = sim.unique_reply(mark, GROUP_ID).text
    assert "Ivan Koval is muted for 10 minutes for sending 8 messages in 30 seconds" in note
    (action,) = actions(sim, "flood")
    assert action.actor_id is None and action.until == sim.clock.now() + timedelta(minutes=10)
    with pytest.raises(ApiError):
        await sim.say(ivan, "msg 8")
    await sim.advance(timedelta(minutes=11))
    await sim.say(ivan, "sorry")


async def test_albums_count_once_and_moderators_are_exempt(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    for _ in range(10):
        await sim.feed(sim.telegram.photo(ivan.id, GROUP_ID, album="album-1"))
    for n in range(12):
        await sim.say(mira(sim), f"announcement {n}")
    assert actions(sim) == []


async def test_banned_words_are_deleted_with_a_private_reason(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, banned_words=["idiot", "shut up"]) as sim:
        ivan = await member(sim, "Ivan")
        quiet = await member(sim, "Quiet", started=False)
        said = await sim.say(ivan, "You are an IDIOT")
        assert sim.telegram.messages[(GROUP_ID, said["message"]["message_id"])].deleted
        assert "“IDIOT”" in sim.last(ivan.id).text
        mark = sim.mark()
        await sim.say(ivan, "idiotic rules, but fine")  # not the word itself
        await sim.say(ivan, "shut up")  # deleted, but no second note within 10 minutes
        assert sim.since(mark) == []
        # Someone the bot cannot write to gets one short note in the group.
        mark = sim.mark()
        await sim.say(quiet, "/help shut up")  # a deleted command is not answered
        note = sim.unique_reply(mark, GROUP_ID)
        assert "politeness rules" in note.text and quiet.id in note.mentions
        assert [a.kind for a in actions(sim)] == ["banned_word"] * 3
        # Moderators are not policed by the bot.
        await sim.say(mira(sim), "the word idiot is banned here")
        assert len(actions(sim)) == 3


async def test_an_edit_that_adds_a_banned_word_is_deleted(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with custom(config, clock, banned_words=["idiot"]) as sim:
        ivan = await member(sim, "Ivan")
        said = await sim.say(ivan, "you are a genius")
        edited = said["message"] | {"text": "you are an idiot", "edit_date": 1}
        await sim.feed({"update_id": 99999, "edited_message": edited})
        assert sim.telegram.messages[(GROUP_ID, edited["message_id"])].deleted
        (action,) = actions(sim, "banned_word")
        assert action.target_id == ivan.id and action.detail == "idiot"


async def test_a_ban_spares_admins_even_when_the_roster_is_stale(sim: Simulator) -> None:
    olha = await member(sim, "Olha")
    sim.clock.advance(timedelta(minutes=10))
    await sim.say(mira(sim), "/warns @olha")  # the admins are read now: Olha is not one
    sim.group.members[olha.id] = FakeMember("administrator")  # promoted a moment later
    start, mark = len(sim.telegram.calls), sim.mark()
    await sim.say(mira(sim), "/ban @olha spam")
    assert "they are an admin" in sim.unique_reply(mark, GROUP_ID).text
    assert calls_since(sim, start, "banChatMember") == [] and actions(sim) == []


async def test_links_and_media_wait_for_the_introduction(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    olena = sim.user("Olena", "Petrenko", "olena_p")
    sim.telegram.started.add(olena.id)
    await sim.join(olena, added_by=ivan)
    sim.group.members[olena.id] = FakeMember("member")  # e.g. the hold could not be applied
    said = await sim.say(olena, "my offer: https://example.org/deal")
    assert sim.telegram.messages[(GROUP_ID, said["message"]["message_id"])].deleted
    assert "introduction is complete" in sim.last(olena.id).text
    photo = sim.telegram.photo(olena.id, GROUP_ID, caption="look")
    await sim.feed(photo)
    assert sim.telegram.messages[(GROUP_ID, photo["message"]["message_id"])].deleted
    plain = await sim.say(olena, "Hello everyone, glad to be here")
    assert not sim.telegram.messages[(GROUP_ID, plain["message"]["message_id"])].deleted
    link = await sim.say(ivan, "see https://example.org")  # a member before the bot
    assert not sim.telegram.messages[(GROUP_ID, link["message"]["message_id"])].deleted
    assert [a.kind for a in reversed(actions(sim))] == ["link_blocked", "media_blocked"]


async def test_commands_still_work_next_to_the_watcher(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    await sim.say(ivan, "/whois @ivan")
    assert "Ivan Koval" in sim.unique_reply(mark, GROUP_ID).text


async def test_a_deleted_all_message_reaches_nobody(config: LoadedConfig, clock: FakeClock) -> None:
    """Noise control runs before mentions: an @all it deletes is not broadcast."""
    async with custom(config, clock, banned_words=["idiot"]) as sim:
        ivan = await member(sim, "Ivan")
        await member(sim, "Petro")
        mark = sim.mark()
        said = await sim.say(ivan, "@all which idiot moved the 3W template?")
        assert sim.telegram.messages[(GROUP_ID, said["message"]["message_id"])].deleted
        assert sim.since(mark, GROUP_ID) == []  # no 📣 notice, no mentions
        mark = sim.mark()
        await sim.say(ivan, "@all the 3W template moved, sorry")
        assert sim.unique_reply(mark, GROUP_ID).text.startswith("📣 Ivan Koval → @all")
