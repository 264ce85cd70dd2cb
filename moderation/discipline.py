"""Conduct rules: warnings and their escalation, flood limits, banned words, duration bounds.

Plain functions with no Telegram import; handlers carry out what they decide. Property tests
(tests/test_discipline_rules.py) check the invariants: escalation follows the configured ladder
step by step and never beyond it, flood detection is monotone, banned words match whole words
only and the patterns the configuration may hold cannot backtrack catastrophically.
"""

from __future__ import annotations

import enum
import importlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moderation.durations import DurationError, parse_duration
from moderation.plaintext import strip_controls

# Telegram treats a restriction shorter than 30 seconds or longer than 366 days as forever.
TELEGRAM_MIN_RESTRICTION = timedelta(seconds=30)
TELEGRAM_MAX_RESTRICTION = timedelta(days=366)
# Bots may delete messages only while they are younger than this.
DELETABLE_FOR = timedelta(hours=48)

PATTERN_MAX = 200  # characters of one configured regular expression
SCAN_MAX = 4096  # characters of a message that banned patterns look at (Telegram's limit)


# --------------------------------------------------------------------------- escalation
class Penalty(enum.StrEnum):
    MUTE = "mute"
    REMOVE = "remove"  # kick, can come back through a sponsor
    BAN = "ban"

    @property
    def severity(self) -> int:
        return {Penalty.MUTE: 1, Penalty.REMOVE: 2, Penalty.BAN: 3}[self]


@dataclass(frozen=True)
class Step:
    """At ``warnings`` active warnings, apply ``penalty`` (a mute lasts ``duration``)."""

    warnings: int
    penalty: Penalty
    duration: timedelta | None = None

    @property
    def weight(self) -> tuple[int, timedelta]:
        """Orders steps by how hard they punish."""
        return self.penalty.severity, self.duration or timedelta(0)


class LadderError(ValueError):
    """A configured escalation ladder that could skip or reverse a step."""


def validate_ladder(ladder: Sequence[Step], max_mute: timedelta) -> None:
    """Thresholds strictly rising, punishment never lighter than the step before."""
    previous: Step | None = None
    for step in ladder:
        if step.warnings < 1:
            raise LadderError("each step needs warnings of at least 1")
        if step.penalty is Penalty.MUTE:
            if step.duration is None:
                raise LadderError(f"the mute at {step.warnings} warnings needs a duration")
            if not TELEGRAM_MIN_RESTRICTION <= step.duration <= max_mute:
                raise LadderError(
                    f"the mute at {step.warnings} warnings must last between 1m and "
                    f"max_mute ({max_mute})"
                )
        elif step.duration is not None:
            raise LadderError(f"only a mute has a duration (step at {step.warnings} warnings)")
        if previous is not None:
            if step.warnings <= previous.warnings:
                raise LadderError("the steps' warnings must rise strictly, e.g. 3, then 4")
            if step.weight < previous.weight:
                raise LadderError(
                    f"the step at {step.warnings} warnings is lighter than the one before it"
                )
        previous = step


def active_warnings(times: Iterable[datetime], now: datetime, window: timedelta) -> int:
    """How many warnings count now: those given within ``window`` before ``now``."""
    return sum(1 for at in times if now - window < at <= now)


def escalation(ladder: Sequence[Step], active: int) -> Step | None:
    """The penalty for the warning that brings the count to ``active``: the last step reached.

    With a valid ladder each step is first reached exactly at its own threshold, so counting
    up one warning at a time visits every step in order; past the last step it repeats.
    """
    reached = [step for step in ladder if step.warnings <= active]
    return reached[-1] if reached else None


def next_step(ladder: Sequence[Step], active: int) -> Step | None:
    """The step the next warnings lead to (to tell the member what comes next)."""
    return next((step for step in ladder if step.warnings > active), None)


# --------------------------------------------------------------------------- flood
@dataclass(frozen=True)
class FloodRule:
    messages: int  # this many messages …
    per: timedelta  # … within this window is a flood


def in_window(times: Iterable[datetime], now: datetime, window: timedelta) -> int:
    return sum(1 for at in times if now - window < at <= now)


def is_flood(times: Iterable[datetime], now: datetime, rule: FloodRule) -> bool:
    """Whether the messages sent at ``times`` (an album counted once) are a flood at ``now``."""
    return in_window(times, now, rule.per) >= rule.messages


# --------------------------------------------------------------------------- durations
class DurationProblem(enum.Enum):
    NOT_A_DURATION = "not a duration"
    TOO_SHORT = "too short"
    TOO_LONG = "too long"


