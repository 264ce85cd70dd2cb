"""/audit reads in the moderator's own language: what the bot recorded about an action (the
warning count and window, the escalation, a flood, a purge) is stored without a language and
written out for each reader; driven through the whole bot. The example configuration: warnings
count for 30d, the 3rd mutes for 1d; flood: 8 messages in 30s mute for 10m."""

from __future__ import annotations

import re
from datetime import timedelta

from simulation.simulator import Simulator
from tests.conftest import MODERATOR_ID
from tests.moderation_support import member, mira

ENGLISH = re.compile(
    r"\b(warning|warnings|in|muted|for|day|days|minutes|seconds|messages|escalation|after|"
    r"deleted|of|asked|removed|banned|automatic|could|not)\b"
)


async def three_warnings_a_flood_and_a_purge(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    for n in range(3):
        await sim.say(mira(sim), f"/warn @ivan спам {n}")
    await sim.say(mira(sim), "/unmute @ivan")
    petro = await member(sim, "Petro")
    for n in range(7):  # with the greeting: 8 messages within 30 seconds
        await sim.say(petro, f"ще {n}")
    ids = [(await sim.say(ivan, f"щось {n}"))["message"]["message_id"] for n in range(2)]
    await sim.say(mira(sim), "/purge 2", reply_to=ids[0])


async def test_audit_in_english(sim: Simulator) -> None:
    await three_warnings_a_flood_and_a_purge(sim)
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert "warned Ivan Koval — спам 2 (warning 3 in 30 days; muted for 1 day)" in text, text
    assert "muted Ivan Koval — спам 2 (escalation after 3 warnings)" in text, text
    assert "muted for flooding Petro Koval (8 messages in 30 seconds; muted for 10 minutes)" in text
    assert "(2 deleted of 2 asked)" in text, text


async def test_audit_in_ukrainian_has_no_english_words(sim: Simulator) -> None:
    await three_warnings_a_flood_and_a_purge(sim)
    await sim.dm(mira(sim), "/language uk")
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert "попередження 3 за 30 днів" in text, text
    for line in text.splitlines()[1:]:
        # Names and what people typed stay as they are; every other word is Ukrainian.
        words = line.replace("Mira Moderator", "").replace("Ivan Koval", "")
        words = words.replace("Petro Koval", "")
        assert not ENGLISH.search(words), line


async def test_an_automatic_removal_is_audited_with_its_cause(sim: Simulator) -> None:
    # Added by Ivan, Pavlo never introduces himself: after 72h he is removed (the example's
    # introduction_deadline). A mute that ran out meanwhile leaves no "mute ended" behind.
    ivan = await member(sim, "Ivan")
    pavlo = sim.user("Pavlo", "Melnyk", "pavlo")
    await sim.join(pavlo, added_by=ivan)
    await sim.advance(timedelta(hours=73))
    await sim.advance(timedelta(hours=1))
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    english = sim.unique_reply(mark, MODERATOR_ID).text
    assert (
        "automatic: removed Pavlo Melnyk (the introduction was not completed in time)" in english
    ), english
    assert "mute ended" not in english
    await sim.dm(mira(sim), "/language uk")
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    ukrainian = sim.unique_reply(mark, MODERATOR_ID).text
    assert "(представлення не завершили вчасно)" in ukrainian, ukrainian
    assert "introduction" not in ukrainian


async def test_a_removed_members_history_ends_with_the_removal(sim: Simulator) -> None:
    await member(sim, "Ivan")
    await sim.say(mira(sim), "/mute @ivan 1h spam")
    await sim.say(mira(sim), "/remove @ivan spam again")
    await sim.advance(timedelta(hours=2))
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit @ivan")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert "removed Ivan Koval — spam again" in text and "mute ended" not in text, text
