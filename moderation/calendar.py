"""The deadlines as an RFC 5545 calendar (.ics), with the same recurrence the bot uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import icalendar

from moderation.deadlines import Deadline, describe_rule, rule_parts


def build_calendar(deadlines: Iterable[Deadline], now: datetime, name: str) -> bytes:
    """One VEVENT per deadline: DTSTART is its first occurrence in its zone, RRULE its rule.

    Reminder offsets become VALARMs, so a calendar app reminds at the same moments.
    """
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//imbot//deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for deadline in deadlines:
        first = deadline.recurrence().after(deadline.starts, inc=True)
        if first is None:
            continue
        event = icalendar.Event()
        event.add("uid", f"{deadline.id}@imbot")
        event.add("dtstamp", now)
        event.add("summary", deadline.title)
        text = describe_rule(deadline)
        event.add("description", f"{deadline.description}\n{text}".strip())
        event.add("dtstart", first.replace(tzinfo=deadline.tz))
        event.add(
            "rrule",
            icalendar.vRecur.from_ical(
                ";".join(f"{k}={v}" for k, v in rule_parts(deadline.rule).items())
            ),
        )
        for offset in deadline.remind:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", deadline.title)
            alarm.add("trigger", -offset)
            event.add_component(alarm)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data
