"""The lifecycle rules on their own: due times in local time across DST, each step once, and
the invariant "every member is in the country, or sponsored with an end date within the
maximum, or in a running grace period, or due for removal — and the sweep removes them"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.introductions import Category, InputError, IntroStatus, parse_date
from moderation.lifecycle import (
    Answer,
    Cause,
    Kind,
    Member,
    Outcome,
    Policy,
    Standing,
    act_time,
    departure_deadline,
    erase_due,
    extended_end,
    local_day,
    next_step,
    sponsor_deadline,
    standing,
)

KYIV = ZoneInfo("Europe/Kyiv")
POLICY = Policy(timezone=KYIV)
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def today(now: datetime) -> date:
    return local_day(now, KYIV)


# --------------------------------------------------------------------------- local time
@given(
    day=st.dates(date(2026, 1, 1), date(2031, 12, 31)),
    zone=st.sampled_from(["Europe/Kyiv", "America/New_York", "Asia/Kabul", "UTC"]),
)
def test_the_bot_acts_at_the_local_time_on_the_local_day(day: date, zone: str) -> None:
    tz = ZoneInfo(zone)
    instant = act_time(day, Policy(timezone=tz))
    local = instant.astimezone(tz)
    assert (local.date(), local.time()) == (day, time(9, 0))
    assert act_time(day + timedelta(days=1), Policy(timezone=tz)) > instant


def test_daylight_saving_in_kyiv() -> None:
    assert act_time(date(2027, 3, 27), POLICY) == datetime(2027, 3, 27, 7, 0, tzinfo=UTC)
    assert act_time(date(2027, 3, 28), POLICY) == datetime(2027, 3, 28, 6, 0, tzinfo=UTC)
    assert act_time(date(2027, 10, 31), POLICY) == datetime(2027, 10, 31, 7, 0, tzinfo=UTC)
    # A daily time inside the spring-forward gap moves forward by the gap.
    night = replace(POLICY, daily_at=time(3, 30))
    assert act_time(date(2027, 3, 28), night).astimezone(KYIV).time() == time(4, 30)


def test_parse_date_reads_iso_year_first_and_today() -> None:
    base = date(2026, 11, 23)
    assert parse_date("2026-12-01", base) == date(2026, 12, 1)
    assert parse_date("today", base) == base
    assert parse_date("Tomorrow", base) == date(2026, 11, 24)
    with pytest.raises(InputError):
        parse_date("2026-02-30", base)


# --------------------------------------------------------------------------- single steps
def test_departure_question_then_removal_without_answer() -> None:
    member = Member(1, START - timedelta(days=30), departure_date=date(2026, 12, 1))
    assert next_step(member, POLICY, START).kind is Kind.NOTHING
    due = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert next_step(member, POLICY, due - timedelta(seconds=1)).kind is Kind.NOTHING
    assert next_step(member, POLICY, due).kind is Kind.ASK_DEPARTURE
    asked = replace(member, departure_asked_at=due)
    assert next_step(asked, POLICY, due + timedelta(days=3) - timedelta(seconds=1)) == next_step(
        asked, POLICY, due
    )
    step = next_step(asked, POLICY, due + timedelta(days=3))
    assert (step.kind, step.cause) == (Kind.REMOVE, Cause.DEPARTURE_UNANSWERED)


def test_stay_waits_for_the_sponsor_grace() -> None:
    asked = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    member = Member(
        1,
        START,
        departure_date=date(2026, 12, 1),
        departure_asked_at=asked,
        departure_answer=Answer.STAY,
        pending_sponsor_id=2,
        pending_since=asked + timedelta(days=2),
    )
    assert departure_deadline(member, POLICY) == asked + timedelta(days=9)
    assert next_step(member, POLICY, asked + timedelta(days=5)).kind is Kind.NOTHING
    step = next_step(member, POLICY, asked + timedelta(days=9))
    assert step.cause is Cause.NO_SPONSOR_CONFIRMED


def test_refused_removals_are_not_retried_and_failures_once_a_day() -> None:
    member = Member(1, START, departure_answer=Answer.LEAVE, departure_asked_at=START)
    assert next_step(member, POLICY, START).cause is Cause.DEPARTURE_DECLINED
    for outcome in (Outcome.PROTECTED, Outcome.NOT_PRESENT, Outcome.ATTEMPTING):
        tried = replace(
            member,
            removal_cause=Cause.DEPARTURE_DECLINED,
            removal_outcome=outcome,
            removal_attempted_at=START,
        )
        assert next_step(tried, POLICY, START + timedelta(days=30)).kind is Kind.NOTHING
    failed = replace(
        member,
        removal_cause=Cause.DEPARTURE_DECLINED,
        removal_outcome=Outcome.FAILED,
        removal_attempted_at=START,
    )
    assert next_step(failed, POLICY, START + timedelta(hours=23)).kind is Kind.NOTHING
    assert next_step(failed, POLICY, START + timedelta(days=1)).kind is Kind.REMOVE


def test_incomplete_introductions_are_left_to_the_introductions() -> None:
    member = Member(1, START, intro_status=IntroStatus.PENDING, category=Category.SURGE)
    assert next_step(member, POLICY, START + timedelta(days=400)).kind is Kind.NOTHING


def test_checkins_are_for_members_in_the_country() -> None:
    joined = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    member = Member(1, joined)
    due = act_time(date(2026, 4, 10), POLICY)
    assert next_step(member, POLICY, due - timedelta(minutes=1)).kind is Kind.NOTHING
    assert next_step(member, POLICY, due).kind is Kind.ASK_CHECKIN
    surge = replace(member, category=Category.SURGE, end_date=date(2027, 1, 1))
    assert next_step(surge, POLICY, due).kind is not Kind.ASK_CHECKIN
    asked = replace(member, checkin_asked_at=due)
    assert next_step(asked, POLICY, due + timedelta(days=100)).kind is Kind.NOTHING  # stale
    removing = replace(POLICY, checkin_removes=True)
    assert next_step(asked, removing, due + timedelta(days=14)).cause is Cause.CHECKIN_UNANSWERED


@given(
    current=st.one_of(st.none(), st.dates(date(2026, 10, 1), date(2027, 6, 1))),
    days=st.integers(0, 400),
    until=st.one_of(st.none(), st.dates(date(2026, 10, 1), date(2027, 12, 1))),
    category=st.sampled_from([None, *Category]),
)
def test_extensions_stay_within_the_maximum(
    current: date | None, days: int, until: date | None, category: Category | None
) -> None:
    now_day = date(2026, 11, 23)
    maximum = timedelta(days=90)
    by = None if until is not None else timedelta(days=days)
    try:
        end = extended_end(category, current, now_day, maximum, by, until)
    except InputError:
        return
    assert category in (Category.SURGE, Category.OUT_OF_COUNTRY)
    assert now_day < end <= now_day + maximum
    assert current is None or end > current


@given(
    left=st.lists(st.integers(0, 800), min_size=1, max_size=3),
    present=st.booleans(),
    elapsed=st.integers(0, 1000),
)
def test_erasure_only_after_everyone_left_for_the_retention(
    left: list[int], present: bool, elapsed: int
) -> None:
    left_at: list[datetime | None] = [START + timedelta(days=d) for d in left]
    now = START + timedelta(days=elapsed)
    if erase_due(left_at, present, timedelta(days=365), now):
        assert not present
        assert all(at is not None and now >= at + timedelta(days=365) for at in left_at)
    assert not erase_due([*left_at, None], False, timedelta(days=1), now + timedelta(days=9999))


# --------------------------------------------------------------------------- the invariant
def record(member: Member, kind: Kind, cause: Cause | None, now: datetime) -> Member:
    """What the sweep records after carrying out a step (mirrors handlers/lifecycle/steps.py)."""
    match kind:
        case Kind.ASK_DEPARTURE:
            return replace(member, departure_asked_at=now)
        case Kind.NOTIFY_EXPIRY:
            return replace(member, expiry_notice_for=member.end_date)
        case Kind.SPONSOR_LOST:
            return replace(member, sponsor_lost_at=now)
        case Kind.SPONSOR_BACK:
            return replace(member, sponsor_lost_at=None, pending_sponsor_id=None)
        case Kind.ASK_CHECKIN:
            return replace(member, checkin_asked_at=now)
        case Kind.REMOVE:
            if member.protected:
                return replace(
                    member,
                    removal_cause=cause,
                    removal_outcome=Outcome.PROTECTED,
                    removal_attempted_at=now,
                )
            return replace(member, present=False)
    return member


def sweep(member: Member, now: datetime) -> tuple[Member, list[Kind]]:
    done: list[Kind] = []
    for _ in range(10):
        step = next_step(member, POLICY, now)
        if step.kind is Kind.NOTHING:
            return member, done
        assert step.kind not in done or step.kind is Kind.REMOVE, "a step came back"
        done.append(step.kind)
        member = record(member, step.kind, step.cause, now)
    raise AssertionError(f"the sweep did not settle: {done}")


def confirm_sponsor(member: Member, now: datetime, days: int) -> Member:
    return replace(
        member,
        category=Category.OUT_OF_COUNTRY,
        end_date=today(now) + timedelta(days=days),
        sponsor_ok=True,
        departure_date=None,
        departure_asked_at=None,
        departure_answer=None,
        pending_sponsor_id=None,
        pending_since=None,
        sponsor_lost_at=None,
        expiry_notice_for=None,
        removal_cause=None,
        removal_outcome=None,
        removal_attempted_at=None,
    )


def operate(member: Member, op: tuple[str, int], now: datetime) -> tuple[Member, datetime]:
    name, n = op
    if name == "wait":
        return member, now + timedelta(hours=n)
    if name == "depart":
        return replace(
            member,
            departure_date=today(now) + timedelta(days=n % 60),
            departure_asked_at=None,
            departure_answer=None,
            removal_cause=None,
            removal_outcome=None,
        ), now
    if name == "answer" and member.departure_asked_at and member.departure_answer is None:
        answer = Answer.STAY if n % 2 else Answer.LEAVE
        pending = now if answer is Answer.STAY and n % 3 else None
        return replace(member, departure_answer=answer, pending_since=pending), now
    if name == "confirm" and (
        member.departure_answer is Answer.STAY or member.sponsor_lost_at is not None
    ):
        return confirm_sponsor(member, now, 1 + n % 90), now
    if name == "sponsor" and member.category is Category.OUT_OF_COUNTRY:
        return replace(member, sponsor_ok=bool(n % 2)), now
    if name == "extend" and member.time_limited:
        try:
            end = extended_end(
                member.category,
                member.end_date,
                today(now),
                POLICY.out_of_country_max,
                by=timedelta(days=1 + n),
            )
        except InputError:
            return member, now
        return replace(member, end_date=end, expiry_notice_for=None), now
    if name == "checkin":
        return replace(member, checked_in_at=now), now
    return member, now


OPS = st.tuples(
    st.sampled_from(
        ["wait", "wait", "wait", "depart", "answer", "confirm", "sponsor", "extend", "checkin"]
    ),
    st.integers(1, 24 * 40),
)


@st.composite
def members(draw: st.DrawFn) -> Member:
    category = draw(st.sampled_from([None, *Category]))
    end = None
    if category is Category.SURGE:
        end = today(START) + timedelta(days=draw(st.integers(1, 200)))
    elif category is Category.OUT_OF_COUNTRY:
        end = today(START) + timedelta(days=draw(st.integers(1, 90)))
    return Member(
        user_id=1,
        joined_at=START - timedelta(days=draw(st.integers(0, 200))),
        protected=draw(st.booleans()),
        intro_status=None if category is None else IntroStatus.COMPLETE,
        category=category,
        end_date=end,
        sponsor_id=2,
        sponsor_ok=category is Category.OUT_OF_COUNTRY,
    )


def check_invariant(member: Member, now: datetime) -> None:
    """After a sweep, every active member stands where the rules allow."""
    if not member.present or member.removal_outcome is Outcome.PROTECTED:
        return
    where = standing(member, POLICY, now)
    day = today(now)
    if where is Standing.SPONSORED:
        assert member.sponsor_ok and member.end_date is not None
        assert day <= member.end_date <= day + POLICY.out_of_country_max
    elif where is Standing.TIME_LIMITED:
        assert member.end_date is not None and member.end_date >= day
    elif where is Standing.IN_GRACE:
        deadlines = [
            d
            for d in (departure_deadline(member, POLICY), sponsor_deadline(member, POLICY))
            if d is not None
        ]
        assert deadlines and min(deadlines) > now, "a grace period without an end"
    else:
        assert where is Standing.IN_COUNTRY, f"left {where} after the sweep"


@settings(max_examples=300, deadline=None)
@given(start=members(), ops=st.lists(OPS, max_size=25))
def test_every_member_is_in_country_sponsored_in_grace_or_removed(
    start: Member, ops: list[tuple[str, int]]
) -> None:
    now = START
    member, _done = sweep(start, now)
    check_invariant(member, now)
    for op in ops:
        member, now = operate(member, op, now)
        member, _done = sweep(member, now)
        check_invariant(member, now)
    # Liveness: with nobody answering any more, a time-limited or departing member does not
    # stay forever.
    later = now
    for _ in range(8):  # the periodic sweep, a month apart (past any end date drawn)
        later += timedelta(days=30)
        member, _done = sweep(member, later)
        check_invariant(member, later)
    if member.present and member.removal_outcome is not Outcome.PROTECTED:
        assert member.in_country and member.departure_date is None


@settings(max_examples=200, deadline=None)
@given(start=members(), ops=st.lists(OPS, max_size=15), late=st.integers(0, 24 * 30))
def test_downtime_acts_once(start: Member, ops: list[tuple[str, int]], late: int) -> None:
    """A sweep that runs late does each due thing once: running it again changes nothing."""
    now = START
    member = start
    for op in ops:
        member, now = operate(member, op, now)
    now += timedelta(hours=late)
    settled, _done = sweep(member, now)
    again, more = sweep(settled, now)
    assert more == [] and again == settled


def test_daily_at_must_be_a_quoted_time() -> None:
    from pydantic import ValidationError

    from config.schema import MembershipPolicy

    assert MembershipPolicy(daily_at="10:30").daily_at == time(10, 30)
    with pytest.raises(ValidationError, match="quotes"):
        MembershipPolicy(daily_at=600)  # what YAML makes of 10:00
