"""/help is short and grouped by topic, and each person sees only what they can do.

Oracle: issue "What a newcomer trips over" items 1-2 and the README's command table — a
moderator's /help is not a wall of ~40 commands; a non-member is not offered /invite, /leave,
/extend (which would refuse them); a topic lists its commands with their descriptions.
"""

from __future__ import annotations

import re

from moderation.help import Topic, unplaced
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_joins import veteran

MEMBERS_ONLY = ("/invite", "/leave", "/leaving", "/extend", "/tags")
MODERATOR_ONLY = ("/warn", "/ban", "/mute", "/audit", "/status", "/deadline ", "/override")


def commands_in(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w/])/[a-z]+", text))


async def test_a_non_member_is_offered_only_what_they_can_do(sim: Simulator) -> None:
    stranger = sim.user("Olena")
    mark = sim.mark()
    await sim.dm(stranger, "/start")
    text = sim.unique_reply(mark, stranger.id).text
    offered = commands_in(text)
    assert not offered & {c.strip() for c in MEMBERS_ONLY}, offered
    assert not offered & {c.strip() for c in MODERATOR_ONLY}, offered
    assert {"/help", "/language", "/contact", "/deadlines"} <= offered


async def test_a_member_is_offered_the_member_commands(sim: Simulator) -> None:
    ivan = await veteran(sim)
    mark = sim.mark()
    await sim.dm(ivan, "/help")
    offered = commands_in(sim.unique_reply(mark, ivan.id).text)
    assert {c.strip() for c in MEMBERS_ONLY} <= offered
    assert not offered & {c.strip() for c in MODERATOR_ONLY}


async def test_a_moderators_help_is_short_and_grouped(sim: Simulator) -> None:
    mark = sim.mark()
    await sim.dm(sim.telegram.users[MODERATOR_ID], "/help")
    reply = sim.unique_reply(mark, MODERATOR_ID)
    assert len(reply.text.splitlines()) <= 14  # was about 40 lines, one per command
    labels = [b["text"] for b in reply.buttons()]
    assert labels == [
        "Joining and leaving",
        "Mentions",
        "Deadlines",
        "Contact directory",
        "Moderation",
    ]
    assert {"/warn", "/ban", "/deadline", "/status"} <= commands_in(reply.text)


async def test_a_topic_button_shows_its_commands_with_descriptions(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    await sim.dm(mira, "/help")
    menu = sim.last(MODERATOR_ID)
    await sim.press(mira, menu, "Moderation")
    shown = sim.telegram.messages[(MODERATOR_ID, menu.message_id)]
    assert shown.text.startswith("Moderation\n")
    assert "/warn WHO REASON — Warn a member (repeated warnings escalate)" in shown.text
    assert "/deadlines" not in shown.text  # another topic
    await sim.press(mira, shown, "All topics")
    again = sim.telegram.messages[(MODERATOR_ID, menu.message_id)]
    assert again.text.startswith("Commands you can use here")
    answered = [c for c in sim.telegram.calls if c.method == "answerCallbackQuery"]
    assert len(answered) == 2  # each press answered once


async def test_a_forged_topic_press_shows_nothing_more(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/help")
    menu = sim.last(ivan.id)
    before = menu.text
    for forged in ("help:moderation", "help:nonsense", "help:all"):
        mark = len(sim.telegram.calls)
        await sim.feed(sim.telegram.forged_press(ivan.id, ivan.id, menu.message_id, forged))
        calls = sim.telegram.calls[mark:]
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answers) == 1
        if forged != "help:all":
            assert "I have no help topic by that name" in str(answers[0].params.get("text"))
            assert not [c for c in calls if c.method.startswith("edit")]
    shown = sim.telegram.messages[(ivan.id, menu.message_id)].text
    assert "/warn" not in shown and "/ban" not in shown
    assert shown == before


async def test_help_with_a_topic_or_a_command_name(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    for asked in ("/help deadlines", "/help deadl", "/help submitted"):
        mark = sim.mark()
        await sim.dm(mira, asked)
        text = sim.unique_reply(mark, MODERATOR_ID).text
        assert text.startswith("Deadlines\n") and "/submitted ID — Record that you" in text
    mark = sim.mark()
    await sim.dm(mira, "/help <b>x</b>")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert text.startswith("I have no help topic by that name")
    assert "<b>" not in text  # nothing the person typed is echoed


async def test_a_member_asking_for_the_moderation_topic_is_told_the_topics(sim: Simulator) -> None:
    ivan = await veteran(sim)
    mark = sim.mark()
    await sim.dm(ivan, "/help moderation")
    text = sim.unique_reply(mark, ivan.id).text
    assert "I have no help topic by that name" in text and "moderation" not in text


async def test_help_in_the_group_names_topics_without_buttons(sim: Simulator) -> None:
    ivan = await veteran(sim)
    mark = sim.mark()
    await sim.say(ivan, "/help")
    reply = sim.unique_reply(mark, GROUP_ID)
    assert "(/help deadlines)" in reply.text and reply.buttons() == []


async def test_topics_speak_the_persons_language(sim: Simulator) -> None:
    olena = sim.user("Olena", language_code="uk")
    sim.group.members[olena.id] = FakeMember("member")
    await sim.say(olena, "Добрий день")
    mark = sim.mark()
    await sim.dm(olena, "/help")
    reply = sim.unique_reply(mark, olena.id)
    assert "Терміни" in [b["text"] for b in reply.buttons()]
    await sim.press(olena, reply, "Терміни")
    shown = sim.telegram.messages[(olena.id, reply.message_id)].text
    assert shown.startswith("Терміни\n") and "Надішліть /help, щоб побачити всі теми." in shown


async def test_every_command_belongs_to_a_topic(sim: Simulator) -> None:
    assert unplaced(sim.services.commands) == []
    assert {t.value for t in Topic} == {
        "joining",
        "mentions",
        "deadlines",
        "directory",
        "moderation",
    }
