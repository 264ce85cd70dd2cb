"""Deadline rules: occurrences, which reminders are due for whom, and readable summaries.

Pure, typed, no Telegram. Times are stored in UTC; deadlines are defined in the operation's
local time zone with an RFC 5545 recurrence rule (python-dateutil ``rrule``) evaluated on *local
wall-clock* times, so "every other Wednesday 12:00 Europe/Kyiv" stays 12:00 local across DST.

Local times that do not exist or exist twice are resolved as RFC 5545 (3.3.5) says, which is
also what ``zoneinfo`` does with ``fold=0``:

- a time that exists twice (clocks go back) means the *first* one (the earlier instant);
- a time that does not exist (clocks go forward) is read with the offset *before* the gap, i.e.
  it moves forward by the length of the gap (03:30 on a 03:00→04:00 night becomes 04:30).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from moderation.durations import format_duration

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ID_HINT = "1–32 characters: lower-case letters, digits, '-' or '_' (e.g. sitrep, 3w-inputs)"
ALLOWED_FREQ = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# How far ahead to look when measuring a rule's shortest period.
PERIOD_SAMPLE = 60

OVERDUE = "overdue"
DIGEST = "digest"  # the moderators' overdue digest
BEFORE_PREFIX = "before:"
SNOOZE_PREFIX = "snooze:"


class DeadlineError(ValueError):
    """A deadline definition that cannot be used; the message says what was expected."""


# --------------------------------------------------------------------------- time zones
def timezone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise DeadlineError(
            f"unknown time zone {name!r}; expected an IANA name such as Europe/Kyiv or UTC"
        ) from None


def resolve_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time → the UTC instant it means (RFC 5545 rules, see module doc)."""
    if naive.tzinfo is not None:
        raise ValueError("resolve_local expects a naive local time")
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def zone_label(tz: ZoneInfo) -> str:
    """``Europe/Kyiv`` → ``Kyiv time``."""
    return f"{str(tz.key).rsplit('/', 1)[-1].replace('_', ' ')} time"


# --------------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Audience:
    """Who a deadline concerns: every partner, or partners of some clusters/organisations.

    ``None`` for a list means "none of these"; ``ALL`` (the string ``"all"``) means every one.
    """

    everyone: bool = False
    clusters: tuple[str, ...] | None = None
    organisations: tuple[str, ...] | None = None
    all_clusters: bool = False
    all_organisations: bool = False

    def includes(self, cluster: str | None, organisation: str | None) -> bool:
        if self.everyone:
            return True
        if cluster is not None and (
            self.all_clusters or (self.clusters is not None and cluster in self.clusters)
        ):
            return True
        return organisation is not None and (
            self.all_organisations
            or (self.organisations is not None and organisation in self.organisations)
        )

    def unit_of(self, user_id: int, cluster: str | None, organisation: str | None) -> str:
        """Whom a partner answers for: their cluster, else their organisation, else themselves.

        A submission by one partner counts for every partner of the same unit.
        """
        if not self.everyone:
            if cluster is not None and (
                self.all_clusters or (self.clusters is not None and cluster in self.clusters)
            ):
                return f"cluster:{cluster}"
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
        return units

    def describe(self) -> str:
        if self.everyone:
            return "every partner"
        parts = []
        if self.all_clusters:
            parts.append("all clusters")
        elif self.clusters:
            parts.append(", ".join(self.clusters))
        if self.all_organisations:
            parts.append("all organisations")
        elif self.organisations:
            parts.append(", ".join(self.organisations))
        return "; ".join(parts) or "nobody"


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

    @property
    def tz(self) -> ZoneInfo:
        return timezone_of(self.timezone)

    def recurrence(self) -> rrule:
        return parse_rule(self.rule, self.starts)


def check_id(text: str) -> str:
    if not ID_PATTERN.match(text):
        raise DeadlineError(f"{text[:40]!r} is not a valid deadline id; expected {ID_HINT}")
    return text


def rule_parts(rule: str) -> dict[str, str]:
    """``FREQ=WEEKLY;BYDAY=WE`` → ``{"FREQ": "WEEKLY", "BYDAY": "WE"}`` (syntax checked)."""
    text = rule.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or len(text) > 300 or "\n" in text or "\r" in text:
        raise DeadlineError("expected one RFC 5545 RRULE line such as FREQ=WEEKLY;BYDAY=WE")
    parts: dict[str, str] = {}
    for chunk in text.split(";"):
        key, sep, value = chunk.partition("=")
        key = key.strip().upper()
        if not sep or not key or not value.strip():
            raise DeadlineError(f"{chunk!r} in the rule is not NAME=VALUE")
        if key in parts:
            raise DeadlineError(f"{key} appears twice in the rule")
        parts[key] = value.strip().upper()
    freq = parts.get("FREQ")
    if freq is None:
        raise DeadlineError("the rule needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)")
    if freq not in ALLOWED_FREQ:
        raise DeadlineError(f"FREQ={freq} is not supported; use DAILY, WEEKLY, MONTHLY or YEARLY")
    if "DTSTART" in parts:
        raise DeadlineError("put the first date in 'starts', not DTSTART in the rule")
    return parts


