"""Calendar-true reminder offsets: what the bot plans is what its own .ics tells calendar apps.

The oracle is the exported file read by ``icalendar`` + ``recurring-ical-events`` (and, for the
exact hours part, RFC 5545 3.3.6 applied to the event times that library computes), never the
planning code under test.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from dateutil import tz as dateutil_tz
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from moderation.calendar import build_calendar
from moderation.deadlines import Deadline, DeadlineError, occurrences, plan, validate

KYIV = ZoneInfo("Europe/Kyiv")
ZONES = ["Europe/Kyiv", "America/Santiago", "Australia/Lord_Howe", "UTC", "America/New_York"]
EXPORTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def library_alarms(
    deadline: Deadline, start: datetime, end: datetime
) -> set[tuple[datetime, datetime]]:
    """(event start, alarm time) pairs, both UTC, that the libraries find in the exported file,
    for alarms in [start, end).

    The library reports a day offset's alarm at its nominal time (RFC 5545) but chooses which
    alarms fall in a window by the exact duration, an hour off across a clock change: an alarm
    right at the window's edge went missing (a 20-day reminder before 04:00 Kyiv on the March
    change day, due 02:00 UTC, with the window opening at 02:00). So the library is asked for a
    wider window and its reported times are filtered here.
    """
    calendar = icalendar.Calendar.from_ical(build_calendar([deadline], EXPORTED_AT, "test"))
    found: set[tuple[datetime, datetime]] = set()
    margin = timedelta(hours=3)  # more than the largest clock change (2 h)
    wider = recurring_ical_events.of(calendar, components=["VALARM"]).between(
        start - margin, end + margin
    )
    for event in wider:
        for alarm in event.walk("VALARM"):
            trigger = alarm.get("TRIGGER").dt.astimezone(UTC)
            if start <= trigger < end:
                found.add((event.get("DTSTART").dt.astimezone(UTC), trigger))
    return found


def library_events(deadline: Deadline, start: datetime, end: datetime) -> list[datetime]:
    calendar = icalendar.Calendar.from_ical(build_calendar([deadline], EXPORTED_AT, "test"))
    return sorted(
        e.get("DTSTART").dt.astimezone(UTC)
        for e in recurring_ical_events.of(calendar).between(start, end)
    )


def bot_plan(deadline: Deadline, start: datetime, end: datetime) -> set[tuple[datetime, datetime]]:
    """(occurrence, due) pairs of the reminders the bot plans that fall due in [start, end)."""
    lead = max(deadline.remind) + timedelta(hours=3)
    planned: set[tuple[datetime, datetime]] = set()
    for occurrence in occurrences(deadline, start, end + lead):
        for reminder in plan(deadline, occurrence):
            if start <= reminder.due_at < end:
                planned.add((occurrence, reminder.due_at))
    return planned


def test_four_days_before_noon_kyiv_across_the_march_change_is_noon_local() -> None:
    # Issue 16: 31 March 2027, 12:00 Kyiv; clocks go forward on 28 March.
    d = Deadline(
        "m", "M", "FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=12;BYMINUTE=0", datetime(2027, 3, 1),
        "Europe/Kyiv", remind=(timedelta(days=4), timedelta(hours=3)),
    )  # fmt: skip
    occurrence = datetime(2027, 3, 31, 9, tzinfo=UTC)  # 12:00 EEST
    due = {p.kind: p.due_at for p in plan(d, occurrence)}
    assert due["before:345600"] == datetime(2027, 3, 27, 10, tzinfo=UTC)  # 12:00 EET, 97 h
    assert due["before:10800"] == datetime(2027, 3, 31, 6, tzinfo=UTC)  # exactly 3 h
    ics = build_calendar([d], EXPORTED_AT, "test").decode()
    assert "TRIGGER:-P4D" in ics and "TRIGGER:-PT3H" in ics
    window = (datetime(2027, 3, 27, tzinfo=UTC), datetime(2027, 3, 28, tzinfo=UTC))
    assert (occurrence, due["before:345600"]) in library_alarms(d, *window)


def test_hours_stay_exact_across_the_change_night() -> None:
    # 05:00 EEST on 28 March 2027 is 02:00 UTC; three real hours earlier is 23:00 UTC.
    d = Deadline(
        "d", "D", "FREQ=DAILY;BYHOUR=5;BYMINUTE=0", datetime(2027, 3, 20), "Europe/Kyiv",
        remind=(timedelta(hours=3),),
    )  # fmt: skip
    [reminder] = plan(d, datetime(2027, 3, 28, 2, tzinfo=UTC))
    assert reminder.due_at == datetime(2027, 3, 27, 23, tzinfo=UTC)


def test_a_week_before_a_weekly_deadline_is_refused_even_when_clocks_change() -> None:
    d = Deadline(
        "w", "W", "FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0", datetime(2027, 3, 1),
        "Europe/Kyiv", remind=(timedelta(days=7),),
    )  # fmt: skip
    with pytest.raises(DeadlineError):
        validate(d)
    assert validate(Deadline(**{**d.__dict__, "remind": (timedelta(days=6, hours=23),)}))


rules = st.builds(
    lambda freq, interval, hour, minute: (
        f"FREQ={freq};INTERVAL={interval};BYHOUR={hour};BYMINUTE={minute}"
    ),
    st.sampled_from(["DAILY", "WEEKLY", "MONTHLY"]),
    st.integers(1, 3),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30]),
)
day_offsets = st.builds(
    lambda days, weeks: timedelta(days=days + 7 * weeks), st.integers(0, 6), st.integers(0, 2)
).filter(lambda o: o > timedelta(0))
hour_offsets = st.builds(
    lambda h, m: timedelta(hours=h, minutes=m), st.integers(0, 23), st.sampled_from([0, 10, 30])
).filter(lambda o: o > timedelta(0))
starts = st.datetimes(datetime(2026, 1, 1), datetime(2028, 6, 1))
zones = st.sampled_from(ZONES)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rules, starts, zones, st.lists(day_offsets, min_size=1, max_size=3, unique=True))
def test_day_and_week_offsets_match_the_calendar_file(
    rule: str, start: datetime, zone: str, offsets: list[timedelta]
) -> None:
    d = Deadline(
        "p", "P", rule, start.replace(second=0, microsecond=0), zone, remind=tuple(offsets)
    )
    window = (
        start.replace(tzinfo=UTC) + timedelta(days=30),
        start.replace(tzinfo=UTC) + timedelta(days=150),
    )
    assert bot_plan(d, *window) == library_alarms(d, *window)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rules, starts, zones, hour_offsets)
@example(
    "FREQ=DAILY;INTERVAL=1;BYHOUR=0;BYMINUTE=0",
    datetime(2026, 1, 1),
    "America/Santiago",
    timedelta(minutes=10),
)
def test_hour_offsets_are_exact_durations_before_the_calendar_events(
    rule: str, start: datetime, zone: str, offset: timedelta
) -> None:
    # recurring-ical-events subtracts a TRIGGER on the local wall clock, so for hours across a
    # clock change it is not RFC 5545's exact duration; the oracle here is its event time.
    d = Deadline("p", "P", rule, start.replace(second=0, microsecond=0), zone, remind=(offset,))
    window = (
        start.replace(tzinfo=UTC) + timedelta(days=30),
        start.replace(tzinfo=UTC) + timedelta(days=150),
    )
    events = library_events(d, window[0], window[1] + offset)
    expected = {(e, e - offset) for e in events if window[0] <= e - offset < window[1]}
    assert bot_plan(d, *window) == expected
    # Where the wall clock's arithmetic gives the same instant (no clock change inside the
    # offset, nor a repeated hour just before the event), the library's alarms agree as well.
    # Comparing the two instants' UTC offsets is not enough: Santiago's midnight after clocks go
    # back is -04 and so is 23:50 (the second time), yet the wall clock's 23:50 is the first.
    tz = ZoneInfo(zone)
    steady = {
        (event, alarm)
        for event, alarm in expected
        if (event.astimezone(tz).replace(tzinfo=None) - offset).replace(tzinfo=tz).astimezone(UTC)
        == alarm
    }
    assert steady <= library_alarms(d, *window)


@pytest.mark.parametrize(
    "zone",
    [
        "Europe/Kyiv",
        "America/New_York",
        "America/Santiago",
        "Australia/Lord_Howe",  # a half-hour change
        "Antarctica/Troll",  # a two-hour change
        "Asia/Tehran",
    ],
)
def test_the_files_time_zone_changes_clocks_when_the_zone_does(zone: str) -> None:
    """A calendar app may read the zone from the file's VTIMEZONE instead of its own database.
    Read by an independent parser (dateutil's tzical), the file must give the zone's real UTC
    offset at every half hour of two years — clocks-forward onsets are local time *before* the
    change (RFC 5545: DTSTART with TZOFFSETFROM)."""
    d = Deadline("z", "Z", "FREQ=DAILY;BYHOUR=4;BYMINUTE=0", datetime(2026, 1, 1), zone)
    from_file = dateutil_tz.tzical(io.StringIO(build_calendar([d], EXPORTED_AT, "t").decode()))
    file_zone, real = from_file.get(), ZoneInfo(zone)
    moment, wrong = datetime(2026, 1, 2, tzinfo=UTC), []
    while moment < datetime(2027, 12, 1, tzinfo=UTC):
        if moment.astimezone(file_zone).utcoffset() != moment.astimezone(real).utcoffset():
            wrong.append(moment)
        moment += timedelta(minutes=30)
    assert wrong == [], f"the file's {zone} is wrong at {wrong[:4]}"
