"""Conduct rules (moderation/discipline.py): escalation, flood, banned words, durations."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.schema import ModerationPolicy
from moderation.discipline import (
    BannedMatcher,
    BoundsError,
    DurationProblem,
    FloodRule,
    LadderError,
    PatternError,
    Penalty,
    ReasonError,
    ReasonProblem,
    Step,
    active_warnings,
    bounded_duration,
    check_pattern,
    clean_reason,
    deletable,
    escalation,
    has_link,
    is_flood,
    next_step,
    validate_ladder,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MAX_MUTE = timedelta(days=30)


# --------------------------------------------------------------------------- escalation
@st.composite
def ladders(draw: st.DrawFn) -> list[Step]:
    """Valid ladders: thresholds rising, punishment never lighter than the step before."""
    size = draw(st.integers(0, 6))
    thresholds = sorted(draw(st.sets(st.integers(1, 40), min_size=size, max_size=size)))
    steps: list[Step] = []
    severity, minutes = 1, 1
    for threshold in thresholds:
        severity = draw(st.integers(severity, 3))
        penalty = {1: Penalty.MUTE, 2: Penalty.REMOVE, 3: Penalty.BAN}[severity]
        duration = None
        if penalty is Penalty.MUTE:
            minutes = draw(st.integers(minutes, 30 * 24 * 60))
            duration = timedelta(minutes=minutes)
        steps.append(Step(threshold, penalty, duration))
    validate_ladder(steps, MAX_MUTE)
    return steps


@given(ladders(), st.integers(0, 60))
def test_escalation_stays_on_the_ladder(ladder: list[Step], count: int) -> None:
    step = escalation(ladder, count)
    assert step is None or step in ladder
    if step is not None:
        assert step.warnings <= count
    if not ladder or count < ladder[0].warnings:
        assert step is None


@given(ladders(), st.integers(0, 60), st.integers(0, 60))
def test_escalation_is_monotone(ladder: list[Step], a: int, b: int) -> None:
    low, high = sorted((a, b))
    first, second = escalation(ladder, low), escalation(ladder, high)
    if first is not None:
        assert second is not None and second.weight >= first.weight


@given(ladders())
def test_counting_up_visits_every_step_in_order(ladder: list[Step]) -> None:
    """One warning at a time: each step is reached, in order, none skipped, none invented."""
    reached: list[Step] = []
    for count in range(0, 70):
        step = escalation(ladder, count)
        if step is not None and (not reached or reached[-1] is not step):
            reached.append(step)
            assert step.warnings == count  # a step starts exactly at its own threshold
    assert reached == ladder


@given(ladders(), st.integers(0, 60))
def test_next_step_is_the_following_rung(ladder: list[Step], count: int) -> None:
    upcoming = next_step(ladder, count)
    if upcoming is None:
        assert all(s.warnings <= count for s in ladder)
    else:
        assert upcoming.warnings > count
        assert escalation(ladder, upcoming.warnings) == upcoming


def test_the_issue_example_ladder() -> None:
    ladder = ModerationPolicy().ladder()
    assert [escalation(ladder, n) for n in (1, 2)] == [None, None]
    third = escalation(ladder, 3)
    assert third is not None and third.penalty is Penalty.MUTE
    assert third.duration == timedelta(hours=24)
    fourth = escalation(ladder, 4)
    assert fourth is not None and fourth.penalty is Penalty.REMOVE


@pytest.mark.parametrize(
    ("ladder", "problem"),
    [
        ([Step(3, Penalty.REMOVE), Step(3, Penalty.BAN)], "rise strictly"),
        ([Step(3, Penalty.REMOVE), Step(4, Penalty.MUTE, timedelta(hours=1))], "lighter"),
        (
            [Step(2, Penalty.MUTE, timedelta(days=2)), Step(3, Penalty.MUTE, timedelta(hours=1))],
            "lighter",
        ),
        ([Step(2, Penalty.MUTE)], "needs a duration"),
        ([Step(2, Penalty.MUTE, timedelta(days=400))], "between"),
        ([Step(2, Penalty.BAN, timedelta(days=1))], "only a mute"),
        ([Step(0, Penalty.BAN)], "at least 1"),
    ],
)
def test_invalid_ladders_are_refused(ladder: list[Step], problem: str) -> None:
    with pytest.raises(LadderError, match=problem):
        validate_ladder(ladder, MAX_MUTE)


def test_config_refuses_a_bad_ladder_and_a_slow_pattern() -> None:
    with pytest.raises(ValueError, match="lighter"):
        ModerationPolicy.model_validate(
            {"escalation": [{"warnings": 2, "action": "ban"}, {"warnings": 3, "action": "remove"}]}
        )
    with pytest.raises(ValueError, match="slow"):
        ModerationPolicy.model_validate({"banned_patterns": ["(a+)+$"]})
    with pytest.raises(ValueError, match="366d"):
        ModerationPolicy.model_validate({"max_mute": "400d"})
    with pytest.raises(ValueError):
        ModerationPolicy.model_validate({"offtopic_link": "javascript:alert(1)"})


@given(st.lists(st.integers(0, 90 * 24), max_size=30), st.integers(1, 60))
def test_active_warnings_only_inside_the_window(hours: list[int], days: int) -> None:
    now = T0 + timedelta(days=100)
    times = [now - timedelta(hours=h) for h in hours]
    window = timedelta(days=days)
    assert active_warnings(times, now, window) == sum(1 for h in hours if h < days * 24)


# --------------------------------------------------------------------------- flood
offsets = st.lists(st.integers(0, 600), max_size=40)


@given(offsets, offsets, st.integers(2, 20), st.integers(1, 120))
def test_flood_is_monotone_in_messages(a: list[int], b: list[int], n: int, per: int) -> None:
    """More messages never turn a flood into calm."""
    now = T0 + timedelta(seconds=600)
    rule = FloodRule(n, timedelta(seconds=per))
    some = [T0 + timedelta(seconds=s) for s in a]
    more = some + [T0 + timedelta(seconds=s) for s in b]
    if is_flood(some, now, rule):
        assert is_flood(more, now, rule)


@given(offsets, st.integers(2, 20), st.integers(1, 120), st.integers(0, 120))
def test_flood_is_monotone_in_the_rule(times: list[int], n: int, per: int, extra: int) -> None:
    """A longer window or a lower count never lets a flood through."""
    now = T0 + timedelta(seconds=600)
    stamps = [T0 + timedelta(seconds=s) for s in times]
    rule = FloodRule(n, timedelta(seconds=per))
    if is_flood(stamps, now, rule):
        assert is_flood(stamps, now, FloodRule(n, timedelta(seconds=per + extra)))
        assert is_flood(stamps, now, FloodRule(max(1, n - 1), timedelta(seconds=per)))


def test_flood_counts_only_the_window() -> None:
    rule = FloodRule(3, timedelta(seconds=10))
    now = T0 + timedelta(seconds=30)
    assert not is_flood([T0, T0 + timedelta(seconds=1), now], now, rule)
    assert is_flood([now - timedelta(seconds=9), now - timedelta(seconds=1), now], now, rule)


# --------------------------------------------------------------------------- banned words
def test_banned_words_whole_words_case_insensitive() -> None:
    matcher = BannedMatcher.build(["idiot", "shut up", "f*ck"], [])
    assert matcher.find("You IDIOT!") == "IDIOT"
    assert matcher.find("idiots") is None  # a different word
    assert matcher.find("idiotic") is None
    assert matcher.find("please SHUT   up now") == "SHUT   up"
    assert matcher.find("what the fck") == "fck"
    assert matcher.find("what the fuuuck") == "fuuuck"
    assert matcher.find("shutup") is None
    assert matcher.find(None) is None
    assert matcher.find("") is None


def test_banned_words_are_literal_not_regex() -> None:
    matcher = BannedMatcher.build(["a.b", "c++"], [])
    assert matcher.find("axb") is None
    assert matcher.find("a.b") == "a.b"
    assert matcher.find("I like c++ a lot") == "c++"


def test_banned_patterns_and_their_limits() -> None:
    matcher = BannedMatcher.build([], [r"\bidi+ot\b", r"(?:stupid|dumb) \w+"])
    assert matcher.find("what an idiiiot") == "idiiiot"
    assert matcher.find("DUMB question") == "DUMB question"
    for bad, why in [
        ("(a+)+$", "slow"),
        ("(a|aa)*b", "slow"),
        (r"(\w+)\1", "back-references"),
        ("(", "not a valid"),
        ("x?", "empty text"),
        ("a" * 201, "200"),
        ("   ", "empty"),
    ]:
        with pytest.raises(PatternError, match=why):
            check_pattern(bad)


@given(st.text(max_size=60), st.text(alphabet="abc* ", min_size=1, max_size=8))
def test_word_rules_never_match_inside_a_word(text: str, word: str) -> None:
    try:
        matcher = BannedMatcher.build([word], [])
    except PatternError:
        return
    found = matcher.find(text)
    if found is not None:
        index = text.find(found)
        if index >= 0:
            before = text[index - 1] if index > 0 else " "
            after = text[index + len(found)] if index + len(found) < len(text) else " "
            assert not re.match(r"\w", before) or not re.match(r"\w", found[0])
            assert not re.match(r"\w", after) or not re.match(r"\w", found[-1])


@settings(max_examples=30)
@given(st.text(alphabet="ab()|*+?", min_size=1, max_size=12))
def test_accepted_patterns_stay_fast(pattern: str) -> None:
    """Whatever check_pattern accepts matches a hostile 4 kB message quickly."""
    try:
        compiled = check_pattern(pattern)
    except PatternError:
        return
    # CPU time, not wall time: a busy machine must not fail this. A pattern that backtracks
    # catastrophically on 4 kB needs far longer than any bound here (hours), a safe one µs.
    started = time.process_time()
    compiled.search("a" * 4000 + "!")
    assert time.process_time() - started < 2.0


# --------------------------------------------------------------------------- input
@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-5m", DurationProblem.NOT_A_DURATION),
        ("abc", DurationProblem.NOT_A_DURATION),
        ("99999d", DurationProblem.TOO_LONG),
        ("10s", DurationProblem.TOO_SHORT),
        ("0m", DurationProblem.NOT_A_DURATION),
        ("1" * 40 + "d", DurationProblem.NOT_A_DURATION),
    ],
)
def test_bad_durations(text: str, problem: DurationProblem) -> None:
    with pytest.raises(BoundsError) as caught:
        bounded_duration(text, timedelta(minutes=1), MAX_MUTE)
    assert caught.value.problem is problem


@given(st.text(max_size=30))
def test_bounded_durations_stay_in_bounds(text: str) -> None:
    try:
        value = bounded_duration(text, timedelta(minutes=1), MAX_MUTE)
    except BoundsError:
        return
    assert timedelta(minutes=1) <= value <= MAX_MUTE


def test_reasons() -> None:
    assert clean_reason(["  <b>rude</b>\x00", "\n again"], 50, True) == "<b>rude</b> again"
    with pytest.raises(ReasonError) as caught:
        clean_reason([], 50, True)
    assert caught.value.problem is ReasonProblem.MISSING
    assert clean_reason([], 50, False) == ""
    with pytest.raises(ReasonError) as caught:
        clean_reason(["x" * 51], 50, True)
    assert caught.value.problem is ReasonProblem.TOO_LONG and caught.value.length == 51


def test_links_and_deletable() -> None:
    assert has_link("see https://example.org")
    assert has_link("join t.me/spam now")
    assert has_link("plain", ["text_link"])
    assert not has_link("meet at 10.30, email me@example.org")
    assert not has_link(None)
    assert deletable(T0, T0 + timedelta(hours=47, minutes=59))
    assert not deletable(T0, T0 + timedelta(hours=48))
