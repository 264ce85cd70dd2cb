"""The membership lifecycle end to end, time-limited memberships: the expiry notice, /extend
by the sponsor or a moderator, removal at the end, and out-of-country members who lose their
sponsor (a new sponsor, nobody, a moderator or an admin as the sponsor); driven by the clock
through the fake Bot API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from moderation.roster import MemberStatus
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import status
from tests.lifecycle import causes, member, mira, out_of_country, question, row_of, until
from tests.test_joins import intro_of, veteran


# --------------------------------------------------------------------------- expiry
async def test_expiry_notice_extension_and_removal(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    sam = await member(sim, ivan, "Sam", "Surge", category="Surge", extra=["14 Dec"])
    assert intro_of(sim, sam.id).end_date == date(2026, 12, 14)  # type: ignore[union-attr]
    mark = sim.mark()
    await until(sim, datetime(2026, 12, 7, 6, 55, tzinfo=UTC))
    assert sim.since(mark, sam.id) == []
    await until(sim, datetime(2026, 12, 7, 7, 5, tzinfo=UTC))
    to_sam = sim.unique_reply(mark, sam.id)
    assert "ends on Monday, 14 December 2026" in to_sam.text
    assert "ask your sponsor (Ivan Koval) to extend it" in to_sam.text
    to_ivan = sim.unique_reply(mark, ivan.id)
    assert "/extend @sam 30d" in to_ivan.text
    await sim.advance(timedelta(hours=2))
    assert len(sim.since(mark, sam.id)) == 1  # once
    # Only the sponsor or a moderator extends, within the maximum.
    bohdan = await veteran(sim, "Bohdan")
    await sim.say(bohdan, "/extend @sam 30d")
    assert "Only the sponsor of Sam Surge or a moderator" in sim.last(GROUP_ID).text
    await sim.dm(ivan, "/extend @sam 200d")
    assert "at most 90 days from today: choose a date on or before 7 Mar 2027" in (
        sim.last(ivan.id).text
    )
    await sim.dm(ivan, "/extend @sam 10m")
    assert "whole days" in sim.last(ivan.id).text
    await sim.dm(ivan, "/extend @sam")
    assert "By how long?" in sim.last(ivan.id).text
    await sim.dm(mira(sim), "/extend @ivan 30d")
    assert sim.last(MODERATOR_ID).text == (
        "Ivan Koval: That is a membership in the country; it does not expire."
    )
    await sim.press(ivan, to_ivan, "Extend by 30 days")
    assert intro_of(sim, sam.id).end_date == date(2027, 1, 13)  # type: ignore[union-attr]
    assert "now runs until Wednesday, 13 January 2027" in sim.last(sam.id).text
    assert any(c == "sponsor: extended from 2026-12-14 to 2027-01-13" for c in causes(sim, sam.id))
    await until(sim, datetime(2026, 12, 14, 8, 0, tzinfo=UTC))
    assert status(sim, sam.id) is MemberStatus.MEMBER
    mark = sim.mark()
    await until(sim, datetime(2027, 1, 6, 7, 5, tzinfo=UTC))
    assert any("ends on Wednesday, 13 January 2027" in m.text for m in sim.since(mark, sam.id))
    await until(sim, datetime(2027, 1, 13, 7, 5, tzinfo=UTC))
    assert status(sim, sam.id) is MemberStatus.REMOVED
    assert any("time-limited membership ended today" in m.text for m in sim.since(mark, GROUP_ID))
    assert "expiry" in causes(sim, sam.id)


async def test_moderator_extends_by_date(sim: Simulator) -> None:
    ivan = await veteran(sim)
    sam = await member(sim, ivan, "Sam", "Surge", category="Surge", extra=["14 Dec"])
    await sim.dm(mira(sim), "/extend Sam Surge 2027-01-20")
    assert sim.last(MODERATOR_ID).text == (
        "Done: the membership of Sam Surge now runs until Wednesday, 20 January 2027."
    )
    assert any(c.startswith("moderator: extended") for c in causes(sim, sam.id))
    await sim.dm(mira(sim), "/extend Sam Surge 2026-12-01")
    assert "already runs until 20 Jan 2027" in sim.last(MODERATOR_ID).text


# --------------------------------------------------------------------------- lost sponsors
async def test_sponsor_leaves_new_sponsor_confirms(sim: Simulator) -> None:
    ivan = await veteran(sim)
    bohdan = await veteran(sim, "Bohdan")
    await sim.dm(bohdan, "/start")
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    mark = sim.mark()
    await sim.advance(timedelta(minutes=15))
    ask = sim.unique_reply(mark, otto.id)
    assert "Your sponsor Ivan Koval is no longer a member working in the country" in ask.text
    told = sim.unique_reply(mark, MODERATOR_ID)
    assert "Otto Remote (outside the country) lost their sponsor Ivan Koval" in told.text
    await sim.advance(timedelta(minutes=15))
    assert len(sim.since(mark, otto.id)) == 1
    await sim.press(otto, ask, "Name a new sponsor")
    await sim.dm(otto, "@bohdan")
    await sim.press(bohdan, question(sim, bohdan), "I sponsor them")
    intro = intro_of(sim, otto.id)
    assert intro is not None and intro.sponsor_id == bohdan.id
    assert intro.end_date == date(2027, 1, 18)  # unchanged
    row = row_of(sim, otto.id)
    assert row is not None and row.sponsor_lost_at is None
    assert any(c.startswith("sponsor: new sponsor") for c in causes(sim, otto.id))
    await sim.advance(timedelta(days=8))
    assert status(sim, otto.id) is MemberStatus.MEMBER


async def test_sponsor_leaves_nobody_steps_in_member_removed(sim: Simulator) -> None:
    ivan = await veteran(sim)
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    await sim.advance(timedelta(minutes=15))
    mark = sim.mark()
    await sim.advance(timedelta(days=7))
    assert status(sim, otto.id) is MemberStatus.REMOVED
    assert any("needs a sponsor working in the country" in m.text for m in sim.since(mark))
    assert any(
        "Otto Remote was removed" in m.text and "sponsor: none left" in m.text
        for m in sim.since(mark, MODERATOR_ID)
    )


async def test_a_surge_sponsor_cannot_take_over(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    sam = await member(sim, ivan, "Sam", "Surge", category="Surge", extra=["in 6 weeks"])
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    await sim.advance(timedelta(minutes=15))
    await sim.press(otto, question(sim, otto), "Name a new sponsor")
    await sim.dm(otto, "@sam")
    assert "only a member working in the country can sponsor" in sim.last(otto.id).text
    assert sam.id not in [r.pending_sponsor_id for r in [row_of(sim, otto.id)] if r]


@pytest.mark.parametrize("why", ["blocked the bot", "never started the bot"])
async def test_expiry_question_goes_to_the_moderators_when_the_sponsor_cannot_be_reached(
    sim: Simulator, why: str
) -> None:
    ivan = await veteran(sim)
    otto = await out_of_country(sim, ivan)  # until Monday 18 January 2027
    if why == "blocked the bot":
        await sim.feed(sim.telegram.block_bot(ivan.id))
    else:
        sim.telegram.started.discard(ivan.id)  # Telegram: "chat not found"
    mark = sim.mark()
    await until(sim, datetime(2027, 1, 11, 7, 5, tzinfo=UTC))  # 09:05 Kyiv, 7 days before
    assert "ask your sponsor (Ivan Koval) to extend it" in sim.unique_reply(mark, otto.id).text
    assert sim.since(mark, ivan.id) == []
    to_mira = sim.unique_reply(mark, MODERATOR_ID)
    assert to_mira.text == (
        "The membership of Otto Remote in Ukraine IM community ends on Monday, 18 January 2027. "
        "Extend it? Or send /extend @otto 30d (or a date), at most 90 days from today.\n"
        "I cannot write to their sponsor Ivan Koval privately, so I ask the moderators."
    )
    assert [b["text"] for b in to_mira.buttons()] == ["Extend by 30 days", "Let it end"]
    await sim.advance(timedelta(hours=2))
    assert len(sim.since(mark, MODERATOR_ID)) == 1  # once
    await sim.press(mira(sim), to_mira, "Extend by 30 days")
    assert intro_of(sim, otto.id).end_date == date(2027, 2, 17)  # type: ignore[union-attr]
    assert "now runs until Wednesday, 17 February 2027" in sim.last(otto.id).text
    assert "moderator: extended from 2027-01-18 to 2027-02-17" in causes(sim, otto.id)
    await until(sim, datetime(2027, 1, 18, 8, 0, tzinfo=UTC))
    assert status(sim, otto.id) is MemberStatus.MEMBER


async def test_a_moderator_sponsor_who_left_the_group_still_counts(sim: Simulator) -> None:
    """Configured moderators count as sponsors in the country, members of the group or not."""
    moderator = mira(sim)
    sim.group.members[MODERATOR_ID] = FakeMember("member")
    await sim.say(moderator, "Hello")
    otto = await out_of_country(sim, moderator)
    assert intro_of(sim, otto.id).sponsor_id == MODERATOR_ID  # type: ignore[union-attr]
    await sim.leave(moderator)
    assert status(sim, MODERATOR_ID) is MemberStatus.LEFT
    mark = sim.mark()
    await sim.advance(timedelta(minutes=15))
    assert sim.since(mark, otto.id) == [] and sim.since(mark, MODERATOR_ID) == []
    row = row_of(sim, otto.id)
    assert row is not None and row.sponsor_lost_at is None  # not "lost their sponsor"
    await sim.dm(moderator, "/expiring 60d")
    listing = sim.last(MODERATOR_ID).text
    assert (
        "Otto Remote: outside the country (sponsored) until Mon, 18 Jan 2027; sponsor Mira "
        "Moderator" in listing
    )
    assert "without a sponsor" not in listing
    # The expiry question reaches her as the sponsor, outside the group; she extends.
    mark = sim.mark()
    await until(sim, datetime(2027, 1, 11, 7, 5, tzinfo=UTC))
    assert "ask your sponsor (Mira Moderator)" in sim.unique_reply(mark, otto.id).text
    ask = sim.unique_reply(mark, MODERATOR_ID)
    assert ask.text.startswith("The membership of Otto Remote") and "I cannot" not in ask.text
    await sim.press(moderator, ask, "Extend by 30 days")
    assert intro_of(sim, otto.id).end_date == date(2027, 2, 17)  # type: ignore[union-attr]
    await until(sim, datetime(2027, 1, 25, 8, 0, tzinfo=UTC))
    assert status(sim, otto.id) is MemberStatus.MEMBER


async def test_an_admin_sponsor_who_leaves_is_an_ordinary_lost_sponsor(sim: Simulator) -> None:
    """Admins are moderators only while they are admins of the group: leaving ends that."""
    olha = await veteran(sim, "Olha")
    sim.group.members[olha.id] = FakeMember("administrator")
    await sim.advance(timedelta(minutes=1))  # the admin check learns she is an admin
    assert status(sim, olha.id) is MemberStatus.ADMIN
    otto = await out_of_country(sim, olha)
    await sim.leave(olha)
    mark = sim.mark()
    await sim.advance(timedelta(minutes=15))
    ask = sim.unique_reply(mark, otto.id)
    assert "Your sponsor Olha Koval is no longer a member working in the country" in ask.text
    assert "Otto Remote (outside the country) lost their sponsor Olha Koval" in (
        sim.unique_reply(mark, MODERATOR_ID).text
    )


async def test_a_moderator_outside_the_group_can_be_named_as_the_new_sponsor(
    sim: Simulator,
) -> None:
    moderator = mira(sim)
    await sim.dm(moderator, "/start")  # known to the bot; never a member of the group
    ivan = await veteran(sim)
    otto = await out_of_country(sim, ivan)
    await sim.leave(ivan)
    await sim.advance(timedelta(minutes=15))
    await sim.press(otto, question(sim, otto), "Name a new sponsor")
    await sim.dm(otto, "@mira_ocha")
    assert "I asked Mira Moderator to confirm" in sim.last(otto.id).text
    await sim.press(moderator, question(sim, moderator), "I sponsor them")
    intro = intro_of(sim, otto.id)
    assert intro is not None and intro.sponsor_id == MODERATOR_ID
    row = row_of(sim, otto.id)
    assert row is not None and row.sponsor_lost_at is None
    assert any(c.startswith(f"sponsor: new sponsor {MODERATOR_ID}") for c in causes(sim, otto.id))
    await sim.advance(timedelta(days=8))  # past the sponsor grace: still a member
    assert status(sim, otto.id) is MemberStatus.MEMBER
