"""What every part of the deadline rules shares: the id pattern, the error, reminder kinds."""

from __future__ import annotations

import re

from i18n import _

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
