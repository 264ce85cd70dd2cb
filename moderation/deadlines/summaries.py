"""Summaries: readable schedules, dates and reminder kinds, in the reader's language."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from i18n import (
    _,
    datetime_text,
    day_month_text,
    duration_text,
    list_text,
    ngettext,
    pgettext,
    time_text,
    weekday_date_text,
    weekday_name,
)
from moderation.deadlines.common import BEFORE_PREFIX, SNOOZE_PREFIX
from moderation.deadlines.definitions import Deadline, rule_parts
from moderation.deadlines.occurrences import next_occurrence
from moderation.deadlines.timezones import zone_label

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


# Ordinals before a weekday's name agree with it (Ukrainian "2-й вівторок" but "2-а середа"):
# each weekday is its own catalog context. Built when shown, in the reader's language.
_WEEKDAY_ORDINALS: dict[str, Callable[[], dict[int, str]]] = {
    "MO": lambda: {
        1: pgettext("before Monday", "1st"),
        2: pgettext("before Monday", "2nd"),
        3: pgettext("before Monday", "3rd"),
        4: pgettext("before Monday", "4th"),
        5: pgettext("before Monday", "5th"),
        -1: pgettext("before Monday", "last"),
    },
    "TU": lambda: {
        1: pgettext("before Tuesday", "1st"),
        2: pgettext("before Tuesday", "2nd"),
        3: pgettext("before Tuesday", "3rd"),
        4: pgettext("before Tuesday", "4th"),
        5: pgettext("before Tuesday", "5th"),
        -1: pgettext("before Tuesday", "last"),
    },
    "WE": lambda: {
        1: pgettext("before Wednesday", "1st"),
        2: pgettext("before Wednesday", "2nd"),
        3: pgettext("before Wednesday", "3rd"),
        4: pgettext("before Wednesday", "4th"),
        5: pgettext("before Wednesday", "5th"),
        -1: pgettext("before Wednesday", "last"),
    },
    "TH": lambda: {
        1: pgettext("before Thursday", "1st"),
        2: pgettext("before Thursday", "2nd"),
        3: pgettext("before Thursday", "3rd"),
        4: pgettext("before Thursday", "4th"),
        5: pgettext("before Thursday", "5th"),
        -1: pgettext("before Thursday", "last"),
    },
    "FR": lambda: {
        1: pgettext("before Friday", "1st"),
        2: pgettext("before Friday", "2nd"),
        3: pgettext("before Friday", "3rd"),
        4: pgettext("before Friday", "4th"),
        5: pgettext("before Friday", "5th"),
        -1: pgettext("before Friday", "last"),
    },
    "SA": lambda: {
        1: pgettext("before Saturday", "1st"),
        2: pgettext("before Saturday", "2nd"),
        3: pgettext("before Saturday", "3rd"),
        4: pgettext("before Saturday", "4th"),
        5: pgettext("before Saturday", "5th"),
        -1: pgettext("before Saturday", "last"),
    },
    "SU": lambda: {
        1: pgettext("before Sunday", "1st"),
        2: pgettext("before Sunday", "2nd"),
        3: pgettext("before Sunday", "3rd"),
        4: pgettext("before Sunday", "4th"),
        5: pgettext("before Sunday", "5th"),
        -1: pgettext("before Sunday", "last"),
    },
}


def weekday_ordinal(n: int, code: str) -> str:
    """``2nd`` before ``Wednesday``, agreeing with it where the language needs it."""
    forms = _WEEKDAY_ORDINALS[code]()
    return forms.get(n) or ordinal(n)


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
            _("{nth} {day}", nth=weekday_ordinal(int(number), day), day=days[day])
            if number
            else days[day]
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
        if interval == 2:
            return _("every other {days}", days=days)
        return ngettext(
            "every {n} week on {days}", "every {n} weeks on {days}", interval, days=days
        )
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
    """A readable version of the rule, e.g. ``every other Wednesday at 12:00 Kyiv time``."""
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
