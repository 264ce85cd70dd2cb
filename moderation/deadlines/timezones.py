"""Time zones: reading a zone, resolving local wall-clock times (RFC 5545), reminder instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from i18n import _
from i18n import zone_label as zone_label  # re-exported: the zone as a reader sees it
from moderation.deadlines.common import DeadlineError


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
