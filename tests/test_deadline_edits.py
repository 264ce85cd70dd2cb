"""Schedule input and schedule changes: the grammar, and the outbox invariant under edits.

The invariant (hypothesis, on the real repository and database): however a deadline's schedule,
offsets or overdue note are edited while time passes and the dispatcher sends, there are never
two outbox rows for one (occurrence, recipient, kind), nothing is sent twice, every reminder the
current definition wants and that is still ahead has its row (pending, or sent if that very
reminder already went), and rows of past occurrences are never touched by an edit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from config.loader import LoadedConfig
from handlers.deadlines import plan_outbox, recipients_of
from moderation import deadlines as rules
from moderation.deadline_input import parse_audience, parse_offsets, parse_schedule
from moderation.deadlines import Audience, Deadline, DeadlineError, parse_starts
from runtime.context import Services
from storage.db import Database
from storage.deadlines import DeadlineRepository
from storage.models import DeadlineChange, DeadlineRow, Partner, ReminderOutbox

KYIV = ZoneInfo("Europe/Kyiv")
TODAY = date(2026, 11, 23)
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


# --------------------------------------------------------------------------- the grammar
def _deadline(rule: str, starts: datetime, zone: str = "Europe/Kyiv") -> Deadline:
    return Deadline("x", "X", rule, starts, zone)


@given(
    day=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    interval=st.sampled_from(["", "other ", "3rd week on "]),
)
def test_weekly_forms_fall_on_that_day_at_that_local_time(
    day: int, hour: int, minute: int, interval: str
) -> None:
    text = f"every {interval}{DAYS[day]} {hour:02d}:{minute:02d}"
    schedule = parse_schedule(text, TODAY)
    d = _deadline(schedule.rule, schedule.starts)
    found = rules.occurrences(
        d, datetime(2026, 11, 20, tzinfo=UTC), datetime(2027, 11, 20, tzinfo=UTC)
    )
    assert found
    step = {"": 7, "other ": 14, "3rd week on ": 21}[interval]
    for instant in found:
        local = instant.astimezone(KYIV)
        # A time that does not exist (spring forward) moves by the gap; else exactly as asked.
        if (local.hour, local.minute) != (hour, minute):
            assert local.month == 3 and hour == 3
            continue
        assert local.weekday() == day
    gaps = {
        (b.astimezone(KYIV).date() - a.astimezone(KYIV).date()).days for a, b in pairwise(found)
    }
    assert gaps == {step}


@given(day=st.integers(1, 28), hour=st.integers(0, 23))
def test_monthly_forms_fall_on_that_day(day: int, hour: int) -> None:
    suffix = "th" if 10 <= day <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    schedule = parse_schedule(f"{day}{suffix} of each month {hour}:30", TODAY)
    d = _deadline(schedule.rule, schedule.starts, "UTC")
    found = rules.occurrences(
        d, datetime(2026, 11, 23, tzinfo=UTC), datetime(2027, 11, 23, tzinfo=UTC)
    )
    assert len(found) == 12
    assert {(t.day, t.hour, t.minute) for t in found} == {(day, hour, 30)}


@pytest.mark.parametrize(
    ("text", "rule", "starts"),
    [
        (
            "every other Wednesday 12:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
            TODAY,
        ),
        ("5th of each month 17:00", "FREQ=MONTHLY;BYMONTHDAY=5;BYHOUR=17;BYMINUTE=0", TODAY),
        ("2026-12-20 12:00", "FREQ=DAILY;COUNT=1;BYHOUR=12;BYMINUTE=0", date(2026, 12, 20)),
        ("every Monday 10:00", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=10;BYMINUTE=0", TODAY),
        ("Every Monday and Thursday at 9am", "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=9;BYMINUTE=0", TODAY),
        ("every weekday 09:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0", TODAY),
        ("every day noon", "FREQ=DAILY;BYHOUR=12;BYMINUTE=0", TODAY),
        (
            "every 3 weeks on Tuesday 9:30",
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU;BYHOUR=9;BYMINUTE=30",
            TODAY,
        ),
        ("last day of each month 17:00", "FREQ=MONTHLY;BYMONTHDAY=-1;BYHOUR=17;BYMINUTE=0", TODAY),
        (
            "first Tuesday of each month 14:00",
            "FREQ=MONTHLY;BYDAY=+1TU;BYHOUR=14;BYMINUTE=0",
            TODAY,
        ),
        ("last Friday of every month 4pm", "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=16;BYMINUTE=0", TODAY),
        (
            "every year on 15 April 12:00",
            "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=15;BYHOUR=12;BYMINUTE=0",
            TODAY,
        ),
        (
            "15 April every year 12:00",
            "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=15;BYHOUR=12;BYMINUTE=0",
            TODAY,
        ),
        (
            "every other Wednesday 12:00 from 2026-12-02",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
            date(2026, 12, 2),
        ),
        (
            "RRULE:FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0 from 2026-12-02",
            "FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
            date(2026, 12, 2),
        ),
    ],
)
def test_friendly_forms_translate_to_rrules(text: str, rule: str, starts: date) -> None:
    schedule = parse_schedule(text, TODAY)
    assert (schedule.rule, schedule.starts.date()) == (rule, starts)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("every year on 31 February 12:00", "February has no day 31"),
        ("every year on 29 February 12:00", "leap years"),
        ("every year on 31 April 12:00", "April has no day 31"),
        ("2026-02-31 12:00", "is not a date that exists"),
        ("30th of each month 12:00", "not every month has a day 30"),
        ("every Monday", "add a time of day"),
        ("every Monday 24:00", "is not a time of day"),
        ("every Monday 13pm", "is not a time of day"),
        ("every 99 weeks on Monday 10:00", "between 1 and 52"),
        ("fifth Monday of each month 10:00", "first, second, third, fourth or last"),
        ("FREQ=WEEKLY;BYDAY=WE", "needs BYHOUR"),
        ("FREQ=SECONDLY;BYHOUR=1", "not supported"),
        ("FREQ=WEEKLY;DTSTART=20260101;BYHOUR=1", "DTSTART"),
        ("soon-ish 12:00", "could not read"),
        ("", "one short line"),
        ("x" * 400, "one short line"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(DeadlineError, match=problem):
        parse_schedule(text, TODAY)


def test_offsets_and_audiences() -> None:
    assert parse_offsets("2d, 3h, overdue 3h") == parse_offsets("3h 2d overdue after 3h")
    parsed = parse_offsets("2d and 3h before, overdue 1d")
    assert parsed.remind == (timedelta(days=2), timedelta(hours=3))
    assert parsed.overdue_after == timedelta(days=1)
    assert parse_offsets("1d12h").remind == (timedelta(hours=36),)
    assert parse_offsets("none").remind == ()
    for bad in ["", "soon", "overdue", "1d,2d,3d,4d,5d,6d,7d", "0h"]:
        with pytest.raises(DeadlineError):
            parse_offsets(bad)
    typed = parse_audience("clusters: wash; organisations: all; people: @a, 12", ["WASH"], ["X"])
    assert typed.clusters == ("WASH",) and typed.all_organisations
    assert typed.people == ("@a", "12")
    for bad in ["", "clusters:", "teams: A", "clusters: Mars"]:
        with pytest.raises(DeadlineError):
            parse_audience(bad, ["WASH"], [])


def test_named_people_answer_for_themselves_unless_their_cluster_is_in() -> None:
    audience = Audience(clusters=("WASH",), users=(7,))
    assert audience.includes(None, None, 7) and not audience.includes(None, None, 8)
    assert audience.unit_of(7, None, "NRC") == "user:7"
    assert audience.unit_of(7, "WASH", "NRC") == "cluster:WASH"
    assert audience.expected_units([], []) == ["cluster:WASH", "user:7"]


# --------------------------------------------------------------------------- the invariant
SCHEDULES = [
    ("FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0", "2026-11-23"),
    ("FREQ=WEEKLY;BYDAY=WE;BYHOUR=15;BYMINUTE=0", "2026-11-23"),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=12;BYMINUTE=0", "2026-12-02"),
    ("FREQ=WEEKLY;BYDAY=TH;BYHOUR=12;BYMINUTE=0", "2026-11-23"),
    ("FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "2026-11-23"),
]
OFFSETS = [
    (),
    (timedelta(days=2),),
    (timedelta(days=2), timedelta(hours=3)),
    (timedelta(hours=20),),
]
OVERDUE = [None, timedelta(hours=1), timedelta(hours=3)]
PARTNERS = [501, 502]
MODERATORS = [111111111]
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

Edit = tuple[int, int, int, int]  # hours to wait, schedule, offsets, overdue


def _definition(schedule: int, offsets: int, overdue: int) -> Deadline | None:
    rule, starts = SCHEDULES[schedule]
    deadline = Deadline(
        "dl",
        "DL",
        rule,
        parse_starts(starts),
        "Europe/Kyiv",
        remind=OFFSETS[offsets],
        overdue_after=OVERDUE[overdue],
        audience=Audience(everyone=True),
        source="command",
    )
    try:
        return rules.validate(deadline)
    except DeadlineError:
        return None


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade()
    return db


HOURS = st.sampled_from([0, 1, 2, 3, 6, 12, 20, 24, 30, 48, 60])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 2)),
    edits=st.lists(
        st.tuples(HOURS, st.integers(0, 4), st.integers(0, 3), st.integers(0, 2)),
        min_size=1,
        max_size=6,
    ),
)
# Drop the 3-hour reminder once the 2-day one went, then bring it back: it must be there again.
@example(first=(0, 2, 1), edits=[(2, 0, 1, 1), (1, 0, 2, 1)])
# Move the deadline while its reminders are pending, and move it back.
@example(first=(0, 2, 1), edits=[(2, 1, 2, 1), (1, 0, 2, 1)])
def test_editing_never_duplicates_nor_drops_a_future_reminder(
    database: Database, config: LoadedConfig, first: tuple[int, int, int], edits: list[Edit]
) -> None:
    services = cast(Services, SimpleNamespace(settings=config.settings))
    lookback = config.settings.reminders.catch_up_window
    with database.transaction() as session:
        for table in (ReminderOutbox, DeadlineChange, DeadlineRow, Partner):
            session.execute(delete(table))
        for user_id in PARTNERS:
            DeadlineRepository(session).set_partner(user_id, "WASH", None, START)
    current = _definition(*first) or _definition(0, 0, 0)
    assert current is not None
    now = START
    sent: list[tuple[datetime, int, str]] = []

    def dispatch() -> None:
        with database.transaction() as session:
            repo = DeadlineRepository(session)
            plan_outbox(services, repo, now)
            lease = timedelta(minutes=5)
            for row in repo.claim(now, 10_000, lease, "test:1", lease * 2):
                sent.append((row.occurrence_at, row.user_id, row.kind))
                repo.finish(row.id, "test:1", "sent", now)

    with database.transaction() as session:
        DeadlineRepository(session).save_from_chat(current, "add", 1, now)
    dispatch()
    for hours, schedule, offsets, overdue in edits:
        now += timedelta(hours=hours)
        dispatch()
        wanted = _definition(schedule, offsets, overdue)
        if wanted is None:
            continue
        with database.transaction() as session:
            repo = DeadlineRepository(session)
            past = {(r.id, r.status, r.due_at) for r in repo.outbox("dl") if r.occurrence_at <= now}
            repo.save_from_chat(wanted, "edit", 1, now)
            decision = rules.reschedule(
                wanted,
                repo.future_rows("dl", now),
                recipients_of(wanted, repo.partners()),
                MODERATORS,
                now,
            )
            repo.apply_reschedule(decision)
            plan_outbox(services, repo, now)
            rows = repo.outbox("dl")
            assert {(r.id, r.status, r.due_at) for r in rows if r.occurrence_at <= now} == past
        current = wanted
        with database.transaction() as session:
            rows = DeadlineRepository(session).outbox("dl")
        keys = [(r.occurrence_at, r.user_id, r.kind) for r in rows]
        assert len(keys) == len(set(keys))
        by_key = {(r.occurrence_at, r.user_id, r.kind): r for r in rows}
        for r in rows:  # nothing the new definition does not want is still waiting to go
            if r.status == "pending" and r.occurrence_at > now:
                kinds = {p.kind: p.due_at for p in rules.plan(current, r.occurrence_at, True)}
                assert rules.is_occurrence(current, r.occurrence_at), r.occurrence_at
                assert kinds.get(r.kind) == r.due_at, (r.kind, r.due_at)
        start, end = rules.planning_window(current, now, lookback)
        for occurrence in rules.occurrences(current, start, end):
            if occurrence <= now:
                continue
            for planned in rules.plan(current, occurrence):
                if planned.due_at <= now:
                    continue
                for user_id in PARTNERS:
                    found = by_key.get((occurrence, user_id, planned.kind))
                    assert found is not None, (occurrence, user_id, planned)
                    assert found.status in ("pending", "sent"), (found.status, found.note)
                    if found.status == "pending":
                        assert found.due_at == planned.due_at
    assert len(sent) == len(set(sent))
    # Carry on to the end: every reminder still sent at most once.
    for _step in range(10):
        now += timedelta(hours=12)
        dispatch()
    assert len(sent) == len(set(sent))


def test_reschedule_keeps_sent_rows_and_revives_only_its_own_cancellations() -> None:
    base = _definition(0, 2, 1)
    assert base is not None
    occurrence = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    now = occurrence - timedelta(days=1)
    rows = [
        rules.OutboxState(
            1, occurrence, 501, "before:172800", occurrence - timedelta(days=2), "sent"
        ),
        rules.OutboxState(
            2, occurrence, 501, "before:10800", occurrence - timedelta(hours=3), "pending"
        ),
        rules.OutboxState(
            3,
            occurrence,
            502,
            "before:10800",
            occurrence - timedelta(hours=3),
            "cancelled",
            "already submitted",
        ),
        rules.OutboxState(
            4,
            occurrence,
            503,
            "before:10800",
            occurrence - timedelta(hours=3),
            "cancelled",
            rules.RESCHEDULED,
        ),
        rules.OutboxState(
            5, occurrence, 501, "overdue", occurrence + timedelta(hours=1), "pending"
        ),
        rules.OutboxState(6, occurrence - timedelta(days=7), 501, "overdue", occurrence, "pending"),
    ]
    later = replace(base, overdue_after=timedelta(hours=3))
    decision = rules.reschedule(later, rows, [501, 502, 503], MODERATORS, now)
    assert decision.cancel == []
    assert decision.revive == [(4, occurrence - timedelta(hours=3))]
    assert decision.move == [(5, occurrence + timedelta(hours=3))]
    moved = _definition(1, 2, 1)
    assert moved is not None
    decision = rules.reschedule(moved, rows, [501, 502, 503], MODERATORS, now)
    assert decision.cancel == [2, 5] and decision.revive == [] and decision.move == []
    decision = rules.reschedule(base, rows, [502], MODERATORS, now)
    assert decision.cancel == [2, 5]  # 501 is no longer in the audience


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        ("every weekday 9:00", "every weekday at 09:00 Kyiv time"),
        ("every Monday, Wednesday and Friday 9:00", "every Monday, Wednesday and Friday at 09:00"),
        ("every other Wednesday 12:00", "every other Wednesday at 12:00 Kyiv time"),
        ("last day of each month 17:00", "the last day of every month at 17:00"),
    ],
)
def test_schedules_read_back_in_words(text: str, readable: str) -> None:
    schedule = parse_schedule(text, TODAY)
    assert readable in rules.describe_rule(_deadline(schedule.rule, schedule.starts))
