"""@all that Telegram really notifies (issue 20): at most five mentions per group message,
broadcasts from different authors interleaving, every notice at once.

The oracle is Telegram's rule, written here from the rule and not from the bot's code: of a
message's mention entities, in the order they appear, only the first five notify; the others
show as mentions and notify nobody.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from config.loader import ConfigError, load_settings
from simulation.faketg import SentMessage, parse_message
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID
from tests.test_mentions import add_member, outbox

FIVE = 5  # Telegram notifies the first five mentions of a message, and no more
STEP = timedelta(seconds=2)  # the mention-batches sweep's interval


def mentioned_in_order(sim: Simulator, message: SentMessage) -> list[int]:
    """The people a message mentions, in the order Telegram stores the entities."""
    by_name = {u.username.lower(): u.id for u in sim.telegram.users.values() if u.username}
    people = []
    for entity in parse_message(message.html, "HTML").entities:
        if entity.user_id is not None:
            people.append(entity.user_id)
        elif entity.username is not None and entity.username.lower() in by_name:
            people.append(by_name[entity.username.lower()])
    return people


def notified_by_rule(sim: Simulator, messages: list[SentMessage]) -> Counter[int]:
    return Counter(uid for m in messages for uid in mentioned_in_order(sim, m)[:FIVE])


async def drain(sim: Simulator, most: int = 2000) -> None:
    for _ in range(most):
        if not any(r.status in ("pending", "sending") for r in outbox(sim)):
            return
        await sim.advance(STEP)
    raise AssertionError("mention messages still waiting")


def at_most_per_minute(messages: list[SentMessage], per_minute: int) -> bool:
    times = sorted(m.date for m in messages)
    return all(sum(1 for t in times if s <= t < s + 60) <= per_minute for s in times)


async def test_205_members_every_one_notified_by_the_five_mention_rule(sim: Simulator) -> None:
    """The issue's group: 205 members gave 26 messages of 8 mentions, a third unnotified."""
    policy = sim.services.settings.groups[0].mentions
    assert policy.batch_size == FIVE  # the default
    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    people = [
        add_member(sim, f"M{i:03d}", "Member", f"member_{i:03d}" if i % 4 == 0 else None)
        for i in range(204)
    ]
    mark = sim.mark()
    await sim.say(author, "@all the 3W template changed")
    await drain(sim)
    sent = sim.since(mark, GROUP_ID)
    everyone = {p.id for p in people}
    counts = notified_by_rule(sim, sent)
    # The moderator fixture (Mira) is not in the group; everyone else but the author is.
    assert set(counts) == everyone
    assert set(counts.values()) == {1}
    for message in sent:
        assert len(mentioned_in_order(sim, message)) <= FIVE
        assert message.mention_entities <= FIVE
    # 204 people, five a message: the notice carries the first five, then 40 more.
    assert len(sent) == -(-204 // FIVE)
    assert at_most_per_minute(sent, policy.per_minute)
    # The fake Bot API counts the same way.
    assert sim.telegram.notified_users(GROUP_ID) == counts


async def test_two_authors_interleave_and_each_notice_goes_at_once(sim: Simulator) -> None:
    policy = sim.services.settings.groups[0].mentions
    ann = add_member(sim, "Ann", "A", "ann_a")
    bob = add_member(sim, "Bob", "B", "bob_b")
    for i in range(60):
        add_member(sim, f"Q{i:02d}", "Member", organisation="UNICEF" if i < 30 else None)
    mark = sim.mark()
    await sim.say(ann, "@all first")
    await sim.say(bob, "@all second")
    now = sim.since(mark, GROUP_ID)
    # Both notices at once, before any batch.
    assert [m.text.split(" → ")[0] for m in now] == ["📣 Ann A", "📣 Bob B"]
    await drain(sim)
    sent = sim.since(mark, GROUP_ID)
    batches = sent[2:]
    authors = ["Ann" if "from Ann A" in m.text else "Bob" for m in batches]
    # Round-robin: while both have batches waiting, they alternate.
    assert authors.count("Ann") == authors.count("Bob") == 12
    assert all(a != b for a, b in itertools.pairwise(authors))
    assert at_most_per_minute(sent, policy.per_minute)
    counts = notified_by_rule(sim, sent)
    assert all(n == 2 for uid, n in counts.items() if uid not in (ann.id, bob.id))


async def test_a_notice_goes_at_once_while_another_broadcast_fills_the_pace(
    sim: Simulator,
) -> None:
    policy = sim.services.settings.groups[0].mentions
    ann = add_member(sim, "Ann", "A", "ann_a")
    bob = add_member(sim, "Bob", "B", "bob_b")
    for i in range(150):
        add_member(sim, f"Q{i:03d}", "Member", organisation="WFP" if i % 10 == 0 else None)
    await sim.say(ann, "@all a long announcement")
    for _ in range(20):  # 40 s: Ann's batches use every slot the pace allows
        await sim.advance(STEP)
    pending = [r for r in outbox(sim) if r.status == "pending"]
    assert pending  # Ann's queue is far from done
    mark = sim.mark()
    await sim.say(bob, "@wfp please check the distribution list")
    notice = sim.unique_reply(mark, GROUP_ID)
    assert notice.text.startswith("📣 Bob B → @wfp (15 people)")
    await drain(sim)
    assert at_most_per_minute(sim.since(0, GROUP_ID), policy.per_minute)


async def test_a_message_with_more_mentions_notifies_only_five(sim: Simulator) -> None:
    """The fake Bot API applies the rule the tests rely on (eight mentions: three unnotified)."""
    people = [add_member(sim, f"R{i}", "Member") for i in range(8)]
    links = ", ".join(f'<a href="tg://user?id={p.id}">R</a>' for p in people)
    await sim.app.bot.send_message(GROUP_ID, links, parse_mode="HTML")
    [message] = sim.since(0, GROUP_ID)[-1:]
    assert message.mention_entities == 8
    assert message.notified == [p.id for p in people[:FIVE]]


@pytest.mark.parametrize("size", [0, 6, 8, 50])
def test_batch_size_above_five_is_refused_with_the_reason(tmp_path: Path, size: int) -> None:
    text = f"""
groups:
  - chat_id: -100123
    title: Test group
    mentions: {{batch_size: {size}}}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    [problem] = caught.value.problems
    assert "batch_size" in problem
    assert "Telegram notifies only the first 5 mentions of a message" in problem
