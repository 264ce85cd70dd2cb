"""Reminders: which are planned for an occurrence, the planning window, triage of due rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from moderation.deadlines.common import BEFORE_PREFIX, DIGEST, OVERDUE, SNOOZE_PREFIX
from moderation.deadlines.definitions import Deadline
from moderation.deadlines.occurrences import next_occurrence, wall_clock
from moderation.deadlines.timezones import LONGEST_CLOCK_CHANGE, reminder_at


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


def next_planning_at(deadline: Deadline, now: datetime) -> datetime | None:
    """When the first occurrence not yet planned at ``now`` enters the planning window (its
    outbox rows appear then, no later than its earliest reminder is due)."""
    _start, end = planning_window(deadline, now, timedelta(0))
    upcoming = next_occurrence(deadline, end - timedelta(microseconds=1))
    return None if upcoming is None else upcoming - (end - now) + timedelta(seconds=1)


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
