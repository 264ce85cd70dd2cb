"""Deadline rules: occurrences, which reminders are due for whom, and readable summaries.

Pure, typed, no Telegram. Times are stored in UTC; deadlines are defined in the operation's
local time zone with an RFC 5545 recurrence rule (python-dateutil ``rrule``) evaluated on *local
wall-clock* times, so "every other Wednesday 12:00 Europe/Kyiv" stays 12:00 local across DST.

Local times that do not exist or exist twice are resolved as RFC 5545 (3.3.5) says, which is
also what ``zoneinfo`` does with ``fold=0``:

- a time that exists twice (clocks go back) means the *first* one (the earlier instant);
- a time that does not exist (clocks go forward) is read with the offset *before* the gap, i.e.
  it moves forward by the length of the gap (03:30 on a 03:00→04:00 night becomes 04:30).

Modules: ``common`` (ids, the error, reminder kinds), ``timezones``, ``definitions``,
``occurrences``, ``reminders``, ``changes`` (schedule changes), ``summaries``. The package
re-exports their public names, so ``from moderation.deadlines import X`` keeps working."""

from __future__ import annotations

from moderation.deadlines.changes import (
    RESCHEDULED,
    OutboxState,
    Reschedule,
    is_occurrence,
    reschedule,
    retry_delay,
)
from moderation.deadlines.common import (
    ALLOWED_FREQ,
    BEFORE_PREFIX,
    DIGEST,
    ID_PATTERN,
    OVERDUE,
    PERIOD_SAMPLE,
    SNOOZE_PREFIX,
    DeadlineError,
    id_hint,
)
from moderation.deadlines.definitions import (
    Audience,
    Deadline,
    check_id,
    parse_rule,
    parse_starts,
    rule_parts,
    validate,
)
from moderation.deadlines.occurrences import (
    current_occurrence,
    next_occurrence,
    occurrences,
    previous_occurrence,
    wall_clock,
)
from moderation.deadlines.reminders import (
    DueRow,
    PlannedReminder,
    Triage,
    kind_before,
    kind_snooze,
    next_planning_at,
    plan,
    planning_window,
    triage,
)
from moderation.deadlines.summaries import (
    WEEKDAY_CODES,
    day_names,
    describe_kind,
    describe_rule,
    format_local,
    ordinal,
    summary,
    unit_label,
    units_missing,
)
from moderation.deadlines.timezones import (
    LONGEST_CLOCK_CHANGE,
    reminder_at,
    resolve_local,
    timezone_of,
    zone_label,
)

__all__ = [
    "ALLOWED_FREQ",
    "BEFORE_PREFIX",
    "DIGEST",
    "ID_PATTERN",
    "LONGEST_CLOCK_CHANGE",
    "OVERDUE",
    "PERIOD_SAMPLE",
    "RESCHEDULED",
    "SNOOZE_PREFIX",
    "WEEKDAY_CODES",
    "Audience",
    "Deadline",
    "DeadlineError",
    "DueRow",
    "OutboxState",
    "PlannedReminder",
    "Reschedule",
    "Triage",
    "check_id",
    "current_occurrence",
    "day_names",
    "describe_kind",
    "describe_rule",
    "format_local",
    "id_hint",
    "is_occurrence",
    "kind_before",
    "kind_snooze",
    "next_occurrence",
    "next_planning_at",
    "occurrences",
    "ordinal",
    "parse_rule",
    "parse_starts",
    "plan",
    "planning_window",
    "previous_occurrence",
    "reminder_at",
    "reschedule",
    "resolve_local",
    "retry_delay",
    "rule_parts",
    "summary",
    "timezone_of",
    "triage",
    "unit_label",
    "units_missing",
    "validate",
    "wall_clock",
    "zone_label",
]
