"""The pure deadline rules: occurrences across DST, validation, triage, summaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.loader import ConfigError, load_settings
from moderation.deadlines import (
    Deadline,
    DeadlineError,
    DueRow,
    current_occurrence,
    next_occurrence,
    occurrences,
    parse_starts,
    resolve_local,
    summary,
    triage,
    validate,
)

KYIV = ZoneInfo("Europe/Kyiv")
WEEKLY_NOON = "FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0"


def deadline(rule: str = WEEKLY_NOON, starts: str = "2026-01-01", **kw: object) -> Deadline:
    return Deadline("x", "X", rule, parse_starts(starts), "Europe/Kyiv", **kw)  # type: ignore[arg-type]


def test_noon_stays_noon_local_across_both_dst_changes() -> None:
    d = deadline()
    found = occurrences(d, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 11, 30, tzinfo=UTC))
    assert all(t.astimezone(KYIV).hour == 12 for t in found)
    # 12:00 Kyiv is 10:00 UTC in winter and 09:00 UTC in summer.
    assert found[0] == datetime(2027, 3, 3, 10, tzinfo=UTC)
    assert datetime(2027, 3, 31, 9, tzinfo=UTC) in found
    assert datetime(2027, 11, 3, 10, tzinfo=UTC) in found


def test_nonexistent_local_time_moves_forward_by_the_gap() -> None:
    # 28 Mar 2027: Kyiv clocks go from 03:00 to 04:00; 03:30 does not exist.
    d = deadline("FREQ=DAILY;BYHOUR=3;BYMINUTE=30", "2027-03-27")
    found = occurrences(d, datetime(2027, 3, 27, tzinfo=UTC), datetime(2027, 3, 30, tzinfo=UTC))
    assert [t.astimezone(KYIV).strftime("%d %H:%M") for t in found] == [
        "27 03:30",
        "28 04:30",
        "29 03:30",
    ]


def test_ambiguous_local_time_means_the_first_one() -> None:
    # 31 Oct 2027: Kyiv clocks go from 04:00 back to 03:00; 03:30 happens twice.
    d = deadline("FREQ=DAILY;BYHOUR=3;BYMINUTE=30", "2027-10-30")
    found = occurrences(d, datetime(2027, 10, 30, tzinfo=UTC), datetime(2027, 11, 2, tzinfo=UTC))
    assert datetime(2027, 10, 31, 0, 30, tzinfo=UTC) in found  # 03:30 EEST (+03)
    assert datetime(2027, 10, 31, 1, 30, tzinfo=UTC) not in found  # not also 03:30 EET
    assert len(found) == 3
    assert resolve_local(datetime(2027, 10, 31, 3, 30), KYIV).hour == 0


def test_summary_reads_like_a_person_wrote_it() -> None:
    d = deadline("FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=12;BYMINUTE=0", "2026-12-02")
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert (
        summary(d, now)
        == "every other Wednesday at 12:00 Kyiv time; next: Wed, 2 Dec 2026, 12:00 Kyiv time"
    )
    assert summary(deadline("FREQ=MONTHLY;BYMONTHDAY=5;BYHOUR=17"), now).startswith(
        "the 5th of every month at 17:00 Kyiv time"
    )
    once = deadline("FREQ=YEARLY;COUNT=1;BYHOUR=9;BYMINUTE=0", "2026-12-24")
    assert (
        summary(once, now)
        == "once, on Thu, 24 Dec 2026 at 09:00 Kyiv time; next: Thu, 24 Dec 2026, 09:00 Kyiv time"
    )


@pytest.mark.parametrize(
    ("rule", "starts", "remind", "message"),
    [
        ("FREQ=SOMETIMES", "2026-01-01", (), "FREQ=SOMETIMES is not supported"),
        ("BYDAY=WE", "2026-01-01", (), "needs FREQ"),
        ("FREQ=WEEKLY;BYDAY=XX", "2026-01-01", (), "invalid recurrence rule"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31", "2026-01-01", (), "31 February"),
        ("FREQ=WEEKLY", "2026-01-01", (timedelta(days=8),), "not shorter than the time between"),
        ("FREQ=HOURLY", "2026-01-01", (), "not supported"),
        ("FREQ=DAILY;DTSTART=20260101", "2026-01-01", (), "put the first date in 'starts'"),
        ("FREQ=DAILY\nFREQ=WEEKLY", "2026-01-01", (), "one RFC 5545 RRULE line"),
    ],
)
def test_bad_definitions_are_refused_clearly(
    rule: str, starts: str, remind: tuple[timedelta, ...], message: str
) -> None:
    with pytest.raises(DeadlineError, match=message.replace("(", r"\(")):
        validate(deadline(rule, starts, remind=remind))


def test_bad_ids_and_dates() -> None:
    with pytest.raises(DeadlineError, match="not a valid deadline id"):
        validate(Deadline("sit rep", "X", WEEKLY_NOON, datetime(2026, 1, 1), "Europe/Kyiv"))
    with pytest.raises(DeadlineError, match="not a date"):
        parse_starts("2027-02-31")
    with pytest.raises(DeadlineError, match="unknown time zone"):
        validate(Deadline("x", "X", WEEKLY_NOON, datetime(2026, 1, 1), "Mars/Olympus"))


BASE = """\
timezone: Europe/Kyiv
clusters: [WASH]
groups:
  - chat_id: -100123
    title: Test group
