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

from i18n import (
    _,
    comma_join,
    datetime_text,
    day_month_text,
    duration_text,
    list_text,
    ngettext,
    time_text,
    weekday_date_text,
    weekday_name,
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def id_hint() -> str:
    return _("1–32 characters: lower-case letters, digits, '-' or '_' (e.g. sitrep, 3w-inputs)")


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
            _(
                "unknown time zone {name}; expected an IANA name such as Europe/Kyiv or UTC",
                name=repr(name[:64]),
            )
        ) from None


def resolve_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time → the UTC instant it means (RFC 5545 rules, see module doc)."""
    if naive.tzinfo is not None:
        raise ValueError("resolve_local expects a naive local time")
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


# The largest jump of a zone's clocks (Antarctica/Troll moves 2 h), so a calendar-day offset is
# never more than this longer than its length in hours.
LONGEST_CLOCK_CHANGE = timedelta(hours=2)


def reminder_at(wall: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """When a reminder ``offset`` before the local wall-clock time ``wall`` is due (UTC).

    As RFC 5545 (3.3.6) reads a TRIGGER: whole days (and weeks) are nominal, the same local
    wall-clock time that many calendar days earlier; the rest (hours, minutes) is exact. A
    ``timedelta`` keeps whole days apart, so ``24h`` counts as ``1d`` (the .ics says P1D too).
    """
    day = resolve_local(wall - timedelta(days=offset.days), tz)
    return day - timedelta(seconds=offset.seconds, microseconds=offset.microseconds)


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


def zone_label(tz: ZoneInfo) -> str:
    """``Europe/Kyiv`` → ``Kyiv time``."""
    return _("{city} time", city=str(tz.key).rsplit("/", 1)[-1].replace("_", " "))


# --------------------------------------------------------------------------- definitions
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
                    period=duration_text(period),
                )
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
    if upcoming is not None:
        wall = wall_clock(deadline, upcoming)
        first = min((reminder_at(wall, o, deadline.tz) for o in deadline.remind), default=upcoming)
        if now >= first:
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
    wall = wall_clock(deadline, occurrence) if deadline.remind else occurrence
    planned = [
        PlannedReminder(kind_before(o), reminder_at(wall, o, deadline.tz)) for o in deadline.remind
    ]
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
    start = now - lookback - after
    if deadline.plan_from is not None:
        start = max(start, deadline.plan_from + timedelta(microseconds=1))
    # Calendar-day offsets may reach further back than their length across a clock change.
    margin = LONGEST_CLOCK_CHANGE if lead >= timedelta(days=1) else timedelta(0)
    return start, now + lead + margin + timedelta(seconds=1)


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


# --------------------------------------------------------------------------- schedule changes
RESCHEDULED = "cancelled by a schedule change"
PENDING_STATUS, CANCELLED_STATUS = "pending", "cancelled"


def is_occurrence(deadline: Deadline, instant: datetime) -> bool:
    return instant in occurrences(deadline, instant, instant + timedelta(seconds=1))


@dataclass(frozen=True)
class OutboxState:
    """An outbox row as a schedule change sees it."""

    id: int
    occurrence_at: datetime
    user_id: int
    kind: str
    due_at: datetime
    status: str
    note: str | None = None


@dataclass(frozen=True)
class Reschedule:
    cancel: list[int]  # pending rows the new definition no longer has
    revive: list[tuple[int, datetime]]  # rows an earlier change cancelled that are wanted again
    move: list[tuple[int, datetime]]  # pending rows whose time changed (overdue_after edited)


def reschedule(
    deadline: Deadline,
    rows: Iterable[OutboxState],
    recipients: Iterable[int],
    moderators: Iterable[int],
    now: datetime,
) -> Reschedule:
    """What a changed definition means for the outbox rows already planned.

    Only future occurrences (``occurrence_at > now``) are looked at: the past stays as it
    happened. A pending row the new definition still wants is kept (at its new time if that
    moved); one it no longer wants (another occurrence time, an offset dropped, a recipient no
    longer in the audience) is cancelled with the note ``RESCHEDULED``, and such a row comes
    back if a later change wants it again, so the unique (occurrence, recipient, kind) row is
    never lost. Rows already sent, or cancelled for another reason (submitted), stay as they are.
    New rows are planned afterwards by the dispatcher's usual planning.
    """
    people, mods = set(recipients), set(moderators)
    cancel: list[int] = []
    revive: list[tuple[int, datetime]] = []
    move: list[tuple[int, datetime]] = []
    plans: dict[datetime, dict[str, datetime] | None] = {}
    for row in rows:
        if row.occurrence_at <= now:
            continue
        if row.occurrence_at not in plans:
            plans[row.occurrence_at] = (
                {p.kind: p.due_at for p in plan(deadline, row.occurrence_at, digest=True)}
                if is_occurrence(deadline, row.occurrence_at)
                else None
            )
        kinds = plans[row.occurrence_at]
        wanted: datetime | None = None
        allowed = row.user_id in (mods if row.kind == DIGEST else people)
        if kinds is not None and allowed:
            wanted = row.due_at if row.kind.startswith(SNOOZE_PREFIX) else kinds.get(row.kind)
        if row.status == PENDING_STATUS:
            if wanted is None:
                cancel.append(row.id)
            elif wanted != row.due_at:
                move.append((row.id, wanted))
        elif row.status == CANCELLED_STATUS and row.note == RESCHEDULED and wanted is not None:
            revive.append((row.id, wanted))
    return Reschedule(cancel, revive, move)


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait before trying a delivery again (never giving up)."""
    if retry_after is not None:
        return timedelta(seconds=max(1.0, retry_after))
    return timedelta(seconds=min(900, 15 * 2 ** min(attempts, 6)))