def parse_rule(rule: str, starts: datetime) -> rrule:
    parts = rule_parts(rule)
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        parsed = rrulestr(text, dtstart=starts)
    except (ValueError, TypeError, OverflowError) as exc:
        raise DeadlineError(f"invalid recurrence rule {rule!r}: {exc}") from None
    if not isinstance(parsed, rrule):  # pragma: no cover - rrulestr of one RRULE is an rrule
        raise DeadlineError(f"invalid recurrence rule {rule!r}")
    return parsed


def parse_starts(text: str | date | datetime) -> datetime:
    """``2026-12-02`` or ``2026-12-02 12:00`` (local time) → naive datetime."""
    if isinstance(text, datetime):
        if text.tzinfo is not None:
            raise DeadlineError("'starts' is a local time; leave out the UTC offset")
        return text
    if isinstance(text, date):
        return datetime.combine(text, time())
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeadlineError(
            f"{text[:40]!r} is not a date; expected YYYY-MM-DD or 'YYYY-MM-DD HH:MM' that exists"
        ) from None
    return parse_starts(value)


def validate(deadline: Deadline) -> Deadline:
    """Everything that can be wrong with a definition, with a message saying what to fix."""
    check_id(deadline.id)
    if not deadline.title.strip():
        raise DeadlineError("a deadline needs a title")
    tz = deadline.tz
    recurrence = deadline.recurrence()
    first = recurrence.after(deadline.starts, inc=True)
    if first is None:
        raise DeadlineError(
            f"the rule {deadline.rule!r} never happens on or after {deadline.starts:%Y-%m-%d} "
            "(a date such as 31 February?)"
        )
    for offset in deadline.remind:
        if offset <= timedelta(0):
            raise DeadlineError("reminder offsets must be positive durations before the deadline")
    times = [resolve_local(t, tz) for t in _take(recurrence, first, PERIOD_SAMPLE)]
    if len(times) > 1:
        period = min(b - a for a, b in pairwise(times))
        longest = max([*deadline.remind, deadline.overdue_after or timedelta(0)])
        if longest >= period:
            raise DeadlineError(
                f"reminder offset {format_duration(longest)} is not shorter than the time "
                f"between two occurrences ({format_duration(period)})"
            )
    return deadline


def _take(recurrence: rrule, first: datetime, count: int) -> list[datetime]:
    out: list[datetime] = []
    for value in recurrence.xafter(first, count=count, inc=True):
        out.append(value)
    return out


# --------------------------------------------------------------------------- occurrences
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
    lead = max(deadline.remind, default=timedelta(0))
    if upcoming is not None and now >= upcoming - lead:
        return upcoming
    return previous_occurrence(deadline, now) or upcoming


# --------------------------------------------------------------------------- reminders
@dataclass(frozen=True)
class PlannedReminder:
    kind: str  # "before:<seconds>", "overdue", "digest"
    due_at: datetime


def kind_before(offset: timedelta) -> str:
    return f"{BEFORE_PREFIX}{int(offset.total_seconds())}"


def kind_snooze(due_at: datetime) -> str:
    return f"{SNOOZE_PREFIX}{int(due_at.timestamp())}"


def plan(deadline: Deadline, occurrence: datetime, digest: bool = False) -> list[PlannedReminder]:
    """The partner reminders of one occurrence (and the moderators' digest when ``digest``)."""
    planned = [PlannedReminder(kind_before(o), occurrence - o) for o in deadline.remind]
    if deadline.overdue_after is not None:
        planned.append(PlannedReminder(OVERDUE, occurrence + deadline.overdue_after))
        if digest:
            planned.append(PlannedReminder(DIGEST, occurrence + deadline.overdue_after))
    return sorted(planned, key=lambda p: p.due_at)


def planning_window(
    deadline: Deadline, now: datetime, lookback: timedelta
) -> tuple[datetime, datetime]:
    """Occurrences whose reminders may be due between ``now - lookback`` and ``now``."""
    lead = max(deadline.remind, default=timedelta(0))
    after = deadline.overdue_after or timedelta(0)
    return now - lookback - after, now + lead + timedelta(seconds=1)


@dataclass(frozen=True)
class DueRow:
    """An outbox row as the dispatcher sees it."""

    id: int
    deadline_id: str
    occurrence_at: datetime
    user_id: int
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class Triage:
    send: list[DueRow]  # send as a normal reminder
    catch_up: list[tuple[DueRow, list[DueRow]]]  # one catch-up note, and the rows it replaces
    merged: list[DueRow]  # superseded by a newer reminder of the same occurrence
    skipped: list[DueRow]  # stale and no longer useful


