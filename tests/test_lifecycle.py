"""The membership lifecycle end to end: departures, expiry, lost sponsors, check-ins, leaving,
readmission and retention, driven by the clock through the fake Bot API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from handlers.lifecycle import render
from handlers.lifecycle.common import policy_of
from i18n import _, use_locale
from moderation.introductions import Category, IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember, FakeUser, SentMessage
from simulation.simulator import Simulator
from storage.contacts import ContactRepository
from storage.lifecycle import LifecycleRepository
from storage.models import MemberLifecycle, MembershipEvent, User
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events, status
from tests.test_console import run_console
from tests.test_joins import intro_of, invite, veteran
from tests.test_languages import choose


async def until(sim: Simulator, when: datetime) -> None:
    """Move the clock to ``when`` (UTC) and run the sweeps, as the job queue would."""
    await sim.advance(when - sim.clock.now())


async def member(
    sim: Simulator,
    sponsor: FakeUser,
    first: str,
    last: str,
    category: str = "In the country",
    extra: list[str] | None = None,
) -> FakeUser:
    """A newcomer sponsored by ``sponsor``, introduced and confirmed (and started the bot)."""
    link = await invite(
        sim, sponsor, [f"{first} {last}", "UNICEF", "IMO", *(extra or [])], category
    )
    user = sim.user(first, last, first.lower())
    await sim.join(user, link=link)
    intro = intro_of(sim, user.id)
    assert intro is not None
    await sim.dm(user, f"/start confirm_{intro.id}")
    await sim.press(user, sim.last(user.id), "Yes")
    assert intro_of(sim, user.id).status is IntroStatus.COMPLETE  # type: ignore[union-attr]
    return user


def row_of(sim: Simulator, user_id: int) -> MemberLifecycle | None:
    with sim.services.db.transaction() as session:
        return LifecycleRepository(session).row_for(GROUP_ID, user_id)


def causes(sim: Simulator, user_id: int) -> list[str]:
    return [e.cause for e in events(sim, user_id)]


def bans(sim: Simulator, user_id: int) -> int:
    return sum(1 for c in sim.telegram.calls_to("banChatMember") if c["user_id"] == user_id)


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


def question(sim: Simulator, user: FakeUser) -> SentMessage:
    """The bot's latest private message to ``user`` that has buttons."""
    return [m for m in sim.telegram.sent(user.id) if m.buttons()][-1]