# --------------------------------------------------------------------------- summaries
# Names come from CLDR at call time, so each is in the reader's language.
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def day_names() -> dict[str, str]:
    return {code: weekday_name(index) for index, code in enumerate(WEEKDAY_CODES)}


def ordinal(n: int) -> str:
    if n == -1:
        return _("last")
    if n == 1:
        # TRANSLATORS: the ordinal 1 ("the 1st of every month"); "{n}st" below is 21, 31, …
        return _("1st")
    if n < 0:
        return _("{nth}-to-last", nth=ordinal(-n))
    if 10 <= n % 100 <= 20 or n % 10 not in (1, 2, 3):
        return _("{n}th", n=n)
    if n % 10 == 1:
        return _("{n}st", n=n)
    if n % 10 == 2:
        return _("{n}nd", n=n)
    return _("{n}rd", n=n)


def _days(value: str) -> str | None:
    if value == "MO,TU,WE,TH,FR":
        return _("weekday")
    names = []
    days = day_names()
    for item in value.split(","):
        match = re.fullmatch(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)", item)
        if match is None:
            return None
        number, day = match.groups()
        names.append(
            _("{nth} {day}", nth=ordinal(int(number)), day=days[day]) if number else days[day]
        )
    return list_text(names)


def _schedule_text(deadline: Deadline, parts: dict[str, str], first: datetime | None) -> str:
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1") or 1)
    known = {"FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYHOUR", "BYMINUTE", "COUNT"}
    known |= {"UNTIL", "BYSECOND", "WKST"}
    days = _days(parts["BYDAY"]) if "BYDAY" in parts else None
    fallback = _("by the rule {rule}", rule=deadline.rule)
    if set(parts) - known or ("BYDAY" in parts and days is None):
        return fallback
    nth = ordinal(interval)
    if parts.get("COUNT") == "1" and first is not None:
        return _("once, on {date}", date=weekday_date_text(first.date()))
    if freq == "WEEKLY":
        if days is None:
            days = list(day_names().values())[first.weekday()] if first is not None else _("week")
        if interval == 1:
            return _("every {days}", days=days)
        return _("every {nth} {days}", nth=nth, days=days)
    if freq == "MONTHLY" and parts.get("BYMONTHDAY") == "-1" and interval == 1:
        return _("the last day of every month")
    if freq == "MONTHLY" and "BYMONTHDAY" in parts:
        monthdays = list_text([ordinal(int(d)) for d in parts["BYMONTHDAY"].split(",")])
        if interval == 1:
            return _("the {monthdays} of every month", monthdays=monthdays)
        return _("the {monthdays} of every {nth} month", monthdays=monthdays, nth=nth)
    if freq == "MONTHLY" and days is not None:
        if interval == 1:
            return _("the {days} of every month", days=days)
        return _("the {days} of every {nth} month", days=days, nth=nth)
    if freq == "YEARLY":
        months = parts.get("BYMONTH")
        monthday = parts.get("BYMONTHDAY")
        if months and monthday and "," not in months + monthday:
            return _("every year on {date}", date=day_month_text(int(months), int(monthday)))
        if first is not None and not months and not monthday and days is None:
            return _("every year on {date}", date=day_month_text(first.month, first.day))
        return fallback
    if freq == "DAILY" and days is None:
        if interval == 1:
            return _("every day")
        return _("every {nth} day", nth=nth)
    return fallback


def describe_rule(deadline: Deadline) -> str:
    """A readable version of the rule, e.g. ``every 2nd Wednesday at 12:00 Kyiv time``."""
    parts = rule_parts(deadline.rule)
    first = deadline.recurrence().after(deadline.starts, inc=True)
    at = time_text(first.time()) if first is not None else "?"
    return _(
        "{schedule} at {time} {zone}",
        schedule=_schedule_text(deadline, parts, first),
        time=at,
        zone=zone_label(deadline.tz),
    )


def format_local(instant: datetime, tz: ZoneInfo) -> str:
    """``Wed, 2 Dec 2026, 12:00`` in the deadline's zone, in the reader's language."""
    return datetime_text(instant, tz, weekday=True)


def summary(deadline: Deadline, now: datetime) -> str:
    nxt = next_occurrence(deadline, now)
    upcoming = format_local(nxt, deadline.tz) if nxt is not None else _("none (finished)")
    return _("{schedule}; next: {when}", schedule=describe_rule(deadline), when=upcoming)


def describe_kind(kind: str) -> str:
    if kind.startswith(BEFORE_PREFIX):
        seconds = int(kind[len(BEFORE_PREFIX) :])
        return _("{duration} before", duration=duration_text(timedelta(seconds=seconds)))
    if kind.startswith(SNOOZE_PREFIX):
        return _("snoozed")
    return kind


def units_missing(expected: Iterable[str], done: Iterable[str]) -> list[str]:
    finished = set(done)
    return sorted({u for u in expected if u not in finished})


def unit_label(unit: str) -> str:
    """``cluster:WASH`` → ``WASH (cluster)``; ``user:…`` units are named by the caller."""
    kind, _sep, name = unit.partition(":")
    if kind == "cluster":
        return _("{name} (cluster)", name=name)
    if kind == "org":
        return _("{name} (organisation)", name=name)
    return name
