"""The lifecycle's texts and buttons, composed from typed results (no database, no sending)."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from config.schema import GroupConfig
from handlers.lifecycle.common import (
    when_text,
)
from handlers.render import esc
from i18n import _
from moderation.lifecycle import (
    Cause,
    Policy,
)
from storage.models import MemberLifecycle

log = logging.getLogger(__name__)


GROUP_NOTICE = {
    Cause.DEPARTURE_DECLINED: (
        "👋 {name} has left the country, so they leave the group today. Thank you for your "
        "work here, and all the best! They are welcome back any time through a sponsor."
    ),
    Cause.EXPIRED: (
        "👋 {name}'s time-limited membership ended today. Thank you for your support! They are "
        "welcome back any time through a sponsor."
    ),
    Cause.SPONSOR_LOST: (
        "👋 {name}'s out-of-country membership ended: it needs a sponsor working in the "
        "country. Thank you for your support! They are welcome back through a sponsor."
    ),
    Cause.CHECKIN_UNANSWERED: (
        "👋 {name} leaves the group: they did not confirm that they still work on the response "
        "in the country. They are welcome back any time through a sponsor."
    ),
}


def group_notice(cause: Cause, name: str) -> str | None:
    if cause is Cause.VOLUNTARY:
        return None
    if cause in (Cause.DEPARTURE_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED):
        cause = Cause.DEPARTURE_DECLINED
    return _(GROUP_NOTICE[cause], name=esc(name))


def removal_reason(cause: Cause) -> str:
    return {
        Cause.DEPARTURE_DECLINED: _("you told me you are leaving the country"),
        Cause.DEPARTURE_UNANSWERED: _(
            "you did not answer my question on your departure date in time"
        ),
        Cause.NO_SPONSOR_CONFIRMED: _(
            "no sponsor in the country confirmed your out-of-country membership in time"
        ),
        Cause.EXPIRED: _("your time-limited membership reached its end date"),
        Cause.SPONSOR_LOST: _("no new sponsor in the country was found in time"),
        Cause.CHECKIN_UNANSWERED: _("you did not answer the check-in in time"),
        Cause.VOLUNTARY: _("you asked to leave"),
    }[cause]


def departure_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, I keep supporting them"), callback_data=f"lc:dep:{row_id}:y"
                )
            ],
            [InlineKeyboardButton(_("No, I leave the group"), callback_data=f"lc:dep:{row_id}:n")],
        ]
    )


def departure_question(group: GroupConfig, row: MemberLifecycle, policy: Policy) -> str:
    asked = row.departure_asked_at
    assert asked is not None
    return _(
        "Today is your departure date for <b>{group}</b>. Will you keep directly "
        "supporting your IM colleagues in the country after you leave? If so you can stay as "
        "an out-of-country member for a limited time, with a sponsor in the country. Without "
        "an answer by {deadline} you leave the group, with thanks.",
        group=esc(group.title),
        deadline=when_text(asked + policy.departure_grace, policy),
    )


def checkin_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Yes, still here"), callback_data=f"lc:ci:{row_id}:y")],
            [InlineKeyboardButton(_("I am leaving soon"), callback_data=f"lc:ci:{row_id}:soon")],
            [
                InlineKeyboardButton(
                    _("I have left the country"), callback_data=f"lc:ci:{row_id}:gone"
                )
            ],
        ]
    )


def checkin_question(group: GroupConfig, policy: Policy, asked: datetime) -> str:
    return _(
        "A quick check for <b>{group}</b>: are you still working on the response in the "
        "country? Please answer by {deadline}.",
        group=esc(group.title),
        deadline=when_text(asked + policy.checkin_grace, policy),
    )
