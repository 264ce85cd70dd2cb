"""What the lifecycle commands' words mean: ``/leaving`` (whose date?), ``/extend`` (by how
long or until when?) and ``/readmit`` (on which terms?). Pure, in the reader's language."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from i18n import _
from moderation.durations import DurationError, parse_duration
from moderation.introductions import Category, InputError, parse_date
from moderation.lifecycle import ooc_end_problem


def is_cancel(words: list[str]) -> bool:
    return len(words) == 1 and words[0].casefold() == "cancel"


def looks_like_date(words: list[str], today: date) -> bool:
    """``/leaving 20 Dec`` or ``/leaving cancel`` (about oneself), not ``/leaving @user …``."""
    if not words or words[0].startswith("@"):
        return False
    if is_cancel(words):
        return True
    try:
        parse_date(" ".join(words), today)
    except InputError:
        return False
    return True


class LeavingSubject(enum.Enum):
    SELF = "self"
    SOMEONE = "someone"
    REFUSED = "refused"  # a member tried to set someone else's date


def leaving_subject(
    is_moderator: bool, replied: bool, words: list[str], today: date
) -> LeavingSubject:
    """Whose departure ``/leaving`` is about: a reply or a non-date argument names someone,
    which only moderators may do."""
    if not is_moderator:
        if replied or (words and words[0].startswith("@")):
            return LeavingSubject.REFUSED
        return LeavingSubject.SELF
    if replied or (bool(words) and not looks_like_date(words, today)):
        return LeavingSubject.SOMEONE
    return LeavingSubject.SELF


def parse_extension(words: list[str], today: date) -> tuple[timedelta | None, date | None]:
    """``30d`` (by a duration of whole days) or a date (until); InputError otherwise."""
    text = " ".join(words)
    try:
        by = parse_duration(text)
    except DurationError:
        return None, parse_date(text, today)
    if by < timedelta(days=1):
        raise InputError(_("Please extend by whole days, e.g. 30d or 2w."))
    return by, None


@dataclass(frozen=True)
class Readmission:
    category: Category
    end: date | None = None


def readmission_terms(
    words: list[str], former: Category | None, today: date, maximum: timedelta
) -> Readmission:
    """In the country without an end date; with one, out-of-country again (within the
    maximum) if they were, else surge. InputError when the date is not acceptable."""
    if not words:
        return Readmission(Category.IN_COUNTRY)
    end = parse_date(" ".join(words), today)
    if former is Category.OUT_OF_COUNTRY:
        problem = ooc_end_problem(end, today, maximum)
        if problem:
            raise InputError(problem)
        return Readmission(Category.OUT_OF_COUNTRY, end)
    if end <= today:
        raise InputError(_("The end date must be in the future."))
    return Readmission(Category.SURGE, end)