def triage(rows: Iterable[DueRow], now: datetime, window: timedelta) -> Triage:
    """Decide what to do with due rows so a downtime never turns into a flood.

    Per (recipient, deadline, occurrence), only the newest due reminder matters. Sent as is when
    it is fresh (due within ``window``); when every one is stale, a single catch-up note replaces
    them while the deadline is still ahead, and nothing is sent once it has passed. The moderators'
    digest is always sent (it is the record of who is missing).
    """
    groups: dict[tuple[int, str, datetime, bool], list[DueRow]] = {}
    for row in rows:
        key = (row.user_id, row.deadline_id, row.occurrence_at, row.kind == DIGEST)
        groups.setdefault(key, []).append(row)
    send: list[DueRow] = []
    catch_up: list[tuple[DueRow, list[DueRow]]] = []
    merged: list[DueRow] = []
    skipped: list[DueRow] = []
    for (_user, _deadline, occurrence, is_digest), members in groups.items():
        members.sort(key=lambda r: (r.due_at, r.id))
        newest, older = members[-1], members[:-1]
        if is_digest or newest.due_at >= now - window:
            send.append(newest)
            merged.extend(older)
        elif occurrence > now:
            catch_up.append((newest, older))
        else:
            skipped.extend(members)
    return Triage(send, catch_up, merged, skipped)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before trying a delivery again (never giving up)."""
    if retry_after is not None:
        return timedelta(seconds=max(1.0, retry_after))
    return timedelta(seconds=min(900, 15 * 2 ** min(attempts, 6)))


# --------------------------------------------------------------------------- summaries
_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_UNIT = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


def ordinal(n: int) -> str:
    if n == -1:
        return "last"
    if n < 0:
        return f"{ordinal(-n)}-to-last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _days(value: str) -> str | None:
    names = []
    for item in value.split(","):
        match = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", item)
        if match is None:
            return None
        number, day = match.groups()
        names.append(f"{ordinal(int(number))} {_DAYS[day]}" if number else _DAYS[day])
    return " and ".join(names)


def describe_rule(deadline: Deadline) -> str:
    """A readable version of the rule, e.g. ``every 2nd Wednesday at 12:00 Kyiv time``."""
    parts = rule_parts(deadline.rule)
    tz = deadline.tz
    first = deadline.recurrence().after(deadline.starts, inc=True)
    at = f"{first:%H:%M}" if first is not None else "?"
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1") or 1)
    known = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "COUNT"}
    known |= {"UNTIL", "BYSECOND", "WKST"}
    unit = _UNIT[freq]
    every = "every" if interval == 1 else f"every {ordinal(interval)}"
    days = _days(parts["BYDAY"]) if "BYDAY" in parts else None
    text: str | None
    if set(parts) - known or ("BYDAY" in parts and days is None):
        text = None
    elif parts.get("COUNT") == "1" and first is not None:
        text = f"once, on {first:%a %-d %b %Y}"
    elif freq == "WEEKLY":
        text = f"{every} {days or f'{first:%A}' if first else unit}"
    elif freq == "MONTHLY" and "BYMONTHDAY" in parts:
        monthdays = " and ".join(ordinal(int(d)) for d in parts["BYMONTHDAY"].split(","))
        text = f"the {monthdays} of {every} month".replace("of every 1st month", "of every month")
        if interval > 1:
            text = f"the {monthdays} of every {ordinal(interval)} month"
    elif freq == "MONTHLY" and days is not None:
        text = f"the {days} of {'every month' if interval == 1 else every + ' month'}"
    elif freq == "YEARLY":
        months = parts.get("BYMONTH")
        monthday = parts.get("BYMONTHDAY")
        if months and monthday and "," not in months + monthday:
            text = f"every year on {int(monthday)} {_MONTHS[int(months) - 1]}"
        elif first is not None and not months and not monthday and days is None:
            text = f"every year on {first:%-d %B}"
        else:
            text = None
    elif freq == "DAILY" and days is None:
        text = f"{every} {unit}"
    else:
        text = None
    if text is None:
        text = f"by the rule {deadline.rule}"
    return f"{text} at {at} {zone_label(tz)}"


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """``Wed 2 Dec 2026 12:00`` in the deadline's zone."""
    return f"{instant.astimezone(tz):%a %-d %b %Y %H:%M}"


def summary(deadline: Deadline, now: datetime) -> str:
    nxt = next_occurrence(deadline, now)
    upcoming = format_local(nxt, deadline.tz) if nxt is not None else "none (finished)"
    return f"{describe_rule(deadline)}; next: {upcoming}"


def describe_kind(kind: str) -> str:
    if kind.startswith(BEFORE_PREFIX):
        return f"{format_duration(timedelta(seconds=int(kind[len(BEFORE_PREFIX) :])))} before"
    if kind.startswith(SNOOZE_PREFIX):
        return "snoozed"
    return kind


def units_missing(expected: Iterable[str], done: Iterable[str]) -> list[str]:
    finished = set(done)
    return sorted({u for u in expected if u not in finished})


def unit_label(unit: str) -> str:
    """``cluster:WASH`` → ``WASH (cluster)``."""
    kind, _, name = unit.partition(":")
    return {"cluster": f"{name} (cluster)", "org": f"{name} (organisation)"}.get(kind, name)
