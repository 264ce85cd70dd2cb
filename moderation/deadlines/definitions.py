"""Deadline definitions: the audience, the deadline, its id and recurrence rule, validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from i18n import _, comma_join, duration_text, ngettext
from moderation.deadlines.common import (
    ALLOWED_FREQ,
    ID_PATTERN,
    PERIOD_SAMPLE,
    DeadlineError,
    id_hint,
)
from moderation.deadlines.timezones import (
    LONGEST_CLOCK_CHANGE,
    reminder_at,
    resolve_local,
    timezone_of,
)


@dataclass(frozen=True)
class Audience:
    """Who a deadline concerns: every partner, partners of some clusters/organisations, and/or
    named people (``users``, Telegram ids) who answer for themselves.

    ``None`` for a list means "none of these"; ``ALL`` (the string ``"all"``) means every one.
    """

    everyone: bool = False
    clusters: tuple[str, ...] | None = None
    organisations: tuple[str, ...] | None = None
    all_clusters: bool = False
    all_organisations: bool = False
    users: tuple[int, ...] | None = None

    def _cluster(self, cluster: str | None) -> bool:
        return cluster is not None and (
            self.all_clusters or (self.clusters is not None and cluster in self.clusters)
        )

    def _organisation(self, organisation: str | None) -> bool:
        return organisation is not None and (
            self.all_organisations
            or (self.organisations is not None and organisation in self.organisations)
        )

    def named(self, user_id: int | None) -> bool:
        return user_id is not None and self.users is not None and user_id in self.users

    def includes(
        self, cluster: str | None, organisation: str | None, user_id: int | None = None
    ) -> bool:
        if self.everyone:
            return True
        return self._cluster(cluster) or self._organisation(organisation) or self.named(user_id)

    def unit_of(self, user_id: int, cluster: str | None, organisation: str | None) -> str:
        """Whom a partner answers for: their cluster, else their organisation, else themselves.

        A submission by one partner counts for every partner of the same unit. Someone named
        in the audience only by their person answers for themselves.
        """
        if not self.everyone:
            if self._cluster(cluster):
                return f"cluster:{cluster}"
            if self.named(user_id) and not self._organisation(organisation):
                return f"user:{user_id}"
            if organisation is not None:
                return f"org:{organisation}"
        if self.everyone and cluster is not None:
            return f"cluster:{cluster}"
        if self.everyone and organisation is not None:
            return f"org:{organisation}"
        return f"user:{user_id}"

    def expected_units(self, clusters: Sequence[str], organisations: Sequence[str]) -> list[str]:
        """Units that must submit even if nobody has subscribed for them yet."""
        units: list[str] = []
        if self.all_clusters:
            units += [f"cluster:{c}" for c in clusters]
        elif self.clusters:
            units += [f"cluster:{c}" for c in self.clusters]
        if self.all_organisations:
            units += [f"org:{o}" for o in organisations]
        elif self.organisations:
            units += [f"org:{o}" for o in self.organisations]
        units += [f"user:{u}" for u in self.users or ()]
        return units

    def describe(self) -> str:
        if self.everyone:
            return _("every partner")
        parts = []
        if self.all_clusters:
            parts.append(_("all clusters"))
        elif self.clusters:
            parts.append(comma_join(self.clusters))
        if self.all_organisations:
            parts.append(_("all organisations"))
        elif self.organisations:
            parts.append(comma_join(self.organisations))
        if self.users:
            count = len(self.users)
            parts.append(ngettext("{n} named person", "{n} named people", count))
        return "; ".join(parts) or _("nobody")


@dataclass(frozen=True)
class Deadline:
    id: str
    title: str
    rule: str
    starts: datetime  # naive, local wall-clock time of the first possible occurrence
    timezone: str
    remind: tuple[timedelta, ...] = ()
    overdue_after: timedelta | None = None
    description: str = ""
    audience: Audience = field(default_factory=lambda: Audience(everyone=True))
    paused: bool = False
    source: str = "config"  # config | override (a config deadline changed in chat) | command
    plan_from: datetime | None = None  # occurrences at or before it are never planned

    @property
    def tz(self) -> ZoneInfo:
        return timezone_of(self.timezone)

    def recurrence(self) -> rrule:
        return parse_rule(self.rule, self.starts)


def check_id(text: str) -> str:
    if not ID_PATTERN.match(text):
        raise DeadlineError(
            _(
                "{id} is not a valid deadline id; expected {hint}",
                id=repr(text[:40]),
                hint=id_hint(),
            )
        )
    return text


def rule_parts(rule: str) -> dict[str, str]:
    """``FREQ=WEEKLY;BYDAY=WE`` → ``{"FREQ": "WEEKLY", "BYDAY": "WE"}`` (syntax checked)."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or len(text) > 300 or "\n" in text or "\r" in text:
        raise DeadlineError(_("expected one RFC 5545 RRULE line such as FREQ=WEEKLY;BYDAY=WE"))
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        key, sep, value = chunk.partition("=")
        key = key.strip().upper()
        if not sep or not key or not value.strip():
            raise DeadlineError(_("{part} in the rule is not NAME=VALUE", part=repr(chunk[:40])))
        if key in parts:
            raise DeadlineError(_("{key} appears twice in the rule", key=key[:20]))
        parts[key] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise DeadlineError(_("the rule needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)"))
    if freq not in ALLOWED_FREQ:
        raise DeadlineError(
            _(
                "FREQ={freq} is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY",
                freq=freq[:20],
            )
        )
    if "DTSTART" in parts:
        raise DeadlineError(_("put the first date in 'starts', not DTSTART in the rule"))
    return parts