deadlines:
  - id: sitrep
    title: SitRep
    rule: "{rule}"
    starts: {starts}
    remind: [{remind}]
    audience: {audience}
"""


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"rule": "FREQ=NEVER"}, "FREQ=NEVER is not supported"),
        ({"starts": '"2027-02-31"'}, "deadlines"),
        ({"remind": "8d"}, "not shorter than the time between two occurrences"),
        ({"audience": "{clusters: [Nope]}"}, "audience clusters ['Nope'] are not in the top-level"),
        ({"audience": "{}"}, "audience needs everyone"),
    ],
)
def test_config_refuses_bad_deadlines(
    tmp_path: Path, values: dict[str, str], expected: str
) -> None:
    fields = {
        "rule": "FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
        "starts": "2026-12-02",
        "remind": "2d",
        "audience": "{clusters: all}",
        **values,
    }
    path = tmp_path / "c.yaml"
    path.write_text(BASE.format(**fields), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert expected in "\n".join(caught.value.problems)


def test_current_occurrence_switches_when_reminders_begin() -> None:
    d = deadline(remind=(timedelta(days=2),))
    wednesday = datetime(2026, 12, 2, 10, tzinfo=UTC)
    assert current_occurrence(d, wednesday - timedelta(days=3)) == wednesday - timedelta(days=7)
    assert current_occurrence(d, wednesday - timedelta(days=1)) == wednesday
    assert current_occurrence(d, wednesday + timedelta(hours=1)) == wednesday


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31)))
def test_property_local_noon_everywhere(day: date) -> None:
    d = deadline("FREQ=DAILY;BYHOUR=12;BYMINUTE=0", "2024-01-01")
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    found = occurrences(d, start, start + timedelta(days=3))
    assert found and all(t.astimezone(KYIV).strftime("%H:%M") == "12:00" for t in found)
    assert len(found) == len(set(found))
    nxt = next_occurrence(d, start)
    assert nxt is not None and nxt > start


rows = st.lists(
    st.builds(
        DueRow,
        id=st.integers(1, 10_000),
        deadline_id=st.sampled_from(["a", "b"]),
        occurrence_at=st.sampled_from(
            [datetime(2026, 12, 2, 10, tzinfo=UTC), datetime(2026, 12, 9, 10, tzinfo=UTC)]
        ),
        user_id=st.integers(1, 3),
        kind=st.sampled_from(["before:172800", "before:10800", "overdue", "digest"]),
        due_at=st.datetimes(min_value=datetime(2026, 11, 25), max_value=datetime(2026, 12, 10)).map(
            lambda t: t.replace(tzinfo=UTC)
        ),
    ),
    unique_by=lambda r: r.id,
    max_size=30,
)


@given(rows, st.datetimes(min_value=datetime(2026, 11, 28), max_value=datetime(2026, 12, 12)))
def test_property_triage_never_sends_twice_and_loses_nothing(
    due: list[DueRow], when: datetime
) -> None:
    now = when.replace(tzinfo=UTC)
    result = triage(due, now, timedelta(hours=6))
    sent = result.send + [row for row, _ in result.catch_up]
    placed = sent + result.merged + result.skipped + [o for _, old in result.catch_up for o in old]
    assert sorted(r.id for r in placed) == sorted(r.id for r in due)  # each row exactly once
    keys = [(r.user_id, r.deadline_id, r.occurrence_at, r.kind == "digest") for r in sent]
    assert len(keys) == len(set(keys))  # at most one message per recipient and occurrence