# --------------------------------------------------------------------------- /leaving
async def test_leaving_repeats_the_date_then_asks_on_the_day_and_no_removes(
    sim: Simulator,
) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.dm(olena, "/leaving 20 Dec")
    reply = sim.unique_reply(mark, olena.id)
    assert "you leave the country on Sunday, 20 December 2026" in reply.text
    assert "(Sun, 20 Dec 2026, 09:00 Kyiv time)" in reply.text
    row = row_of(sim, olena.id)
    assert row is not None and row.departure_date == date(2026, 12, 20)
    assert row.departure_set_by == olena.id
    assert any(
        e.cause == "departure date set: 2026-12-20" and e.actor_id == olena.id
        for e in events(sim, olena.id)
    )
    # 09:00 in Kyiv is 07:00 UTC in December: nothing before, one question after.
    mark = sim.mark()
    await until(sim, datetime(2026, 12, 20, 6, 50, tzinfo=UTC))
    assert sim.since(mark, olena.id) == []
    await sim.advance(timedelta(minutes=15))
    ask = sim.unique_reply(mark, olena.id)
    assert "Today is your departure date" in ask.text
    assert "Without an answer by Wed, 23 Dec 2026, 09:05 Kyiv time" in ask.text
    await sim.advance(timedelta(minutes=15))
    assert len(sim.since(mark, olena.id)) == 1  # asked once
    # Someone else cannot answer for her (a forged press on her message).
    await sim.feed(
        sim.telegram.forged_press(
            ivan.id, olena.id, ask.message_id, ask.buttons()[1]["callback_data"]
        )
    )
    assert status(sim, olena.id) is MemberStatus.MEMBER
    mark = sim.mark()
    await sim.press(olena, ask, "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.REMOVED  # removed, can come back
    assert bans(sim, olena.id) == 1
    notice = sim.unique_reply(mark, GROUP_ID)
    assert notice.text.startswith("👋 Olena Petrenko has left the country")
    assert "welcome back any time through a sponsor" in notice.text
    assert any("Thank you for your work" in m.text for m in sim.since(mark, olena.id))
    removed = [e for e in events(sim, olena.id) if e.new_status == "removed"]
    assert removed and removed[-1].cause == "departure: not continuing"
    assert removed[-1].actor_id == olena.id
    await sim.advance(timedelta(days=5))
    assert bans(sim, olena.id) == 1


async def test_leaving_bad_input_is_refused_politely(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    replies = []
    for text in [
        "/leaving",
        "/leaving soonish",
        "/leaving 2020-01-01",
        "/leaving 2031-01-01",
        "/leaving <b>20 Dec</b>",
        "/leaving @ivan 20 Dec",
        "/leaving " + "9" * 500,
    ]:
        mark = sim.mark()
        await sim.dm(olena, text)
        replies.append(sim.unique_reply(mark, olena.id).text)
    assert replies[0].startswith("Tell me the day you leave the country")
    assert "could not read that date" in replies[1]
    assert "That date has passed" in replies[2]
    assert "more than two years away" in replies[3]
    assert replies[4] == "I could not read that date. Try 2026-12-20, 20 Dec or “in 3 weeks”."
    assert replies[5].startswith("Only moderators can set someone else's departure date")
    assert "Too long (500/40 characters)" in replies[6]
    row = row_of(sim, olena.id)
    assert row is None or row.departure_date is None  # nothing stored
    # In the group: members are asked to say it privately, nothing is stored.
    mark = sim.mark()
    await sim.say(olena, "/leaving 20 Dec")
    assert "tell me your departure date privately" in sim.unique_reply(mark, GROUP_ID).text
    row = row_of(sim, olena.id)
    assert row is None or row.departure_date is None
    # Not a member at all.
    stranger = sim.user("Stranger")
    await sim.dm(stranger, "/leaving 20 Dec")
    assert "You are not a member of Ukraine IM community." in sim.last(stranger.id).text


async def test_moderator_sets_and_cancels_someone_elses_departure(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    mark = sim.mark()
    await sim.dm(mira(sim), "/leaving @ivan in 3 weeks")
    reply = sim.unique_reply(mark, MODERATOR_ID)
    assert "Ivan Koval leaves the country on Monday, 14 December 2026" in reply.text
    told = sim.unique_reply(mark, ivan.id)
    assert "A moderator recorded that you leave the country on Monday, 14 December 2026" in (
        told.text
    )
    row = row_of(sim, ivan.id)
    assert row is not None and row.departure_date == date(2026, 12, 14)
    assert row.departure_set_by == MODERATOR_ID
    await sim.dm(mira(sim), "/leaving Ivan Koval cancel")
    assert sim.last(MODERATOR_ID).text == "Done: no departure date on record for Ivan Koval."
    assert row_of(sim, ivan.id).departure_date is None  # type: ignore[union-attr]
    await sim.dm(mira(sim), "/leaving @nobody_here 20 Dec")
    assert sim.last(MODERATOR_ID).text == "I don't know @nobody_here."
    # A moderator may also reply to someone's message in the group.
    said = await sim.say(ivan, "I fly home soon")
    await sim.say(mira(sim), "/leaving 2026-12-24", reply_to=said["message"]["message_id"])
    assert "Ivan Koval leaves the country on Thursday, 24 December 2026" in sim.last(GROUP_ID).text


async def test_departure_yes_then_sponsor_confirms_out_of_country(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 2026-11-23")  # today, after 09:00: asked at once
    ask = question(sim, olena)
    assert "Today is your departure date" in ask.text
    await sim.press(olena, ask, "Yes, I keep supporting them")
    assert "Until when will you support colleagues" in sim.last(olena.id).text
    await sim.dm(olena, "in 20 weeks")
    assert "at most 90 days" in sim.last(olena.id).text
    await sim.dm(olena, "whenever")
    assert "could not read that date" in sim.last(olena.id).text
    await sim.dm(olena, "2027-01-31")
    who = sim.last(olena.id)
    assert "Who sponsors you in the country?" in who.text
    await sim.dm(olena, "@olena")
    assert "cannot sponsor you: you cannot sponsor yourself" in sim.last(olena.id).text
    await sim.dm(olena, "Nobody Atall")
    assert "No current member is called" in sim.last(olena.id).text
    mark = sim.mark()
    await sim.press(olena, who, "Ivan Koval (your sponsor)")
    request = sim.unique_reply(mark, ivan.id)
    assert "until Sunday, 31 January 2027" in request.text
    assert "I asked Ivan Koval to confirm" in sim.last(olena.id).text
    # Only the named sponsor can confirm.
    bohdan = await veteran(sim, "Bohdan")
    await sim.feed(
        sim.telegram.forged_press(
            bohdan.id, ivan.id, request.message_id, request.buttons()[0]["callback_data"]
        )
    )
    assert intro_of(sim, olena.id).category is Category.IN_COUNTRY  # type: ignore[union-attr]
    await sim.press(ivan, request, "I sponsor them")
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.category is Category.OUT_OF_COUNTRY
    assert intro.end_date == date(2027, 1, 31) and intro.sponsor_id == ivan.id
    assert "you stay in Ukraine IM community as an out-of-country member until" in (
        sim.last(olena.id).text
    )
    assert any(
        c.startswith("departure: in_country -> out_of_country until 2027-01-31")
        for c in causes(sim, olena.id)
    )
    row = row_of(sim, olena.id)
    assert row is not None and row.departure_date is None and row.pending_sponsor_id is None
    # Past every grace period she is still a member: the membership is now out-of-country.
    await sim.advance(timedelta(days=10))
    assert status(sim, olena.id) is MemberStatus.MEMBER
    assert bans(sim, olena.id) == 0


async def test_sponsor_declines_member_names_another(sim: Simulator) -> None:
    ivan = await veteran(sim)
    bohdan = await veteran(sim, "Bohdan")
    await sim.dm(ivan, "/start")
    await sim.dm(bohdan, "/start")
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    await sim.press(olena, question(sim, olena), "Yes")
    await sim.press(olena, sim.last(olena.id), "Until")  # the maximum
    await sim.press(olena, sim.last(olena.id), "your sponsor")
    await sim.press(ivan, question(sim, ivan), "No")
    again = sim.last(olena.id)
    assert "Ivan Koval cannot sponsor you" in again.text
    await sim.press(olena, again, "Name another sponsor")
    await sim.dm(olena, "Bohdan Koval")
    await sim.press(bohdan, question(sim, bohdan), "I sponsor them")
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.sponsor_id == bohdan.id
    assert intro.end_date == date(2027, 2, 21)  # 90 days from 23 Nov 2026


async def test_unanswered_departure_is_removed_once_across_a_restart(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 24 Nov")
    await until(sim, datetime(2026, 11, 24, 7, 5, tzinfo=UTC))
    assert "Today is your departure date" in question(sim, olena).text
    await sim.stop()
    # The bot is down over the deadline (27 Nov 09:00 Kyiv) and comes back on 30 Nov.
    sim.clock.advance(datetime(2026, 11, 30, 12, 0, tzinfo=UTC) - sim.clock.now())
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    mark = restarted.mark()
    await restarted.start()
    try:
        assert status(restarted, olena.id) is MemberStatus.REMOVED
        assert bans(restarted, olena.id) == 1
        assert any("has left the country" in m.text for m in restarted.since(mark, GROUP_ID))
        assert "did not answer my question on your departure date" in restarted.last(olena.id).text
        assert any(c == "departure: no answer" for c in causes(restarted, olena.id))
        await restarted.advance(timedelta(days=1))
        assert bans(restarted, olena.id) == 1
    finally:
        await restarted.stop()
        await sim.start(migrate=False)


async def test_departure_question_after_a_restart_before_the_day(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 1 Dec")
    await sim.stop()
    sim.clock.advance(datetime(2026, 12, 3, 8, 0, tzinfo=UTC) - sim.clock.now())
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    mark = restarted.mark()
    await restarted.start()
    try:
        asked = [m for m in restarted.since(mark, olena.id) if "your departure date" in m.text]
        assert len(asked) == 1  # missed day: asked once on return, grace from now
        assert "Without an answer by Sun, 6 Dec 2026, 10:00 Kyiv time" in asked[0].text
        assert status(restarted, olena.id) is MemberStatus.MEMBER
        await restarted.advance(timedelta(hours=1))
        assert len([m for m in restarted.since(mark, olena.id) if "departure" in m.text]) == 1
    finally:
        await restarted.stop()
        await sim.start(migrate=False)


async def test_departure_day_across_daylight_saving(sim: Simulator) -> None:
    # Kyiv moves to summer time on Sunday 28 March 2027: 09:00 local is 07:00 UTC before, 06:00
    # after. A departure on 29 March is asked at 06:00 UTC, and the grace ends at 09:00 local.
    sim.clock.advance(datetime(2027, 3, 25, 10, 0, tzinfo=UTC) - sim.clock.now())
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 29 Mar")
    assert "(Mon, 29 Mar 2027, 09:00 Kyiv time)" in sim.last(olena.id).text
    mark = sim.mark()
    await until(sim, datetime(2027, 3, 29, 5, 55, tzinfo=UTC))
    assert sim.since(mark, olena.id) == []
    await until(sim, datetime(2027, 3, 29, 6, 1, tzinfo=UTC))
    ask = sim.unique_reply(mark, olena.id)
    assert "Without an answer by Thu, 1 Apr 2027, 09:01 Kyiv time" in ask.text
    await until(sim, datetime(2027, 4, 1, 6, 0, tzinfo=UTC))
    assert status(sim, olena.id) is MemberStatus.MEMBER
    await until(sim, datetime(2027, 4, 1, 6, 2, tzinfo=UTC))
    assert status(sim, olena.id) is MemberStatus.REMOVED


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
async def out_of_country(sim: Simulator, sponsor: FakeUser) -> FakeUser:
    return await member(
        sim,
        sponsor,
        "Otto",
        "Remote",
        category="Outside the country",
        extra=["in 8 weeks", "GIS support to the WASH cluster"],
    )


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


# --------------------------------------------------------------------------- check-ins
async def test_checkins_stale_list_and_answers(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    quiet = await veteran(sim, "Quiet")  # never started the bot
    olena = await member(sim, ivan, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.advance(timedelta(days=89))
    assert not any("quick check" in m.text for m in sim.since(mark))
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))  # 90 days after joining, 09:05
    ask_ivan = sim.unique_reply(mark, ivan.id)
    assert "are you still working on the response in the country?" in ask_ivan.text
    group_note = [m for m in sim.since(mark, GROUP_ID) if "quick check" in m.text]
    assert len(group_note) == 1 and quiet.id in group_note[0].mentions
    assert ivan.id not in group_note[0].mentions
    # The deep link asks privately.
    await sim.dm(quiet, "/start checkin")
    assert "are you still working on the response" in sim.last(quiet.id).text
    await sim.press(ivan, ask_ivan, "Yes, still here")
    assert "I will ask again in about 90 days" in sim.last(ivan.id).text
    await sim.press(olena, question(sim, olena), "I am leaving soon")
    assert "/leaving DATE" in sim.last(olena.id).text
    await sim.advance(timedelta(days=14, minutes=5))
    mark = sim.mark()
    await sim.dm(mira(sim), "/stale")
    listing = sim.unique_reply(mark, MODERATOR_ID).text
    assert "Quiet Koval — asked Sun, 21 Feb 2027" in listing
    assert "Ivan Koval" not in listing and "Olena" not in listing
    assert "not removed automatically" in listing
    assert status(sim, quiet.id) is MemberStatus.MEMBER
    await sim.dm(ivan, "/stale")
    assert sim.last(ivan.id).text == "Sorry, only the group's moderators can use this command."


async def test_lifecycle_questions_follow_the_persons_language_choice(sim: Simulator) -> None:
    """Telegram in English, /language Français: the check-in and its buttons are in French."""
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await choose(sim, olena, "Français")
    mark = sim.mark()
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
    ask = question(sim, olena)
    assert ask in sim.since(mark, olena.id)
    with use_locale("fr"):
        expected = checkin_question(sim)
        labels = [_("Yes, still here"), _("I am leaving soon"), _("I have left the country")]
    assert ask.raw_text == expected
    assert [b["text"] for b in ask.buttons()] == labels
    await sim.press(olena, ask, labels[2])  # "I have left": the departure question, in French
    row = row_of(sim, olena.id)
    assert row is not None
    with use_locale("fr"):
        buttons = render.departure_buttons(row.id).inline_keyboard
    departure = question(sim, olena)
    assert [b["text"] for b in departure.buttons()] == [b.text for line in buttons for b in line]
    assert "Today is your departure date" not in departure.text


def checkin_question(sim: Simulator) -> str:
    group = sim.services.settings.groups[0]
    policy = policy_of(sim.services, group)
    return (
        render.checkin_question(group, policy, sim.clock.now())
        .replace("<b>", "")
        .replace("</b>", "")
    )


async def test_checkin_i_have_left_asks_the_departure_question(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "I have left the country")
    assert any("Today is your departure date" in m.text for m in sim.since(mark, olena.id))
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.REMOVED


async def test_checkin_removal_when_configured(config, clock) -> None:
    from dataclasses import replace

    settings = config.settings
    group = settings.groups[0]
    strict = group.model_copy(
        update={"membership": group.membership.model_copy(update={"checkin_removes": True})}
    )
    config = replace(config, settings=settings.model_copy(update={"groups": [strict]}))
    async with Simulator(config, clock) as sim:
        ivan = await veteran(sim)
        await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
        assert status(sim, ivan.id) is MemberStatus.MEMBER
        await sim.advance(timedelta(days=14, minutes=5))
        assert status(sim, ivan.id) is MemberStatus.REMOVED
        assert "check-in: no answer" in causes(sim, ivan.id)
        assert not sim.errors


# --------------------------------------------------------------------------- leaving
async def test_leave_command_and_leaving_the_group_are_recorded_not_chased(
    sim: Simulator,
) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leave")
    await sim.press(olena, sim.last(olena.id), "No, I stay")
    assert status(sim, olena.id) is MemberStatus.MEMBER
    await sim.dm(olena, "/leave")
    mark = sim.mark()
    await sim.press(olena, sim.last(olena.id), "Yes, take me out")
    assert status(sim, olena.id) is MemberStatus.REMOVED
    assert sim.since(mark, GROUP_ID) == []  # no announcement for a voluntary leave
    assert "Done: you have left Ukraine IM community" in sim.last(olena.id).text
    removed = [e for e in events(sim, olena.id) if e.new_status == "removed"]
    assert removed[-1].cause == "voluntary" and removed[-1].actor_id == olena.id
    await sim.dm(olena, "/leave")
    assert sim.last(olena.id).text == "You are not a member of any group I run."
    # Leaving through Telegram is recorded and never chased.
    await sim.dm(ivan, "/start")
    await sim.leave(ivan)
    assert causes(sim, ivan.id)[-1] == "left"
    mark = sim.mark()
    await sim.advance(timedelta(days=120))
    assert sim.since(mark, ivan.id) == []


# --------------------------------------------------------------------------- refusals
async def test_removing_an_admin_is_reported_once(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/leaving today")
    sim.group.members[ivan.id] = FakeMember("administrator")
    await sim.advance(timedelta(minutes=1))  # the admin check learns he is an admin
    assert status(sim, ivan.id) is MemberStatus.ADMIN
    await sim.press(ivan, question(sim, ivan), "No, I leave the group")
    refusals = [m for m in sim.telegram.sent(MODERATOR_ID) if "is an admin of the group" in m.text]
    assert len(refusals) == 1
    await sim.advance(timedelta(days=3))
    assert len([m for m in sim.telegram.sent(MODERATOR_ID) if "is an admin" in m.text]) == 1
    assert sim.telegram.calls_to("banChatMember") == []
    mark = sim.mark()
    await sim.dm(mira(sim), "/expiring")
    assert "refused by Telegram (protected)" in sim.unique_reply(mark, MODERATOR_ID).text


async def test_missing_right_reported_retried_daily_then_done(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    bot = sim.group.members[sim.telegram.bot.id]
    sim.group.members[sim.telegram.bot.id] = FakeMember(
        "administrator", rights={**bot.rights, "can_restrict_members": False}
    )
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.MEMBER
    assert any("could not remove members" in m.text for m in sim.since(mark, MODERATOR_ID))
    calls = len(sim.telegram.calls_to("banChatMember"))
    await sim.advance(timedelta(hours=6))
    assert len(sim.telegram.calls_to("banChatMember")) == calls  # no loop
    sim.group.members[sim.telegram.bot.id] = bot  # rights given back
    await sim.advance(timedelta(hours=19))
    assert status(sim, olena.id) is MemberStatus.REMOVED


async def test_already_gone_is_reported_and_the_roster_catches_up(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    sim.telegram.fail_next("banChatMember", 400, "Bad Request: user not found")
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert any("no longer in it" in m.text for m in sim.since(mark, MODERATOR_ID))
    assert status(sim, olena.id) is MemberStatus.LEFT
    await sim.advance(timedelta(days=1))
    assert len(sim.telegram.calls_to("banChatMember")) == 1


# --------------------------------------------------------------------------- moderators
async def test_expiring_lists_what_is_coming(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await member(sim, ivan, "Sam", "Surge", category="Surge", extra=["14 Dec"])
    await out_of_country(sim, ivan)
    await sim.dm(olena, "/leaving 1 Dec")
    mark = sim.mark()
    await sim.dm(ivan, "/expiring")
    assert sim.unique_reply(mark, ivan.id).text.startswith("Sorry, only the group's moderators")
    await sim.dm(mira(sim), "/expiring")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert "departures and expiries in the next 30 days" in text
    assert text.index("Olena Petrenko: leaves the country Tue, 1 Dec 2026") < text.index(
        "Sam Surge: surge / short mission until Mon, 14 Dec 2026; sponsor Ivan Koval"
    )
    assert "Otto" not in text  # ends in 8 weeks
    await sim.dm(mira(sim), "/expiring 60d")
    assert "Otto Remote: outside the country (sponsored) until Mon, 18 Jan 2027" in (
        sim.last(MODERATOR_ID).text
    )
    await sim.dm(mira(sim), "/expiring soon")
    assert "expected a duration" in sim.last(MODERATOR_ID).text


async def test_readmit_after_removal_gives_a_fresh_sponsored_link(sim: Simulator) -> None:
    moderator = mira(sim)
    sim.group.members[MODERATOR_ID] = FakeMember("creator")
    await sim.say(moderator, "Hello")
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(moderator, "/readmit @olena")
    assert (
        sim.last(MODERATOR_ID).text == "Olena Petrenko is still a member of Ukraine IM community."
    )
    await sim.dm(olena, "/leaving today")
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.REMOVED
    await sim.dm(ivan, "/readmit @olena")
    assert sim.last(ivan.id).text == "Sorry, only the group's moderators can use this command."
    mark = sim.mark()
    await sim.dm(moderator, "/readmit @olena")
    created = sim.telegram.calls_to("createChatInviteLink")[-1]
    assert created["member_limit"] == 1
    link = next(
        w
        for m in sim.since(mark, olena.id)
        for w in m.text.split()
        if w.startswith("https://t.me/+")
    )
    assert "I sent the link to Olena Petrenko." in sim.last(MODERATOR_ID).text
    assert any(c.startswith("moderator: readmission offered") for c in causes(sim, olena.id))
    await sim.join(olena, link=link)
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.status is IntroStatus.PENDING
    assert intro.sponsor_id == MODERATOR_ID and intro.full_name == "Olena Petrenko"
    assert intro.sponsor_done_at is not None  # pre-filled from the former introduction
    await sim.advance(timedelta(minutes=15))
    row = row_of(sim, olena.id)
    assert row is not None and row.removal_cause is None  # a new admission starts afresh


# --------------------------------------------------------------------------- retention
async def test_former_members_personal_data_is_erased_after_retention(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    with sim.services.db.transaction() as session:
        assert ContactRepository(session).by_user(olena.id) is not None  # pre-filled
    await sim.leave(olena)
    await sim.advance(timedelta(days=364))
    with sim.services.db.transaction() as session:
        assert session.get(User, olena.id) is not None
    await sim.advance(timedelta(days=2))
    with sim.services.db.transaction() as session:
        assert session.get(User, olena.id) is None
        assert ContactRepository(session).by_user(olena.id) is None
        assert session.get(User, ivan.id) is not None  # present members are kept
    assert intro_of(sim, olena.id) is None
    assert events(sim, olena.id) == []
    with sim.services.db.transaction() as session:
        anonymous = session.query(MembershipEvent).filter(MembershipEvent.user_id == 0).all()
        assert len(anonymous) == 1 and anonymous[0].new_status == "erased"
        assert "Olena" not in anonymous[0].cause and "retention" in anonymous[0].cause


def test_console_shows_the_lifecycle(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":as ivan",
            ":dm",
            "/start",
            "/invite",
            "Olena Petrenko",
            "UNICEF",
            "WASH IMO",
            ":press 1",
            ":press 1",
            ":press 1",
            ":press 1",
            ":join olena 1",
            ":as olena",
            ":dm",
            "/start confirm_1",
            ":press 1",
            "/leaving in 3 days",
            ":clock +3d",
            ":press 1",
            "in 4 weeks",
            ":press 1",
            ":as ivan",
            ":press 1",
            ":as mira",
            "/expiring 60d",
            ":clock +21d",
            ":as ivan",
            ":press 2",
            ":clock +7d",
            ":roster",
            ":quit",
        ],
    )
    assert "you leave the country on Thursday, 26 November 2026" in output
    assert "Today is your departure date for Ukraine IM community" in output
    assert "Olena Petrenko: outside the country (sponsored) until Thu, 24 Dec 2026" in output
    assert "/extend Olena Petrenko 30d" in output
    assert "time-limited membership ended today" in output
    assert "Olena (@—) — removed, joined by invite_link" in output
    assert "the bot raised" not in output


async def test_departure_question_reaches_someone_who_never_started_the_bot(
    sim: Simulator,
) -> None:
    quiet = await veteran(sim, "Quiet")
    await sim.dm(mira(sim), "/leaving @quiet today")
    note = sim.last(GROUP_ID)
    assert quiet.id in note.mentions and "question for you about your membership" in note.text
    assert "departure" not in note.text and "leav" not in note.text  # nothing private in public
    payload = note.buttons()[0]["url"].split("start=")[1]
    intruder = await veteran(sim, "Mallory")
    await sim.dm(intruder, f"/start {payload}")
    assert sim.last(intruder.id).text == "There is no open question for you."
    await sim.dm(quiet, f"/start {payload}")
    await sim.press(quiet, question(sim, quiet), "No, I leave the group")
    assert status(sim, quiet.id) is MemberStatus.REMOVED
