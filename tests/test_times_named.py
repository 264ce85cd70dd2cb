"""Every time the bot shows names its zone, in the reader's language ("23 Nov 2026, 13:00 Kyiv
time", "… за часом міста Київ"), driven through the whole bot. The example group is in
Europe/Kyiv (UTC+2 in winter) and the test clock starts on 23 Nov 2026 at 09:00 UTC."""

from __future__ import annotations

from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.moderation_support import member, mira

# Babel writes Ukrainian years as "2026 р." with a narrow no-break space.
UK_DAY = "23 лист. 2026\u202fр."


async def test_a_mute_says_until_when_in_kyiv_time_in_english(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 2h Too many memes")
    note = sim.unique_reply(mark, GROUP_ID).text
    assert "until 23 Nov 2026, 13:00 Kyiv time." in note, note
    assert "until 23 Nov 2026, 13:00 Kyiv time." in sim.unique_reply(mark, ivan.id).text
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    audit = sim.unique_reply(mark, MODERATOR_ID).text
    assert "23 Nov 2026, 11:00 Kyiv time · Mira Moderator muted Ivan Koval" in audit, audit
    mark = sim.mark()
    await sim.dm(mira(sim), "/warn @ivan spam")
    await sim.dm(mira(sim), "/warns @ivan")
    listing = sim.since(mark, MODERATOR_ID)[-1].text
    assert "23 Nov 2026, 11:00 Kyiv time" in listing, listing


async def test_the_zone_is_named_in_ukrainian_with_the_citys_ukrainian_name(
    sim: Simulator,
) -> None:
    ivan = await member(sim, "Ivan")
    await sim.dm(ivan, "/language uk")
    await sim.dm(mira(sim), "/language uk")
    mark = sim.mark()
    await sim.say(mira(sim), "/mute @ivan 2h Забагато мемів")
    private = sim.unique_reply(mark, ivan.id).text
    assert f"до {UK_DAY}, 13:00 за часом міста Київ." in private, private
    assert "Kyiv" not in private
    mark = sim.mark()
    await sim.dm(mira(sim), "/audit")
    audit = sim.unique_reply(mark, MODERATOR_ID).text
    assert f"{UK_DAY}, 11:00 за часом міста Київ · Mira Moderator" in audit, audit
    assert "Kyiv" not in audit
