"""What a moderator types in ``/deadline add|edit``, read into deadline parts (pure, no Telegram).

Schedules are an RFC 5545 RRULE or one of a small explicit grammar of friendly forms, each
translated to an RRULE (case does not matter, "at" is optional, a trailing ``from YYYY-MM-DD``
sets the first possible date, otherwise today):

- ``2026-12-20 12:00`` — once (``FREQ=DAILY;COUNT=1``);
- ``every day 09:00``, ``every weekday 09:00``, ``every 3rd day 09:00``;
- ``every Monday 10:00``, ``every other Wednesday 12:00``, ``every 3 weeks on Tuesday 9:30``,
  ``every Monday and Thursday 10:00``; ``every 2nd Wednesday`` is refused as ambiguous (every
  other Wednesday, or the second Wednesday of the month?) with both unambiguous spellings;
- ``5th of each month 17:00``, ``monthly on the 5th 17:00``, ``last day of each month 17:00``;
- ``first Tuesday of each month 14:00``, ``last Friday of every month 16:00``;
- ``every year on 15 April 12:00``, ``15 April every year 12:00``;
- ``FREQ=MONTHLY;BYMONTHDAY=5;BYHOUR=17;BYMINUTE=0`` (needs BYHOUR).

Days 29–31 of the month are refused (months without them would silently have no deadline:
"last day of each month" says what is meant), and so are dates that do not exist.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from i18n import _, comma_join, month_name
from moderation.deadlines import DeadlineError, rule_parts
from moderation.durations import DurationError, parse_duration

TITLE_MAX = 100
DESCRIPTION_MAX = 1000
MAX_OFFSETS = 6

_WEEKDAYS = {
    "monday": "MO",
    "mon": "MO",
    "tuesday": "TU",
    "tue": "TU",
    "tues": "TU",
    "wednesday": "WE",
    "wed": "WE",
    "thursday": "TH",
    "thu": "TH",
    "thur": "TH",
    "thurs": "TH",
    "friday": "FR",
    "fri": "FR",
    "saturday": "SA",
    "sat": "SA",
    "sunday": "SU",
    "sun": "SU",
}
_MONTHS = {
    name.lower(): index
    for index in range(1, 13)
    for name in (calendar.month_name[index], calendar.month_abbr[index])
}
_ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "other": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "last": -1,
}
_DAY = r"(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")s?"
_DAYS = rf"{_DAY}(?:\s*(?:,|and|&)\s*{_DAY})*"
_NTH = r"(?:\d{1,2}(?:st|nd|rd|th)?|first|second|third|fourth|fifth|other|last)"
_EACH = r"(?:each|every)"
_TIME = r"noon|midnight|\d{1,2}(?:[:.h]\d{2}|h)?(?:\s*[ap]m)?"
_YEARLY = r"(?:every year|each year|yearly|annually)"


def schedule_examples() -> str:
    return _(
        "For example: “every Monday 10:00”, “every other Wednesday 12:00”, “5th of each month "
        "17:00”, “first Tuesday of each month 14:00”, “every year on 15 April 12:00”, "
        "“2026-12-20 12:00” (once), or an RFC 5545 rule such as "
        "“FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0”. Add “from 2026-12-02” to choose the "
        "first date."
    )


@dataclass(frozen=True)
class Schedule:
    rule: str
    starts: datetime  # naive local time


def _number(word: str) -> int:
    word = word.lower()
    if word in _ORDINAL_WORDS:
        return _ORDINAL_WORDS[word]
    return int(re.sub(r"(st|nd|rd|th)$", "", word))


def parse_time(text: str) -> time:
    """``12:00``, ``9:30``, ``17h``, ``5pm``, ``5:30 pm``, ``noon``, ``midnight``."""
    value = text.strip().lower()
    if value == "noon":
        return time(12, 0)
    if value == "midnight":
        return time(0, 0)
    match = re.fullmatch(r"(\d{1,2})(?:[:.h](\d{2})|h)?\s*(am|pm)?", value)
    if match is None or (match.group(2) is None and match.group(3) is None and "h" not in value):
        raise DeadlineError(_("add a time of day such as 12:00 or 17:30"))
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        if not 1 <= hour <= 12:
            raise DeadlineError(_("{time} is not a time of day", time=text.strip()[:20]))
        hour = hour % 12 + (12 if match.group(3) == "pm" else 0)
    if hour > 23 or minute > 59:
        raise DeadlineError(_("{time} is not a time of day", time=text.strip()[:20]))
    return time(hour, minute)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DeadlineError(
            _("{text} is not a date that exists; expected YYYY-MM-DD", text=text[:20])
        ) from None


def _check_month_day(day: int, month: int) -> None:
    if day == 29 and month == 2:
        raise DeadlineError(_("29 February exists only in leap years; choose another day"))
    longest = calendar.monthrange(2025, month)[1]  # a common year: February has 28 days
    if not 1 <= day <= longest:
        raise DeadlineError(
            _(
                "{month} has no day {day} (it has {longest} days)",
                month=month_name(month),
                day=day,
                longest=longest,
            )
        )


def _month_day(day: int) -> str:
    if day == -1:
        return "-1"
    if not 1 <= day <= 28:
        raise DeadlineError(
            _(
                "not every month has a day {day}; choose 1–28, or say 'last day of each month'",
                day=day,
            )
        )
    return str(day)


def _byday(text: str) -> str:
    found = re.findall(_DAY, text)
    codes: list[str] = []
    for word in found:
        code = _WEEKDAYS[word.rstrip("s") if word.rstrip("s") in _WEEKDAYS else word]
        if code not in codes:
            codes.append(code)
    return ",".join(codes)


def _at(hour_minute: time) -> str:
    return f"BYHOUR={hour_minute.hour};BYMINUTE={hour_minute.minute}"


def parse_schedule(text: str, today: date) -> Schedule:
    """A friendly schedule or an RRULE → (rule, first possible local date)."""
    raw = " ".join(text.split())
    if not raw or len(raw) > 300:
        raise DeadlineError(
            _("Send the schedule in one short line. {examples}", examples=schedule_examples())
        )
    starts = datetime.combine(today, time())
    source = raw
    match = re.fullmatch(r"(.*?)\s+(?:from|starting|starting from)\s+(\S+)", raw, re.IGNORECASE)
    if match is not None:
        source, starts = match.group(1), datetime.combine(_date(match.group(2)), time())
    if "=" in source:
        parts = rule_parts(source)
        if "BYHOUR" not in parts:
            raise DeadlineError(
                _("the rule needs BYHOUR (and BYMINUTE) for the time of day, e.g. BYHOUR=12")
            )
        return Schedule(";".join(f"{k}={v}" for k, v in parts.items()), starts)
    low = source.lower().replace("  ", " ")
    once = re.fullmatch(r"(?:on )?(\d{4}-\d{2}-\d{2})(?:\s+(?:at\s+)?(.+))?", low)
    if once is not None:
        day = _date(once.group(1))
        if once.group(2) is None:
            raise DeadlineError(_("add a time of day such as 12:00 or 17:30"))
        at = parse_time(once.group(2))
        return Schedule(f"FREQ=DAILY;COUNT=1;{_at(at)}", datetime.combine(day, time()))
    # Split off the time of day: the last word(s) after an optional "at".
    split = re.fullmatch(rf"(.+?),?\s+(?:at\s+)?({_TIME})", low)
    if split is None:
        if _friendly_rule(low) is not None:
            raise DeadlineError(_("add a time of day such as 12:00 or 17:30"))
        raise DeadlineError(
            _("I could not read that schedule. {examples}", examples=schedule_examples())
        )
    what, at = split.group(1).strip(), parse_time(split.group(2))
    rule = _friendly_rule(what)
    if rule is None:
        raise DeadlineError(
            _("I could not read that schedule. {examples}", examples=schedule_examples())
        )
    return Schedule(f"{rule};{_at(at)}", starts)


def _friendly_rule(what: str) -> str | None:
    if re.fullmatch(r"(?:every day|daily|each day)", what):
        return "FREQ=DAILY"
    if re.fullmatch(rf"{_EACH} (?:weekday|working day|work day)s?", what):
        return "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
    match = re.fullmatch(rf"every ({_NTH}|\d{{1,2}}) days?", what)
    if match is not None:
        return f"FREQ=DAILY;INTERVAL={_interval(match.group(1))}"
    match = re.fullmatch(rf"(?:every|each)(?: ({_NTH}))? (week )?(?:on )?({_DAYS})", what)
    if match is not None:
        nth, week, named = match.groups()
        if nth is not None and nth != "other" and week is None:
            _ambiguous(nth, named)
        interval = _interval(nth) if nth else 1
        return _weekly(interval, _byday(named))
    match = re.fullmatch(rf"every (\d{{1,2}}|{_NTH}) weeks? on ({_DAYS})", what)
    if match is not None:
        return _weekly(_interval(match.group(1)), _byday(match.group(2)))
    match = re.fullmatch(
        rf"(?:on )?(?:the )?({_NTH}) (?:day )?of {_EACH} month|monthly on the ({_NTH})(?: day)?",
        what,
    )
    if match is not None:
        word = match.group(1) or match.group(2)
        if word == "other":
            return None
        return f"FREQ=MONTHLY;BYMONTHDAY={_month_day(_number(word))}"
    match = re.fullmatch(rf"(?:on )?(?:the )?({_NTH}) ({_DAY}) of {_EACH} month", what)
    if match is not None and match.group(1) != "other":
        nth = _number(match.group(1))
        if not (nth == -1 or 1 <= nth <= 4):
            raise DeadlineError(_("use first, second, third, fourth or last weekday of the month"))
        return f"FREQ=MONTHLY;BYDAY={nth:+d}{_byday(match.group(2))}"
    months = "|".join(sorted(_MONTHS, key=len, reverse=True))
    dd = r"(\d{1,2})(?:st|nd|rd|th)?"
    match = re.fullmatch(
        rf"{_YEARLY} on (?:the )?(?:{dd} (?:of )?({months})|({months}) {dd})"
        rf"|(?:on )?(?:the )?{dd} (?:of )?({months}),? {_YEARLY}",
        what,
    )
    if match is not None:
        groups = match.groups()
        day_text = groups[0] or groups[3] or groups[4]
        month_text = groups[1] or groups[2] or groups[5]
        day, month = int(day_text), _MONTHS[month_text]
        _check_month_day(day, month)
        return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}"
    return None


def _ambiguous(nth: str, days: str) -> None:
    """ "every 2nd Wednesday" is every other Wednesday to some and the second Wednesday of the
    month to others: refuse it and show both unambiguous ways of writing it."""
    number, days = _number(nth), days.title()
    if number < 1:
        raise DeadlineError(_("for once a month, write “the last {days} of each month”", days=days))
    raise DeadlineError(
        _(
            "“every {nth} {days}” can be read two ways. Write “every {n} weeks on {days}” for "
            "every {n} weeks, or “the {nth} {days} of each month” for once a month",
            nth=nth,
            days=days,
            n=number,
        )
    )


def _interval(word: str) -> int:
    value = _number(word)
    if not 1 <= value <= 52:
        raise DeadlineError(_("the interval must be between 1 and 52"))
    return value


def _weekly(interval: int, byday: str) -> str:
    if not byday:
        raise DeadlineError(_("name a day of the week, e.g. every Monday 10:00"))
    if interval == 1:
        return f"FREQ=WEEKLY;BYDAY={byday}"
    return f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={byday}"


# --------------------------------------------------------------------------- reminders
@dataclass(frozen=True)
class Offsets:
    remind: tuple[timedelta, ...]  # longest first
    overdue_after: timedelta | None


def parse_offsets(text: str) -> Offsets:
    """``2d, 3h, overdue 3h`` / ``1d12h`` / ``none`` / ``overdue 1d`` → the reminder offsets.

    Offsets are separated by commas or spaces (``1d12h`` without a space is one offset).
    """
    raw = " ".join(text.lower().split())
    if raw in ("none", "no", "-", "no reminders"):
        return Offsets((), None)
    if not raw or len(raw) > 200:
        raise DeadlineError(offsets_hint())
    overdue: timedelta | None = None
    match = re.search(r"(?:,\s*)?overdue(?: after)?\s+([0-9smhdw]+)", raw)
    if match is not None:
        overdue = _duration(match.group(1))
        raw = (raw[: match.start()] + raw[match.end() :]).strip(" ,")
    elif "overdue" in raw:
        raise DeadlineError(
            _("say how long after the deadline the overdue note comes, e.g. overdue 3h")
        )
    offsets: set[timedelta] = set()
    for token in re.split(r"[,\s]+|\band\b", raw):
        if token and token != "before":
            offsets.add(_duration(token))
    if len(offsets) > MAX_OFFSETS:
        raise DeadlineError(_("at most {n} reminders before the deadline", n=MAX_OFFSETS))
    if not offsets and overdue is None:
        raise DeadlineError(offsets_hint())
    return Offsets(tuple(sorted(offsets, reverse=True)), overdue)


def _duration(token: str) -> timedelta:
    try:
        return parse_duration(token)
    except DurationError:
        raise DeadlineError(
            _("{text} is not a duration. {hint}", text=token[:20], hint=offsets_hint())
        ) from None


def offsets_hint() -> str:
    return _(
        "Expected how long before the deadline to remind, such as “2d, 3h”, optionally "
        "“overdue 3h” for one note after it, or “none”."
    )


# --------------------------------------------------------------------------- audience
@dataclass(frozen=True)
class AudienceText:
    everyone: bool = False
    clusters: tuple[str, ...] | None = None  # configured spelling
    organisations: tuple[str, ...] | None = None
    all_clusters: bool = False
    all_organisations: bool = False
    people: tuple[str, ...] = ()  # as typed: @username, user id or a name, resolved by the caller


def audience_hint() -> str:
    return _(
        "Send “everyone”, “clusters: WASH, Health” (or “clusters: all”), “organisations: "
        "UNICEF, NRC”, “people: @olena, Ivan Koval”, or several of these separated by “;”."
    )


def _match_names(typed: list[str], known: list[str], kind: str) -> tuple[str, ...]:
    out: list[str] = []
    for name in typed:
        found = next((k for k in known if k.casefold() == name.casefold()), None)
        if found is None:
            raise DeadlineError(
                _(
                    "{name} is not one of the configured {kind}: {known}",
                    name=name[:60],
                    kind=kind,
                    known=comma_join(known) or "—",
                )
            )
        if found not in out:
            out.append(found)
    return tuple(out)


def parse_audience(text: str, clusters: list[str], organisations: list[str]) -> AudienceText:
    raw = text.strip()
    if not raw or len(raw) > 1000:
        raise DeadlineError(audience_hint())
    result: dict[str, object] = {}
    for part in re.split(r"[;\n]", raw):
        part = part.strip()
        if not part:
            continue
        low = part.lower()
        if low in ("everyone", "everybody", "whole group", "all", "all partners"):
            result["everyone"] = True
            continue
        if low in ("all clusters", "every cluster"):
            result["all_clusters"] = True
            continue
        if low in ("all organisations", "all organizations", "every organisation"):
            result["all_organisations"] = True
            continue
        key, sep, rest = part.partition(":")
        names = [n.strip() for n in rest.split(",") if n.strip()]
        kind = key.strip().lower()
        if not sep or not names:
            raise DeadlineError(audience_hint())
        if kind in ("clusters", "cluster"):
            if [n.lower() for n in names] == ["all"]:
                result["all_clusters"] = True
            else:
                result["clusters"] = _match_names(names, clusters, _("clusters"))
        elif kind in ("organisations", "organisation", "organizations", "organization", "orgs"):
            if [n.lower() for n in names] == ["all"]:
                result["all_organisations"] = True
            else:
                result["organisations"] = _match_names(names, organisations, _("organisations"))
        elif kind in ("people", "person", "users", "subscribers"):
            if len(names) > 50:
                raise DeadlineError(_("name at most 50 people"))
            result["people"] = tuple(names)
        else:
            raise DeadlineError(audience_hint())
    if not result:
        raise DeadlineError(audience_hint())
    return AudienceText(**result)  # type: ignore[arg-type]
