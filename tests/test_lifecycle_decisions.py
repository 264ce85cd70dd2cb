"""The lifecycle's decisions on their own (moderation/sponsorship, lifecycle_notices,
lifecycle_input): who counts as a sponsor in the country, who may be named, answer and extend,
who is told after a removal, and what /leaving, /extend and /readmit's words mean. Oracles
are the README's "Membership lifecycle" section, stated here as examples and properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.introductions import Category, InputError, IntroStatus
from moderation.lifecycle import Answer, Cause, Outcome
from moderation.lifecycle_input import (
    LeavingSubject,
    Readmission,
    leaving_subject,
    looks_like_date,
    parse_extension,
    readmission_terms,
)
from moderation.lifecycle_notices import (
    ExpiryReader,
    Report,
    Told,
    expiry_readers,
    group_notice_cause,
    who_is_told,
)
from moderation.sponsorship import (
    Candidate,
    confirmation_problem,
    counts_in_country,
    may_answer_request,
    may_extend,
    may_name_new_sponsor,
    records_stay,
    sponsor_ok,
    sponsor_problem,
    sponsorship_cause,
)

TODAY = date(2026, 11, 23)
MAX = timedelta(days=90)
ids = st.integers(1, 10**12)
categories = st.sampled_from([None, *Category])
statuses = st.sampled_from([None, *IntroStatus])
candidates = st.builds(
    Candidate,
    user_id=ids,
    is_bot=st.booleans(),
    present=st.booleans(),
    category=categories,
    intro_status=statuses,
    trusted=st.booleans(),
)
IN_COUNTRY = (None, Category.IN_COUNTRY)  # no introduction: a member from before the bot


# --------------------------------------------------------------------------- the sponsor rule
def test_who_counts_in_the_country() -> None:
    assert counts_in_country(False, Category.IN_COUNTRY)
    assert counts_in_country(False, None)  # a veteran
    assert not counts_in_country(False, Category.OUT_OF_COUNTRY)
    assert not counts_in_country(False, Category.SURGE)
    assert not counts_in_country(True, Category.IN_COUNTRY)
    assert not counts_in_country(True, None)


@given(is_bot=st.booleans(), category=categories)
def test_only_people_in_the_country_count(is_bot: bool, category: Category | None) -> None:
    assert counts_in_country(is_bot, category) == (not is_bot and category in IN_COUNTRY)


@given(
    sponsor=st.none() | ids,
    trusted=st.frozensets(ids, max_size=5),
    present_in_country=st.frozensets(ids, max_size=5),
)
def test_a_sponsor_counts_when_trusted_or_present_in_the_country(
    sponsor: int | None, trusted: frozenset[int], present_in_country: frozenset[int]
) -> None:
    ok = sponsor_ok(sponsor, trusted, present_in_country.__contains__)
    assert ok == (sponsor is not None and (sponsor in trusted or sponsor in present_in_country))
    # A configured moderator counts even when they are not a group member at all.
    if sponsor is not None:
        assert sponsor_ok(sponsor, frozenset({sponsor}), lambda _uid: False)
    assert not sponsor_ok(None, trusted | present_in_country, lambda _uid: True)


def test_who_may_be_named_as_a_sponsor() -> None:
    member = 7
    assert sponsor_problem(Candidate(member, present=True), member) is not None  # oneself
    assert sponsor_problem(Candidate(8, is_bot=True, present=True), member) is not None
    assert sponsor_problem(Candidate(8, present=True), member) is None  # a veteran
    assert sponsor_problem(Candidate(8, present=True, category=Category.IN_COUNTRY), member) is None
    assert sponsor_problem(Candidate(8, present=False), member) is not None  # left the group
    outside = Candidate(8, present=True, category=Category.OUT_OF_COUNTRY)
    assert sponsor_problem(outside, member) is not None
    assert sponsor_problem(Candidate(8, present=True, category=Category.SURGE), member) is not None
    pending = Candidate(8, present=True, intro_status=IntroStatus.PENDING)
    assert sponsor_problem(pending, member) is not None
    # A configured moderator may be named even outside the group.
    assert sponsor_problem(Candidate(900, trusted=True), member) is None


@given(candidate=candidates, member=ids)
def test_the_sponsor_rule(candidate: Candidate, member: int) -> None:
    problem = sponsor_problem(candidate, member)
    if candidate.user_id == member or candidate.is_bot:
        assert problem is not None
    elif candidate.trusted:
        assert problem is None
    else:
        allowed = (
            candidate.present
            and candidate.category in IN_COUNTRY
            and candidate.intro_status not in (IntroStatus.PENDING, IntroStatus.HELD)
        )
        assert (problem is None) == allowed
    assert problem is None or problem.strip()


@given(candidate=candidates, member=ids, present=st.booleans())
def test_a_confirmation_needs_the_member_still_there(
    candidate: Candidate, member: int, present: bool
) -> None:
    problem = confirmation_problem(candidate, member, present)
    if sponsor_problem(candidate, member) is not None:
        assert problem == sponsor_problem(candidate, member)
    else:
        assert (problem is None) == present


@given(pending=st.none() | ids, presser=ids)
def test_only_the_named_sponsor_answers(pending: int | None, presser: int) -> None:
    assert may_answer_request(pending, presser) == (pending == presser)
    assert not may_answer_request(None, presser)


@given(actor=ids, moderator=st.booleans(), sponsor=st.none() | ids)
def test_the_sponsor_or_a_moderator_extends(
    actor: int, moderator: bool, sponsor: int | None
) -> None:
    assert may_extend(actor, moderator, sponsor) == (moderator or sponsor == actor)
    assert may_extend(actor, False, actor)


@given(current=st.none() | st.sampled_from(list(Answer)))
def test_yes_is_recorded_once(current: Answer | None) -> None:
    assert records_stay(current) == (current is not Answer.STAY)


@given(
    lost=st.booleans(),
    answer=st.none() | st.sampled_from(list(Answer)),
    outcome=st.none() | st.sampled_from(list(Outcome)),
    end=st.none() | st.dates(),
)
def test_name_a_new_sponsor_is_open_only_while_it_can_help(
    lost: bool, answer: Answer | None, outcome: Outcome | None, end: date | None
) -> None:
    open_ = may_name_new_sponsor(lost, answer, outcome, end)
    if outcome is not None or end is None:
        assert not open_  # a removal was attempted, or no end date to sponsor
    else:
        assert open_ == (lost or answer is Answer.STAY)


def test_the_audit_lines_of_a_confirmed_sponsor() -> None:
    end = date(2027, 1, 31)
    assert sponsorship_cause(True, Category.OUT_OF_COUNTRY, 42, end) == (
        "sponsor: new sponsor 42 confirmed, out_of_country until 2027-01-31"
    )
    assert sponsorship_cause(False, None, 42, end) == (
        "departure: in_country -> out_of_country until 2027-01-31, sponsor 42 confirmed"
    )
    assert sponsorship_cause(False, Category.SURGE, 42, end).startswith("departure: surge ->")


# --------------------------------------------------------------------------- who is told
def test_who_is_told_after_a_removal() -> None:
    # "No" or no answer: the same thank-you in the group and a private goodbye.
    for cause in (Cause.DEPARTURE_DECLINED, Cause.DEPARTURE_UNANSWERED):
        assert who_is_told(cause, Outcome.REMOVED) == Told(Cause.DEPARTURE_DECLINED, True, None)
    assert who_is_told(Cause.EXPIRED, Outcome.REMOVED) == Told(Cause.EXPIRED, True, None)
    # Lost sponsors and check-ins also reach the moderators.
    assert who_is_told(Cause.SPONSOR_LOST, Outcome.REMOVED) == Told(
        Cause.SPONSOR_LOST, True, Report.REMOVED
    )
    # A voluntary /leave posts nothing in the group and answers in its own message.
    assert who_is_told(Cause.VOLUNTARY, Outcome.REMOVED) == Told()
    # An admin, or someone already gone: one message to the moderators.
    assert who_is_told(Cause.EXPIRED, Outcome.PROTECTED) == Told(moderators=Report.PROTECTED)
    assert who_is_told(Cause.EXPIRED, Outcome.NOT_PRESENT) == Told(moderators=Report.NOT_PRESENT)
    # A missing right is reported by the removal itself and retried silently.
    assert who_is_told(Cause.EXPIRED, Outcome.FAILED) == Told()


@given(cause=st.sampled_from(list(Cause)), outcome=st.sampled_from(list(Outcome)))
def test_nobody_hears_of_a_removal_that_did_not_happen(cause: Cause, outcome: Outcome) -> None:
    told = who_is_told(cause, outcome)
    removed = outcome is Outcome.REMOVED
    voluntary = cause is Cause.VOLUNTARY
    assert (told.group_notice is not None) == (removed and not voluntary)
    assert told.farewell == (removed and not voluntary)
    if voluntary:
        assert told == Told()
    if outcome in (Outcome.PROTECTED, Outcome.NOT_PRESENT) and not voluntary:
        assert told.moderators is not None  # a moderator must act, or should know
    if outcome in (Outcome.FAILED, Outcome.ATTEMPTING):
        assert told == Told()
    if told.group_notice is not None:
        assert told.group_notice is group_notice_cause(cause)
        assert told.group_notice not in (Cause.DEPARTURE_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED)


def test_the_expiry_question_goes_to_the_sponsor_then_the_moderators() -> None:
    assert expiry_readers(True) == (ExpiryReader.SPONSOR, ExpiryReader.MODERATORS)
    assert expiry_readers(False) == (ExpiryReader.MODERATORS,)


# --------------------------------------------------------------------------- the words
def test_whose_departure_leaving_is_about() -> None:
    assert leaving_subject(False, False, ["20", "Dec"], TODAY) is LeavingSubject.SELF
    assert leaving_subject(False, False, [], TODAY) is LeavingSubject.SELF
    assert leaving_subject(False, False, ["@someone", "20", "Dec"], TODAY) is (
        LeavingSubject.REFUSED
    )
    assert leaving_subject(False, True, ["20", "Dec"], TODAY) is LeavingSubject.REFUSED
    assert leaving_subject(True, False, ["20", "Dec"], TODAY) is LeavingSubject.SELF
    assert leaving_subject(True, False, ["cancel"], TODAY) is LeavingSubject.SELF
    assert leaving_subject(True, False, ["@someone", "20", "Dec"], TODAY) is (
        LeavingSubject.SOMEONE
    )
    assert leaving_subject(True, False, ["Alice", "20", "Dec"], TODAY) is LeavingSubject.SOMEONE
    assert leaving_subject(True, True, ["20", "Dec"], TODAY) is LeavingSubject.SOMEONE
    assert looks_like_date(["in", "3", "weeks"], TODAY)
    assert not looks_like_date([], TODAY)


@given(
    moderator=st.booleans(),
    replied=st.booleans(),
    words=st.lists(st.text(min_size=1, max_size=12).filter(lambda w: w.strip()), max_size=4),
)
def test_only_moderators_set_someone_elses_date(
    moderator: bool, replied: bool, words: list[str]
) -> None:
    subject = leaving_subject(moderator, replied, words, TODAY)
    if not moderator:
        assert subject is not LeavingSubject.SOMEONE
        assert (subject is LeavingSubject.REFUSED) == (
            replied or (bool(words) and words[0].startswith("@"))
        )
    else:
        assert subject is not LeavingSubject.REFUSED
        if replied or (words and words[0].startswith("@")):
            assert subject is LeavingSubject.SOMEONE


def test_extend_by_a_duration_or_until_a_date() -> None:
    assert parse_extension(["30d"], TODAY) == (timedelta(days=30), None)
    assert parse_extension(["2w"], TODAY) == (timedelta(weeks=2), None)
    assert parse_extension(["2027-02-15"], TODAY) == (None, date(2027, 2, 15))
    with pytest.raises(InputError):
        parse_extension(["12h"], TODAY)  # whole days only
    with pytest.raises(InputError):
        parse_extension(["whenever"], TODAY)


@given(days=st.integers(1, 400), hours=st.integers(0, 23))
def test_an_extension_is_whole_days_or_refused(days: int, hours: int) -> None:
    by, until = parse_extension([f"{days}d{hours}h" if hours else f"{days}d"], TODAY)
    assert until is None and by == timedelta(days=days, hours=hours)
    with pytest.raises(InputError):
        parse_extension([f"{hours or 1}h"], TODAY)


def test_readmission_terms() -> None:
    assert readmission_terms([], Category.OUT_OF_COUNTRY, TODAY, MAX) == Readmission(
        Category.IN_COUNTRY
    )
    assert readmission_terms(["2027-01-15"], Category.OUT_OF_COUNTRY, TODAY, MAX) == Readmission(
        Category.OUT_OF_COUNTRY, date(2027, 1, 15)
    )
    assert readmission_terms(["2027-01-15"], None, TODAY, MAX) == Readmission(
        Category.SURGE, date(2027, 1, 15)
    )
    # Surge is not bound by the out-of-country maximum; out-of-country is.
    assert readmission_terms(["2027-09-01"], Category.IN_COUNTRY, TODAY, MAX).category is (
        Category.SURGE
    )
    with pytest.raises(InputError):
        readmission_terms(["2027-09-01"], Category.OUT_OF_COUNTRY, TODAY, MAX)
    with pytest.raises(InputError):
        readmission_terms(["2026-11-23"], Category.SURGE, TODAY, MAX)  # not in the future
    with pytest.raises(InputError):
        readmission_terms(["someday"], None, TODAY, MAX)


@given(offset=st.integers(-30, 400), former=categories)
def test_readmission_dates(offset: int, former: Category | None) -> None:
    end = TODAY + timedelta(days=offset)
    try:
        terms = readmission_terms([end.isoformat()], former, TODAY, MAX)
    except InputError:
        assert offset <= 0 or (former is Category.OUT_OF_COUNTRY and offset > MAX.days)
        return
    assert terms.end == end and offset > 0
    expected = Category.OUT_OF_COUNTRY if former is Category.OUT_OF_COUNTRY else Category.SURGE
    assert terms.category is expected
