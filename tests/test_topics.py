"""Forum groups (topics), through the real Application and the fake Bot API.

Oracles (issue 20, the README's "Topics"): everything the bot says in answer to something in a
topic goes to that topic; introduction cards, deadline digests and moderation notices go to the
topic the configuration names (by id or by name), else to where the trigger happened, else
General; a group without topics works unchanged, whatever the configuration says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.loader import LoadedConfig
from config.schema import TopicsPolicy
from moderation.clock import FakeClock
from moderation.topics import ForumTopics, pick_thread, topic_key
from simulation.faketg import ApiError, FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_deadline_languages import subscribe
from tests.test_deadlines import SITREP, run_until
from tests.test_joins import invite, veteran


@asynccontextmanager
async def forum(
    config: LoadedConfig, clock: FakeClock, is_forum: bool = True, **topics: Any
) -> AsyncIterator[Simulator]:
    """The example group as a forum (or not), with ``groups[].topics`` set to ``topics``."""
    group = config.settings.groups[0].model_copy(
        update={"topics": TopicsPolicy.model_validate(topics)}
    )
    settings = config.settings.model_copy(update={"groups": [group]})
    sim = Simulator(dataclasses.replace(config, settings=settings), clock)
    sim.telegram.groups[GROUP_ID].is_forum = is_forum
    moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(moderator.id)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
    assert not sim.errors, f"the bot raised: {sim.errors!r}"


async def new_topic(sim: Simulator, name: str, by: int = MODERATOR_ID) -> int:
    thread, update = sim.telegram.create_topic(by, GROUP_ID, name)
    await sim.feed(update)
    return thread


async def flood(sim: Simulator, user: FakeUser, thread: int | None) -> None:
    """Messages a second apart until Telegram refuses them: over the example's flood limit
    (8 in 30 s), the bot mutes the sender."""
    for n in range(9):
        try:
            await sim.say(user, f"update number {n}", thread=thread)
        except ApiError:
            return
        sim.clock.advance(timedelta(seconds=1))
    raise AssertionError("nine messages in nine seconds and no mute")


def flood_notices(sim: Simulator, mark: int) -> list[SentMessage]:
    return [m for m in sim.since(mark, GROUP_ID) if "muted" in m.text.lower()]


# --------------------------------------------------------------------------- answers
async def test_an_answer_goes_to_the_topic_the_command_was_typed_in(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock) as sim:
        ivan = await veteran(sim)
        logistics = await new_topic(sim, "Logistics")
        mark = sim.mark()
        await sim.say(ivan, "/help", thread=logistics)
        answer = sim.unique_reply(mark, GROUP_ID)
        assert answer.thread_id == logistics
        assert "/help" in answer.text
        # The same command in General is answered in General.
        mark = sim.mark()
        await sim.say(ivan, "/help")
        assert sim.unique_reply(mark, GROUP_ID).thread_id is None


async def test_a_moderators_answer_and_the_flood_notice_stay_in_the_topic(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock) as sim:
        ivan = await veteran(sim)
        shelter = await new_topic(sim, "Shelter cluster")
        mark = sim.mark()
        await flood(sim, ivan, shelter)
        (notice,) = flood_notices(sim, mark)
        assert notice.thread_id == shelter
        # The moderator replies in the topic to Ivan's last message: /unmute acts on Ivan
        # (the reply is the target, not the topic's creation) and the answer stays there.
        last = max(
            m.message_id
            for (chat, _id), m in sim.telegram.messages.items()
            if chat == GROUP_ID and m.from_id == ivan.id
        )
        mark = sim.mark()
        await sim.say(sim.telegram.users[MODERATOR_ID], "/unmute", reply_to=last, thread=shelter)
        answer = sim.unique_reply(mark, GROUP_ID)
        assert answer.thread_id == shelter
        assert answer.text == "🔈 Ivan Koval can write again."
        assert sim.telegram.groups[GROUP_ID].members[ivan.id].status == "member"
        # Without a reply in a topic, the topic's creation is not taken for the target.
        mark = sim.mark()
        await sim.say(sim.telegram.users[MODERATOR_ID], "/warn", thread=shelter)
        refusal = sim.unique_reply(mark, GROUP_ID)
        assert refusal.thread_id == shelter and "Whom do you mean?" in refusal.text


@pytest.mark.parametrize("by", ["name", "id"])
async def test_moderation_notices_go_to_the_configured_topic(
    config: LoadedConfig, clock: FakeClock, by: str
) -> None:
    # The topic must exist before it can be named by id; ids are message ids, so the first
    # topic created in the fake group is message 1.
    setting: int | str = " moderation LOG " if by == "name" else 1
    async with forum(config, clock, moderation=setting) as sim:
        moderation = await new_topic(sim, "Moderation log")
        assert moderation == 1
        chat = await new_topic(sim, "Chat")
        ivan = await veteran(sim)
        mark = sim.mark()
        await flood(sim, ivan, chat)
        (notice,) = flood_notices(sim, mark)
        assert notice.thread_id == moderation


async def test_a_named_topic_is_found_after_a_restart_from_a_message_in_it(
    config: LoadedConfig, clock: FakeClock
) -> None:
    """The bot learns names from topic messages (they reply to the topic's creation), so a
    name configured for a topic created while the bot was away is found once someone writes
    there; until then the notice goes where the trigger was."""
    async with forum(config, clock, moderation="Moderation") as sim:
        thread, _update = sim.telegram.create_topic(MODERATOR_ID, GROUP_ID, "Moderation")
        # The creation was never delivered (the bot was away): nothing known by that name yet.
        chat = await new_topic(sim, "Chat")
        ivan = await veteran(sim)
        mark = sim.mark()
        await flood(sim, ivan, chat)
        (first,) = flood_notices(sim, mark)
        assert first.thread_id == chat
        await sim.say(sim.telegram.users[MODERATOR_ID], "Moderators' corner", thread=thread)
        olga = await veteran(sim, "Olga")
        mark = sim.mark()
        await flood(sim, olga, chat)
        (second,) = flood_notices(sim, mark)
        assert second.thread_id == thread


async def test_a_renamed_topic_is_followed_by_its_new_name(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock, moderation="Mod desk") as sim:
        old = await new_topic(sim, "Mod desk")
        await sim.feed(sim.telegram.rename_topic(MODERATOR_ID, GROUP_ID, old, "Archive"))
        desk = await new_topic(sim, "Mod desk")
        chat = await new_topic(sim, "Chat")
        ivan = await veteran(sim)
        mark = sim.mark()
        await flood(sim, ivan, chat)
        (notice,) = flood_notices(sim, mark)
        assert notice.thread_id == desk


# --------------------------------------------------------------------------- cards, digests
async def test_the_introduction_card_goes_to_the_introductions_topic(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock, introductions="Introductions") as sim:
        intros = await new_topic(sim, "Introductions")
        ivan = await veteran(sim)
        link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
        olena = sim.user("Olena", "P.")
        mark = sim.mark()
        await sim.join(olena, link=link)
        card = sim.unique_reply(mark, GROUP_ID)
        assert card.text.startswith("👋 Ivan Koval introduces Olena Petrenko")
        assert card.thread_id == intros


async def test_without_a_configured_topic_the_card_goes_to_general(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock) as sim:
        await new_topic(sim, "Introductions")
        ivan = await veteran(sim)
        link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
        mark = sim.mark()
        await sim.join(sim.user("Olena", "P."), link=link)
        assert sim.unique_reply(mark, GROUP_ID).thread_id is None


async def test_the_group_deadline_digest_goes_to_the_deadlines_topic_by_id(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(config, clock, deadlines=1) as sim:
        deadlines = await new_topic(sim, "Deadlines")  # message 1: id 1
        alice = sim.user("Alice", username="alice_im")
        await subscribe(sim, alice)
        await sim.feed(sim.telegram.block_bot(alice.id))
        sim.services.topics.forums.clear()  # as after a restart: asked of Telegram (getChat)
        await run_until(sim, SITREP - timedelta(days=2))
        (digest,) = [m for m in sim.telegram.sent(GROUP_ID) if "SitRep inputs" in m.text]
        assert digest.thread_id == deadlines
        assert alice.id in digest.mentions
        assert sim.telegram.calls_to("getChat")


# --------------------------------------------------------------------------- plain groups
async def test_a_group_without_topics_works_unchanged_whatever_the_configuration(
    config: LoadedConfig, clock: FakeClock
) -> None:
    async with forum(
        config, clock, is_forum=False, introductions=5, deadlines="Deadlines", moderation=7
    ) as sim:
        ivan = await veteran(sim)
        mark = sim.mark()
        await flood(sim, ivan, None)
        (notice,) = flood_notices(sim, mark)
        assert notice.thread_id is None
        link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
        mark = sim.mark()
        await sim.join(sim.user("Olena", "P."), link=link)
        assert sim.unique_reply(mark, GROUP_ID).thread_id is None
        sent = sim.telegram.calls_to("sendMessage")
        assert not any("message_thread_id" in c for c in sent if c["chat_id"] == GROUP_ID)


# --------------------------------------------------------------------------- the fake, rules
def test_the_fake_refuses_a_thread_that_does_not_exist(sim: Simulator) -> None:
    telegram = sim.telegram
    with pytest.raises(ApiError, match="message thread not found"):
        telegram.handle(
            "sendMessage", {"chat_id": GROUP_ID, "text": "hi", "message_thread_id": 3}, {}
        )
    telegram.groups[GROUP_ID].is_forum = True
    with pytest.raises(ApiError, match="message thread not found"):
        telegram.handle(
            "sendMessage", {"chat_id": GROUP_ID, "text": "hi", "message_thread_id": 3}, {}
        )
    thread, _update = telegram.create_topic(MODERATOR_ID, GROUP_ID, "Topic")
    sent = telegram.handle(
        "sendMessage", {"chat_id": GROUP_ID, "text": "hi", "message_thread_id": thread}, {}
    )
    assert sent["message_thread_id"] == thread and sent["is_topic_message"] is True


def test_a_member_cannot_write_in_a_thread_of_a_plain_group(sim: Simulator) -> None:
    user = sim.user("Ivan")
    sim.group.members[user.id] = FakeMember("member")
    with pytest.raises(ApiError, match="message thread not found"):
        sim.telegram.message(user.id, GROUP_ID, "hello", thread=2)


def test_pick_thread() -> None:
    known = {topic_key("Moderation"): 4}
    assert pick_thread(True, None, known, None) is None  # General
    assert pick_thread(True, None, known, 9) == 9  # where the trigger was
    assert pick_thread(True, 12, known, 9) == 12  # configured by id
    assert pick_thread(True, "  MODERATION ", known, 9) == 4  # by name, as compared
    assert pick_thread(True, "Unknown", known, 9) == 9  # an unseen name: the trigger's topic
    assert pick_thread(True, "Unknown", known, None) is None
    assert pick_thread(False, 12, known, 9) is None  # no topics: never a thread id


def test_forum_topics_forget_a_renamed_topics_old_name() -> None:
    topics = ForumTopics()
    topics.name(GROUP_ID, "Desk", 3)
    topics.name(GROUP_ID, "Archive", 3)
    assert dict(topics.known(GROUP_ID)) == {"archive": 3}


@pytest.mark.parametrize("value", [0, -4, True, "", "   ", 1.5, ["x"]])
def test_a_topic_setting_must_be_an_id_or_a_name(value: object) -> None:
    with pytest.raises(ValidationError):
        TopicsPolicy.model_validate({"moderation": value})


# --------------------------------------------------------------------------- service messages
async def test_join_and_leave_lines_are_deleted_when_configured_never_the_card(
    config: LoadedConfig, clock: FakeClock
) -> None:
    group = config.settings.groups[0].model_copy(update={"delete_service_messages": True})
    settings = config.settings.model_copy(update={"groups": [group]})
    sim = Simulator(dataclasses.replace(config, settings=settings), clock)
    sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(MODERATOR_ID)
    await sim.start()
    try:
        ivan = await veteran(sim)
        link = await invite(sim, ivan, ["Olena Petrenko", "UNICEF", "WASH cluster IMO"])
        olena = sim.user("Olena", "P.")
        mark = sim.mark()
        await sim.join(olena, link=link)
        card = sim.unique_reply(mark, GROUP_ID)
        await sim.leave(olena)
        lines = [m for m in sim.telegram.messages.values() if m.service]
        assert len(lines) == 2 and all(m.deleted for m in lines)  # joined, left
        assert not sim.telegram.messages[(GROUP_ID, card.message_id)].deleted
    finally:
        await sim.stop()
    assert not sim.errors, f"the bot raised: {sim.errors!r}"


async def test_join_and_leave_lines_stay_by_default(sim: Simulator) -> None:
    user = sim.user("Petro")
    await sim.join(user)
    await sim.leave(user)
    lines = [m for m in sim.telegram.messages.values() if m.service]
    assert len(lines) == 2 and not any(m.deleted for m in lines)
