"""What a newcomer reads when they get something slightly wrong: the bot says what is wrong
in their language (issue: "What a newcomer trips over"), driven through the whole bot."""

from __future__ import annotations

from simulation.simulator import Simulator
from tests.test_joins import veteran
from tests.test_languages import choose
from tests.test_lifecycle import member


async def test_a_day_that_does_not_exist_is_named_not_unreadable(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    expected = {
        "/leaving 31 Feb": "February has no day 31 (it has 28 days).",
        "/leaving 31.04.2027": "April has no day 31 (it has 30 days).",
        "/leaving 2027-02-29": "29 February exists only in leap years; choose another day.",
        "/leaving 32 Dec": "December has no day 32 (it has 31 days).",
        "/leaving soonish": "I could not read that date. Try 2026-12-20, 20 Dec or “in 3 weeks”.",
    }
    for text, reply in expected.items():
        mark = sim.mark()
        await sim.dm(olena, text)
        assert sim.unique_reply(mark, olena.id).text == reply, text
    # 29 February of a leap year is a real day: the bot goes on to ask for confirmation.
    mark = sim.mark()
    await sim.dm(olena, "/leaving 2028-02-29")
    assert "no day" not in sim.unique_reply(mark, olena.id).text


async def test_the_missing_day_is_named_in_the_readers_language(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await choose(sim, olena, "Українська")
    mark = sim.mark()
    await sim.dm(olena, "/leaving 31 Feb")
    text = sim.unique_reply(mark, olena.id).text
    assert "лют" in text.lower() and "31" in text and "28" in text, text
    assert "February" not in text
