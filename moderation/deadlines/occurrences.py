"""Occurrences of a deadline: in a window, the next, the previous, the current one."""

from __future__ import annotations

from datetime import datetime, timedelta

from moderation.deadlines.definitions import Deadline
from moderation.deadlines.timezones import reminder_at, resolve_local


def wall_clock(deadline: Deadline, occurrence: datetime) -> datetime:
    """The rule's local wall-clock time that ``occurrence`` (UTC) resolves from.

    Not simply the local time of the instant: a time in a spring-forward gap (00:00 on a
    Santiago change night) moved forward when resolved, while its calendar days count from the
    time the rule names.
    """
    tz = deadline.tz
    local = occurrence.astimezone(tz).replace(tzinfo=None)
    recurrence = deadline.recurrence()
    for candidate in recurrence.between(local - timedelta(hours=3), local, inc=True):
        if resolve_local(candidate, tz) == occurrence:
            return candidate
    return local


def occurrences(deadline: Deadline, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants of the deadline with ``start <= t < end`` (both aware), in order."""
    tz = deadline.tz
    recurrence = deadline.recurrence()
    # Search on local wall-clock times with a day's margin, then filter exactly in UTC.
    lo = start.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    hi = end.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    found = (resolve_local(t, tz) for t in recurrence.between(lo, hi, inc=True))
    return sorted({t for t in found if start <= t < end})


def next_occurrence(deadline: Deadline, now: datetime) -> datetime | None:
    """The first occurrence strictly after ``now``."""
    tz = deadline.tz
    recurrence = deadline.recurrence()
    local = now.astimezone(tz).replace(tzinfo=None) - timedelta(days=1)
    for candidate in recurrence.xafter(local, count=400, inc=True):
        instant = resolve_local(candidate, tz)
        if instant > now:
            return instant
    return None


def previous_occurrence(deadline: Deadline, now: datetime) -> datetime | None:
    """The last occurrence at or before ``now``."""
    tz = deadline.tz
    recurrence = deadline.recurrence()
    local = now.astimezone(tz).replace(tzinfo=None) + timedelta(days=1)
    candidate = recurrence.before(local, inc=True)
    while candidate is not None:
        instant = resolve_local(candidate, tz)
        if instant <= now:
            return instant
        candidate = recurrence.before(candidate, inc=False)
    return None


def current_occurrence(deadline: Deadline, now: datetime) -> datetime | None:
    """The occurrence a submission made now counts for.

    The next occurrence once its first reminder is due; before that, the previous one (a late
    submission still counts for it); the next one if there was none before.
    """
    upcoming = next_occurrence(deadline, now)
    if upcoming is not None:
        wall = wall_clock(deadline, upcoming)
        first = min((reminder_at(wall, o, deadline.tz) for o in deadline.remind), default=upcoming)
        if now >= first:
            return upcoming
    return previous_occurrence(deadline, now) or upcoming
