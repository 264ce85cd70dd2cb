"""The tables. Every table that holds group data is keyed by the group's chat id.

One module per feature; this package re-exports every model, so ``from storage.models import X``
and Alembic's ``storage/migrations/env.py`` (``Base.metadata``) see every table."""

from __future__ import annotations

from storage.models.base import NAMING, Base
from storage.models.calendar import CalendarFeed
from storage.models.contacts import (
    Contact,
    ContactGrant,
    ContactImport,
    ContactLookup,
    ContactRequest,
    Disclosure,
)
from storage.models.deadlines import (
    DeadlineChange,
    DeadlineRow,
    Partner,
    ReminderOutbox,
    Submission,
)
from storage.models.introductions import Introduction, Invitation, JoinRequest
from storage.models.lifecycle import MemberLifecycle
from storage.models.mentions import (
    MentionBroadcast,
    MentionDelivery,
    MentionOutbox,
    TagPreference,
)
from storage.models.miniapp import MiniAppDownload, MiniAppWrite
from storage.models.moderation import (
    LogEntry,
    MemberWarning,
    ModerationAction,
    Mute,
    RecentMessage,
)
from storage.models.operations import (
    ContactChange,
    DirectoryVersion,
    FormRow,
    ReplicaRow,
    SweepRunRow,
)
from storage.models.reports import Report, ReportDecision, ReportPost, ReportVote
from storage.models.roster import Group, Membership, MembershipEvent, User

__all__ = [
    "NAMING",
    "Base",
    "CalendarFeed",
    "Contact",
    "ContactChange",
    "ContactGrant",
    "ContactImport",
    "ContactLookup",
    "ContactRequest",
    "DeadlineChange",
    "DeadlineRow",
    "DirectoryVersion",
    "Disclosure",
    "FormRow",
    "Group",
    "Introduction",
    "Invitation",
    "JoinRequest",
    "LogEntry",
    "MemberLifecycle",
    "MemberWarning",
    "Membership",
    "MembershipEvent",
    "MentionBroadcast",
    "MentionDelivery",
    "MentionOutbox",
    "MiniAppDownload",
    "MiniAppWrite",
    "ModerationAction",
    "Mute",
    "Partner",
    "RecentMessage",
    "ReminderOutbox",
    "ReplicaRow",
    "Report",
    "ReportDecision",
    "ReportPost",
    "ReportVote",
    "Submission",
    "SweepRunRow",
    "TagPreference",
    "User",
]
