"""/deadline add speaks of weeks as a person does ("a week", not "6 days 23 hours") and refuses
the ambiguous "every 2nd Wednesday" (every other Wednesday, or the second Wednesday of the
month?) with both unambiguous ways of writing it; driven through the whole bot."""

from __future__ import annotations

from simulation.simulator import Simulator
from tests.test_deadline_admin import WEEKLY, mira, say


async def test_an_ambiguous_weekday_is_refused_and_weeks_are_named(sim: Simulator) -> None:
    moderator = mira(sim)
    await say(sim, moderator, "/deadline add")
    for answer in WEEKLY:
        await say(sim, moderator, answer)
    reply = await say(sim, moderator, "every 2nd Wednesday 12:00")
    assert (
        "“every 2nd Wednesday” can be read two ways. Write “every 2 weeks on Wednesday” for "
        "every 2 weeks, or “the 2nd Wednesday of each month” for once a month"
    ) in reply, reply
    reply = await say(sim, moderator, "every second Friday 12:00")
    assert "“every 2 weeks on Friday”" in reply and "“the second Friday of each month”" in reply
    reply = await say(sim, moderator, "every last Friday 12:00")
    assert "write “the last Friday of each month”" in reply, reply
    # Both unambiguous spellings are read; the summary says "every other", not "every 2nd".
    assert "time zone" in await say(sim, moderator, "every other Wednesday 12:00")
    await say(sim, moderator, "Europe/Kyiv")
    reply = await say(sim, moderator, "15d")
    assert (
        "reminder offset 15 days is not shorter than the time between two occurrences (2 weeks)"
    ) in reply, reply
    summary = await say(sim, moderator, "1d")
    assert "When: every other Wednesday at 12:00 Kyiv time" in summary, summary
    assert "2nd" not in summary


async def test_a_weekly_limit_is_a_week_even_across_a_clock_change(sim: Simulator) -> None:
    # Kyiv moves its clocks on Sunday 28 March 2027: that week is 6 days 23 hours long.
    moderator = mira(sim)
    await say(sim, moderator, "/deadline add")
    for answer in WEEKLY:
        await say(sim, moderator, answer)
    await say(sim, moderator, "every Friday 12:00 from 2027-03-20")
    await say(sim, moderator, "Europe/Kyiv")
    reply = await say(sim, moderator, "8d")
    assert (
        "reminder offset 8 days is not shorter than the time between two occurrences (a week)"
    ) in reply, reply
    assert "hours" not in reply


async def test_the_same_refusals_in_ukrainian(sim: Simulator) -> None:
    moderator = mira(sim)
    await say(sim, moderator, "/language uk")
    await say(sim, moderator, "/deadline add")
    for answer in WEEKLY:
        await say(sim, moderator, answer)
    reply = await say(sim, moderator, "every 2nd Wednesday 12:00")
    assert "«every 2nd Wednesday» можна зрозуміти двояко" in reply, reply
    assert "«every 2 weeks on Wednesday»" in reply and "раз на місяць" in reply
    await say(sim, moderator, "every Friday 12:00 from 2027-03-20")
    await say(sim, moderator, "Europe/Kyiv")
    reply = await say(sim, moderator, "8d")
    assert "8 днів" in reply and "(тиждень)" in reply, reply


async def test_ukrainian_ordinals_agree_with_the_weekday(sim: Simulator) -> None:
    # "друга середа" (feminine) but "перший понеділок" (masculine): 2-га середа, 1-й понеділок.
    moderator = mira(sim)
    expected = {
        "the 2nd Wednesday of each month 12:00": "2-га середа кожного місяця о 12:00",
        "last Friday of every month 16:00": "остання пʼятниця кожного місяця о 16:00",
        "first Monday of each month 10:00": "1-й понеділок кожного місяця о 10:00",
    }
    await say(sim, moderator, "/language uk")
    for schedule, words in expected.items():
        await say(sim, moderator, "/deadline add")
        for answer in WEEKLY:
            await say(sim, moderator, answer)
        await say(sim, moderator, schedule)
        await say(sim, moderator, "Europe/Kyiv")
        summary = await say(sim, moderator, "1d")
        assert words in summary, summary
        await say(sim, moderator, "/cancel")
    await say(sim, moderator, "/language en")
    await say(sim, moderator, "/deadline add")
    for answer in WEEKLY:
        await say(sim, moderator, answer)
    await say(sim, moderator, "the 2nd Wednesday of each month 12:00")
    await say(sim, moderator, "Europe/Kyiv")
    summary = await say(sim, moderator, "1d")
    assert "the 2nd Wednesday of every month at 12:00 Kyiv time" in summary, summary
