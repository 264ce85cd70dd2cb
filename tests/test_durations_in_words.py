"""Lengths in sentences are words in the reader's language ("30 days", "1 day", "2 hours"),
never the configuration's notation ("30d"), driven through the whole bot. The example
configuration: warnings count for 30d, the 3rd warning mutes for 1d."""

from __future__ import annotations

import re

from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import member, mira

NOTATION = re.compile(r"\b\d+[smhdw]\b")


def plain(text: str) -> str:
    """Without the isolates that keep numbers readable inside Arabic sentences."""
    return re.sub("[\u2066-\u2069\u200f]", "", text)


async def test_lengths_are_words_in_english(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/warn @ivan spam")
    assert "Warnings in the last 30 days: 1." in sim.unique_reply(mark, GROUP_ID).text
    private = sim.unique_reply(mark, ivan.id).text
    assert "Your warnings in the last 30 days: 1." in private, private
    assert "At 3 warnings within 30 days you would be muted for 1 day." in private, private
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 2h memes")
    assert "Ivan Koval is muted for 2 hours, until" in sim.unique_reply(mark, GROUP_ID).text
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    audit = sim.unique_reply(mark, MODERATOR_ID).text
    assert "muted Ivan Koval — memes (2 hours)" in audit, audit
    assert "warning 1 in 30 days" in audit, audit
    assert not NOTATION.search(audit), audit


async def test_lengths_are_words_in_ukrainian_and_arabic(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    petro = await member(sim, "Petro")
    await sim.dm(ivan, "/language uk")
    await sim.dm(petro, "/language ar")
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 2h memes")
    ukrainian = sim.unique_reply(mark, ivan.id).text
    assert "заглушили вас на 2 години, до" in ukrainian, ukrainian
    mark = sim.mark()
    await sim.say(mira(sim), "/warn @ivan spam")
    assert "Ваших попереджень за останні 30 днів: 1." in sim.unique_reply(mark, ivan.id).text
    mark = sim.mark()
    await sim.say(mira(sim), "/warn @petro spam")
    arabic = plain(sim.unique_reply(mark, petro.id).text)
    assert "تحذيراتك خلال آخر 30 يومًا: 1." in arabic, arabic
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @petro 1d memes")
    arabic = plain(sim.unique_reply(mark, petro.id).text)
    assert "يوم" in arabic and not NOTATION.search(arabic), arabic
