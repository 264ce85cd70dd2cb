"""Virtual time passes as a real stretch would (the console's `:clock +3d`): every reminder at
its own time, a request told when it runs out — not everything at once at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from config.loader import load_settings
from moderation import deadlines as rules
from simulation.simulator import Simulator
from tests.conftest import EXAMPLE, GROUP_ID
from tests.helpers import events
from tests.lifecycle import member as lifecycle_member
from tests.test_contacts import add_contact, member
from tests.test_joins import veteran


def sent_at(sim: Simulator, chat_id: int, words: str) -> list[datetime]:
    return [
        datetime.fromtimestamp(m.date, UTC) for m in sim.telegram.sent(chat_id) if words in m.text
    ]


async def test_each_reminder_goes_at_its_own_time(sim: Simulator) -> None:
    """config/example.yaml: weekly displacement figures due Thursday 12:00 Kyiv (10:00 UTC in
    November), reminders 1 day and 3 hours before, for Protection among others. From Monday
    23 Nov 09:00 UTC, three days pass: Wednesday 10:00 and Thursday 07:00 UTC."""
    ivan = await member(sim, "Ivan", "Petrenko")
    await sim.dm(ivan, "/subscribe")
    await sim.press(ivan, sim.last(ivan.id), "Protection")
    await sim.press(ivan, sim.last(ivan.id), "OCHA")
    await sim.advance_through(timedelta(days=3))
    assert sim.clock.now() == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert sent_at(sim, ivan.id, "(displacement) is due") == [
        datetime(2026, 11, 25, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 26, 7, 0, tzinfo=UTC),
    ]
    assert sent_at(sim, ivan.id, "(in 1 day)") == [datetime(2026, 11, 25, 10, 0, tzinfo=UTC)]


async def test_a_request_is_told_when_it_runs_out(sim: Simulator) -> None:
    """contacts.request_timeout is 72 h: the requester hears at that moment, even when the
    clock moves five days at once."""
    olena = await member(sim, "Olena", "Koval")
    ivan = await member(sim, "Ivan", "Petrenko")
    add_contact(sim, olena.id, name="Olena Koval", organisation="UNICEF", phone="+380441234567")
    asked = sim.clock.now()
    await sim.dm(ivan, "/contact unicef")
    await sim.press(ivan, sim.last(ivan.id), "Ask to be put in touch")
    await sim.advance_through(timedelta(days=5))
    assert sent_at(sim, ivan.id, "did not get an answer in time") == [asked + timedelta(hours=72)]
    assert sim.clock.now() == asked + timedelta(days=5)


@given(
    index=st.integers(0, 10),
    now=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
)
def test_an_occurrence_is_planned_before_its_first_reminder(index: int, now: datetime) -> None:
    """The stop `next_planning_at` names comes after ``now``, and at it the next occurrence not
    yet planned is inside the planning window, no later than its earliest reminder."""
    deadlines = [d for d in load_settings(EXAMPLE).deadline_definitions() if d.remind]
    deadline = deadlines[index % len(deadlines)]
    stop = rules.next_planning_at(deadline, now)
    assert stop is not None and stop > now
    _start, end = rules.planning_window(deadline, now, timedelta(0))
    upcoming = rules.next_occurrence(deadline, end - timedelta(microseconds=1))
    assert upcoming is not None
    earliest = min(p.due_at for p in rules.plan(deadline, upcoming))
    assert stop <= earliest
    _start, reach = rules.planning_window(deadline, stop, timedelta(0))
    assert upcoming < reach


async def test_an_unfinished_introduction_is_nudged_and_ended_on_time(sim: Simulator) -> None:
    """config/example.yaml: reminders 24 h and 48 h after joining, removal at 72 h. Four days
    pass at once: the sponsor hears at 24 h and 48 h, the removal is announced at 72 h."""
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    pavlo = sim.user("Pavlo")
    joined = sim.clock.now()
    await sim.join(pavlo, added_by=ivan)
    await sim.advance_through(timedelta(days=4))
    assert sent_at(sim, ivan.id, "Reminder: the introduction") == [
        joined + timedelta(hours=24),
        joined + timedelta(hours=48),
    ]
    assert sent_at(sim, GROUP_ID, "was removed") == [joined + timedelta(hours=72)]


async def test_a_departure_is_asked_on_the_day_and_ended_after_the_grace(sim: Simulator) -> None:
    """config/example.yaml: the bot acts at 09:00 Kyiv (07:00 UTC in December) on the
    departure date and removes a member who does not answer departure_grace (3 days) later."""
    ivan = await veteran(sim)
    olena = await lifecycle_member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving 20 Dec")
    await sim.advance_through(datetime(2026, 12, 24, tzinfo=UTC) - sim.clock.now())
    asked = datetime(2026, 12, 20, 7, 0, tzinfo=UTC)
    assert sent_at(sim, olena.id, "Today is your departure date") == [asked]
    removed = [e.at for e in events(sim, olena.id) if e.new_status == "removed"]
    assert removed == [asked + timedelta(days=3)]


async def test_at_all_batches_go_at_their_own_pace_through_one_move(sim: Simulator) -> None:
    """`:clock +1h` after an @all to 100 members: every batch goes within the hour at the
    group's pace (mentions.per_minute, 12 in config/example.yaml), not one run's worth at the
    end. Five mentions a message notify (Telegram's rule), so 100 people take 20 messages."""
    from tests.test_mentions import add_member
    from tests.test_mentions_delivery import at_most_per_minute, notified_by_rule

    author = add_member(sim, "Ivan", "Koval", "ivan_k")
    people = {add_member(sim, f"M{i:03d}", "Member").id for i in range(100)}
    mark = sim.mark()
    posted = sim.clock.now()
    await sim.say(author, "@all the 3W template changed")
    await sim.advance_through(timedelta(hours=1))
    sent = sim.since(mark, GROUP_ID)
    assert len(sent) == 100 // 5
    assert notified_by_rule(sim, sent) == dict.fromkeys(people, 1)
    assert at_most_per_minute(sent, 12)
    last = max(datetime.fromtimestamp(m.date, UTC) for m in sent)
    assert last - posted <= timedelta(minutes=3)  # 20 messages at 12 a minute, not an hour
    assert sim.clock.now() == posted + timedelta(hours=1)
