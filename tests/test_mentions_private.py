"""@all and tags reaching people privately (issue 20): ``/tags private`` / ``/tags group``, the
button of /tags, ``mentions.private_default``, and the fall back to a group mention when a
person has blocked the bot.

Who is notified is counted by Telegram's rules, written here: a private message notifies its
person; of a group message's mentions only the first five notify.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from simulation.faketg import FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.models import MentionDelivery
from tests.conftest import GROUP_ID
from tests.test_mentions import add_member, outbox
from tests.test_mentions import custom as custom
from tests.test_mentions_delivery import FIVE, at_most_per_minute, drain, mentioned_in_order


def notified(sim: Simulator, sent: list[SentMessage]) -> Counter[int]:
    counts: Counter[int] = Counter()
    for message in sent:
        if message.chat_id == GROUP_ID:
            counts.update(mentioned_in_order(sim, message)[:FIVE])
        elif message.chat_id > 0:
            counts[message.chat_id] += 1
    return counts


def choices(sim: Simulator) -> dict[int, bool]:
    from sqlalchemy import select

    with sim.services.db.transaction() as session:
        return {r.user_id: r.private for r in session.scalars(select(MentionDelivery))}


async def test_private_choice_then_all_reaches_everyone_with_fewer_group_messages(
    sim: Simulator,
) -> None:
    policy = sim.services.settings.groups[0].mentions
    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    people = [
        add_member(sim, f"M{i:02d}", "Member", started=i % 10 < 7, username=None) for i in range(40)
    ]
    private = [p for i, p in enumerate(people) if i % 10 < 7]
    for person in private:
        mark = sim.mark()
        await sim.dm(person, "/tags private")
        assert "reach you by a private message" in sim.unique_reply(mark, person.id).text
    assert choices(sim) == {p.id: True for p in private}
    mark = sim.mark()
    update = await sim.say(author, "@all the <b>3W</b> deadline moved")
    source = update["message"]["message_id"]
    await drain(sim)
    sent = sim.since(mark)
    group = [m for m in sent if m.chat_id == GROUP_ID]
    counts = notified(sim, sent)
    assert counts == Counter({p.id: 1 for p in people})  # everyone, once, by Telegram's rule
    in_group = len(people) - len(private)
    assert len(group) <= 1 + math.ceil(in_group / FIVE)
    assert at_most_per_minute(group, policy.per_minute)
    note = next(m for m in sent if m.chat_id == private[0].id)
    assert "Ivan Koval" in note.text
    assert sim.services.settings.groups[0].title in note.text
    assert "<b>3W</b>" in note.text  # typed markup shown as text, never rendered
    assert f'href="https://t.me/c/1234567890/{source}"' in note.html
    assert note.mention_entities == 0


async def test_tags_group_goes_back_and_the_button_toggles(sim: Simulator) -> None:
    olena = add_member(sim, "Olena", "Petrenko", started=True, organisation="UNICEF")
    await sim.dm(olena, "/tags private")
    mark = sim.mark()
    await sim.dm(olena, "/tags group")
    assert "mention you in the group" in sim.unique_reply(mark, olena.id).text
    assert choices(sim) == {olena.id: False}
    mark = sim.mark()
    await sim.dm(olena, "/tags")
    overview = sim.unique_reply(mark, olena.id)
    assert "mention you in the group" in overview.text
    await sim.press(olena, overview, "Tell me privately instead")
    assert choices(sim) == {olena.id: True}
    refreshed = sim.telegram.messages[(olena.id, overview.message_id)]
    assert "reach you privately" in refreshed.text
    await sim.press(olena, refreshed, "Mention me in the group")
    assert choices(sim) == {olena.id: False}


async def test_private_needs_a_started_bot_and_bad_arguments_get_a_polite_reply(
    sim: Simulator,
) -> None:
    taras = add_member(sim, "Taras", "Melnyk", "taras_m")  # never started the bot
    mark = sim.mark()
    await sim.say(taras, "/tags private")
    answer = sim.unique_reply(mark, GROUP_ID)
    assert "only after you start me" in answer.text
    assert choices(sim) == {}
    olena = add_member(sim, "Olena", "Petrenko", started=True)
    for typed in ("/tags private now", "/tags sideways", "/tags group <b>x</b>", "/tags on"):
        mark = sim.mark()
        await sim.dm(olena, typed)
        reply = sim.unique_reply(mark, olena.id)
        assert "/tags private" in reply.text and "/tags group" in reply.text
    assert choices(sim) == {}


async def test_blocked_bot_falls_back_to_a_group_mention(sim: Simulator) -> None:
    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    people = [add_member(sim, f"B{i:02d}", "Member", started=True) for i in range(12)]
    for person in people:
        await sim.dm(person, "/tags private")
    # Two blocked the bot without the bot hearing of it: the private send is refused.
    sim.telegram.blocked.update({people[0].id, people[1].id})
    mark = sim.mark()
    await sim.say(author, "@all meeting moved to 15:00")
    await drain(sim)
    sent = sim.since(mark)
    counts = notified(sim, sent)
    assert counts == Counter({p.id: 1 for p in people})
    group = [m for m in sent if m.chat_id == GROUP_ID]
    assert len(group) <= 1 + math.ceil(2 / FIVE)
    fallbacks = [r for r in outbox(sim) if r.status == "fallback"]
    assert {r.recipient_id for r in fallbacks} == {people[0].id, people[1].id}


async def test_private_default_reaches_those_who_started_the_bot(
    custom: Any,
) -> None:
    sim: Simulator = await custom(private_default=True)
    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    started = add_member(sim, "Olena", "Petrenko", started=True)
    stays: FakeUser = add_member(sim, "Pavlo", "Shevchenko", started=True)
    never = add_member(sim, "Taras", "Melnyk")
    await sim.dm(stays, "/tags group")
    mark = sim.mark()
    await sim.say(author, "@all hello")
    await drain(sim)
    sent = sim.since(mark)
    [notice] = [m for m in sent if m.chat_id == GROUP_ID]
    assert sorted(mentioned_in_order(sim, notice)) == sorted([stays.id, never.id])
    assert [m.chat_id for m in sent if m.chat_id > 0] == [started.id]