class BoundsError(ValueError):
    def __init__(self, problem: DurationProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def looks_like_duration(text: str) -> bool:
    """Text that was meant as a duration (starts with a sign or a digit)."""
    return bool(re.match(r"^[+-]?\d", text.strip()))


def bounded_duration(text: str, minimum: timedelta, maximum: timedelta) -> timedelta:
    """A typed duration within ``[minimum, maximum]``; "-5m", "abc" and "99999d" are refused."""
    if len(text) > 24:
        raise BoundsError(DurationProblem.NOT_A_DURATION)
    try:
        value = parse_duration(text)
    except DurationError:
        raise BoundsError(DurationProblem.NOT_A_DURATION) from None
    if value < minimum:
        raise BoundsError(DurationProblem.TOO_SHORT)
    if value > maximum:
        raise BoundsError(DurationProblem.TOO_LONG)
    return value


# --------------------------------------------------------------------------- reasons
class ReasonProblem(enum.Enum):
    MISSING = "missing"
    TOO_LONG = "too long"


class ReasonError(ValueError):
    def __init__(self, problem: ReasonProblem, length: int = 0) -> None:
        super().__init__(problem.value)
        self.problem, self.length = problem, length


def clean_reason(words: Sequence[str], limit: int, required: bool) -> str:
    """The reason a moderator typed: control characters dropped, spaces folded, bounded."""
    text = " ".join(words)
    text = strip_controls(text)
    text = re.sub(r"\s+", " ", text).strip()
    if not text and required:
        raise ReasonError(ReasonProblem.MISSING)
    if len(text) > limit:
        raise ReasonError(ReasonProblem.TOO_LONG, len(text))
    return text


# --------------------------------------------------------------------------- banned words
class PatternError(ValueError):
    """A configured pattern that is invalid or could make matching slow."""


_parser: Any = importlib.import_module("re._parser")  # the stdlib regex parser (no stubs)
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _unbounded_inside(items: Any) -> bool:
    """Whether a parsed sub-pattern contains a repeat of more than one or an alternation."""
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = av
            if high > 1 or _unbounded_inside(body):
                return True
        elif name == "BRANCH":
            return True
        elif name == "SUBPATTERN":
            if _unbounded_inside(av[-1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _unbounded_inside(av[1]):
            return True
    return False


def _check_tree(items: Any) -> None:
    for op, av in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise PatternError("back-references are not allowed")
        if name in _REPEATS:
            _low, high, body = av
            if high > 1 and _unbounded_inside(body):
                raise PatternError(
                    "a repeated group that itself repeats or alternates (like (a+)+ or (a|b)*) "
                    "can make matching very slow; simplify it"
                )
            _check_tree(body)
        elif name == "BRANCH":
            for branch in av[1]:
                _check_tree(branch)
        elif name == "SUBPATTERN":
            _check_tree(av[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            _check_tree(av[1])


def check_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a configured regular expression if it is short and cannot backtrack badly."""
    if not pattern.strip():
        raise PatternError("an empty pattern would match everything")
    if len(pattern) > PATTERN_MAX:
        raise PatternError(f"patterns are limited to {PATTERN_MAX} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
        tree = _parser.parse(pattern, re.IGNORECASE)
    except re.error as exc:
        raise PatternError(f"not a valid regular expression: {exc}") from None
    _check_tree(list(tree))
    if compiled.search(""):
        raise PatternError("the pattern matches an empty text, so it would match everything")
    return compiled


def word_pattern(word: str) -> str:
    """A banned word or phrase as a whole-word, case-insensitive regex; ``*`` = any letters."""
    parts = [re.escape(part) for part in word.strip().split("*")]
    body = r"\w*".join(parts)
    body = re.sub(r"(\\ )+", r"\\s+", body)  # a phrase matches across any spaces
    return rf"(?<!\w){body}(?!\w)"


def check_word(word: str) -> str:
    cleaned = word.strip()
    if not cleaned.replace("*", "").strip():
        raise PatternError("a banned word needs at least one letter besides '*'")
    if len(cleaned) > 100:
        raise PatternError("banned words are limited to 100 characters")
    return cleaned


@dataclass(frozen=True)
class BannedMatcher:
    """Finds the first banned word or pattern in a message."""

    rules: tuple[tuple[str, re.Pattern[str]], ...] = ()

    @classmethod
    def build(cls, words: Iterable[str], patterns: Iterable[str]) -> BannedMatcher:
        rules = [
            (check_word(w), re.compile(word_pattern(check_word(w)), re.IGNORECASE)) for w in words
        ]
        rules += [(p, check_pattern(p)) for p in patterns]
        return cls(tuple(rules))

    def find(self, text: str | None) -> str | None:
        """The matched text of the first rule that matches, or None."""
        if not text or not self.rules:
            return None
        sample = unicodedata.normalize("NFKC", text[:SCAN_MAX])
        for _rule, compiled in self.rules:
            found = compiled.search(sample)
            if found:
                return found.group(0)
        return None


# --------------------------------------------------------------------------- links
_LINK = re.compile(
    r"(?:https?://|www\.|\btg://|(?<![\w@.])t\.me/|(?<![\w@.])telegram\.me/)", re.IGNORECASE
)
LINK_ENTITIES = frozenset({"url", "text_link"})


def has_link(text: str | None, entity_types: Iterable[str] = ()) -> bool:
    """Telegram's own url/text_link entities, or an address typed so Telegram may miss it."""
    if any(kind in LINK_ENTITIES for kind in entity_types):
        return True
    return bool(text) and _LINK.search(text or "") is not None


def deletable(sent_at: datetime, now: datetime) -> bool:
    """Whether Telegram still lets a bot delete a message sent at ``sent_at``."""
    return now - sent_at < DELETABLE_FOR
