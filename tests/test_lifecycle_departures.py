"""The membership lifecycle end to end, departures: /leaving (one's own date and a moderator's
for someone else), the question on the departure day and its answers (no: removed; yes: an
out-of-country membership once a sponsor confirms), no answer, restarts, daylight saving, and
someone who never started the bot; driven by the clock through the fake Bot API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from moderation.introductions import Category
from moderation.roster import MemberStatus
from simulation.simulator import Simulator
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events, status
from tests.lifecycle import bans, causes, member, mira, question, row_of, until
from tests.test_joins import intro_of, veteran


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