def parse_rule(rule: str, starts: datetime) -> rrule:
    parts = rule_parts(rule)
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        parsed = rrulestr(text, dtstart=starts)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DeadlineError(
            _("invalid recurrence rule {rule}: {problem}", rule=repr(rule[:300]), problem=exc)
        ) from None
    if not isinstance(parsed, rrule):  # pragma: no cover - rrulestr of one RRULE is an rrule
        raise DeadlineError(_("invalid recurrence rule {rule}", rule=repr(rule[:300])))
    return parsed


def parse_starts(text: str | date | datetime) -> datetime:
    """``2026-12-02`` or ``2026-12-02 12:00`` (local time) → naive datetime."""
    if isinstance(text, datetime):
        if text.tzinfo is not None:
            raise DeadlineError(_("'starts' is a local time; leave out the UTC offset"))
        return text
    if isinstance(text, date):
        return datetime.combine(text, time())
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeadlineError(
            _(
                "{text} is not a date; expected YYYY-MM-DD or 'YYYY-MM-DD HH:MM' that exists",
                text=repr(text[:40]),
            )
        ) from None
    return parse_starts(value)


def validate(deadline: Deadline) -> Deadline:
    """Everything that can be wrong with a definition, with a message saying what to fix."""
    check_id(deadline.id)
    if not deadline.title.strip():
        raise DeadlineError(_("a deadline needs a title"))
    tz = deadline.tz
    recurrence = deadline.recurrence()
    first = recurrence.after(deadline.starts, inc=True)
    if first is None:
        raise DeadlineError(
            _(
                "the rule {rule} never happens on or after {date} (a date such as 31 February?)",
                rule=repr(deadline.rule),
                date=f"{deadline.starts:%Y-%m-%d}",
            )
        )
    for offset in deadline.remind:
        if offset <= timedelta(0):
            raise DeadlineError(
                _("reminder offsets must be positive durations before the deadline")
            )
    walls = _take(recurrence, first, PERIOD_SAMPLE)
    times = [resolve_local(t, tz) for t in walls]
    for offset in deadline.remind:
        try:
            reminder_at(walls[0], offset, tz) if walls else None
        except OverflowError:  # e.g. 9,999,999 weeks: a date before the calendar begins
            raise DeadlineError(
                _(
                    "reminder offset {offset} is longer than the calendar allows",
                    offset=duration_text(offset),
                )
            ) from None
    if len(times) > 1:
        period = min(b - a for a, b in pairwise(times))
        after = deadline.overdue_after or timedelta(0)
        longest = max([*deadline.remind, after])
        # Day offsets are calendar days, so compare real instants, not lengths.
        try:
            earliest = [
                min((reminder_at(wall, o, tz) for o in deadline.remind), default=instant)
                for wall, instant in zip(walls, times, strict=True)
            ]
            overlaps = any(
                earliest[i + 1] <= times[i] or times[i] + after >= times[i + 1]
                for i in range(len(times) - 1)
            )
        except OverflowError:  # an offset of millennia: before year 1, far longer than a period
            overlaps = True
        if overlaps:
            raise DeadlineError(
                _(
                    "reminder offset {offset} is not shorter than the time between two "
                    "occurrences ({period})",
                    offset=duration_text(longest),
                    period=period_text(period),
                )
            )
    return deadline


def period_text(period: timedelta) -> str:
    """The time between two occurrences as the calendar counts it: a weekly deadline's
    occurrences are "a week" apart even across a clock change (6 days 23 hours in real time)."""
    days = round(period / timedelta(days=1))
    if days < 1 or abs(period - timedelta(days=days)) > LONGEST_CLOCK_CHANGE:
        return duration_text(period)
    if days % 7 == 0:
        weeks = days // 7
        return _("a week") if weeks == 1 else ngettext("{n} week", "{n} weeks", weeks)
    return duration_text(timedelta(days=days))


def _take(recurrence: rrule, first: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    for value in recurrence.xafter(first, count=count, inc=True):
        out.append(value)
    return out
