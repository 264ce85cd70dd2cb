"""The deadlines as an RFC 5545 calendar (.ics), with the same recurrence the bot uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from moderation.deadlines import Deadline, describe_rule, rule_parts

if TYPE_CHECKING:
    import icalendar


def build_calendar(deadlines: Iterable[Deadline], now: datetime, name: str) -> bytes:
    """One VEVENT per deadline: DTSTART is its first occurrence in its zone, RRULE its rule.

    Reminder offsets become VALARMs, so a calendar app reminds at the same moments.
    """
    import icalendar  # a third of a second at start-up; needed only when a calendar is asked for

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
    for timezone in calendar.walk("VTIMEZONE"):
        _onsets_before_the_change(timezone)
    data: bytes = calendar.to_ical()
    return data


def _onsets_before_the_change(timezone: icalendar.Component) -> None:
    """Write each clocks-forward onset in the local time *before* the change, as RFC 5545
    reads it (DTSTART with TZOFFSETFROM; its example: 02:00 for New York's April change).

    icalendar writes the wall time after the jump (03:00 for New York, 04:00 for Kyiv), so a
    calendar app that reads the file's VTIMEZONE would keep winter time an hour too long and
    move an event or alarm in that hour. Clocks-back onsets are already right.
    """
    import icalendar

    for observance in timezone.subcomponents:
        offset_to = cast(icalendar.vUTCOffset, observance["TZOFFSETTO"]).td
        jump = offset_to - cast(icalendar.vUTCOffset, observance["TZOFFSETFROM"]).td
        if jump <= timedelta(0):
            continue
        onset = cast(datetime, cast(icalendar.vDDDTypes, observance["DTSTART"]).dt)
        observance["DTSTART"] = icalendar.vDDDTypes(onset - jump)
        rdates = observance.get("RDATE")
        if rdates is None:
            continue
        lists = cast(list[icalendar.vDDDLists], rdates if isinstance(rdates, list) else [rdates])
        observance["RDATE"] = [
            icalendar.vDDDLists([cast(datetime, when.dt) - jump for when in dates.dts])
            for dates in lists
        ]
