"""The lifecycle's texts and buttons, composed from typed results (no database, no sending)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from config.schema import GroupConfig
from handlers.lifecycle.common import (
    EXTEND_BUTTON_DAYS,
    day_text,
    name_of,
    when_text,
)
from handlers.render import esc, esc_attr, mention
from i18n import _, weekday_date_text
from moderation.lifecycle import (
    Cause,
    Coming,
    Member,
    Policy,
)
from moderation.lifecycle_notices import Report
from storage.lifecycle import Entry
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


def group_notice(cause: Cause, name: str) -> str:
    """The group's thank-you; ``cause`` is one of ``GROUP_NOTICE``'s (see group_notice_cause)."""
    return _(GROUP_NOTICE[cause], name=esc(name))


def farewell(group_title: str, cause: Cause) -> str:
    """The removed member's private goodbye, with the reason."""
    return _(
        "You have left <b>{group}</b>: {reason}. Thank you for your work with the "
        "community! You are welcome back any time: ask a member to sponsor you "
        "again.",
        group=esc(group_title),
        reason=removal_reason(cause),
    )


def moderators_report(report: Report, name: str, group_title: str, cause: Cause) -> str:
    """What the moderators read after a removal attempt."""
    fields = {"name": esc(name), "group": esc(group_title), "cause": esc(cause.value)}
    if report is Report.REMOVED:
        return _("{name} was removed from <b>{group}</b>: {cause}.", **fields)
    if report is Report.PROTECTED:
        return _(
            "{name} should leave <b>{group}</b> ({cause}), but is an admin of the group, "
            "so I cannot remove them. Please remove their admin rights or remove them "
            "yourself; I will not try again.",
            **fields,
        )
    return _(
        "{name} should leave <b>{group}</b> ({cause}), but Telegram says they are no "
        "longer in it; I have updated my member list.",
        **fields,
    )


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


def expiry_notice(group_title: str, end: date, sponsor_name: str | None) -> str:
    """The member's notice that their time-limited membership ends soon."""
    # Not nested inside the other _() call: Babel's extractor would not see it there.
    nobody = _("a moderator")
    return _(
        "Your time-limited membership of <b>{group}</b> ends on {date}. If you continue to "
        "work with colleagues in the country, ask your sponsor ({sponsor}) to extend it; "
        "otherwise you leave the group on that day, with thanks.",
        group=esc(group_title),
        date=day_text(end),
        sponsor=esc(sponsor_name or nobody),
    )


def expiry_question(name: str, group_title: str, end: date, handle: str, max_days: int) -> str:
    """The sponsor's (or moderators') question whether to extend."""
    return _(
        "The membership of {name} in <b>{group}</b> ends on {date}. Extend it? Or send "
        "<code>/extend {handle} 30d</code> (or a date), at most {days} days from today.",
        name=esc(name),
        group=esc(group_title),
        date=day_text(end),
        handle=esc_attr(handle),
        days=max_days,
    )


def expiry_question_to_moderators(question: str, sponsor_name: str | None) -> str:
    """The same question, with why it came to the moderators."""
    why = (
        _(
            "I cannot write to their sponsor {sponsor} privately, so I ask the moderators.",
            sponsor=esc(sponsor_name),
        )
        if sponsor_name is not None
        else _("They have no sponsor on record, so I ask the moderators.")
    )
    return "\n".join([question, why])


def expiry_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Extend by {days} days", days=EXTEND_BUTTON_DAYS),
                    callback_data=f"lc:ext:{row_id}",
                ),
                InlineKeyboardButton(_("Let it end"), callback_data=f"lc:end:{row_id}"),
            ]
        ]
    )


def sponsor_lost_notice(old_sponsor: str, group_title: str, deadline: str) -> str:
    """The out-of-country member's request to name a new sponsor."""
    return _(
        "Your sponsor {sponsor} is no longer a member working in the country, and "
        "out-of-country members of <b>{group}</b> need one. Please name a new sponsor by "
        "{deadline}; otherwise you leave the group then, with thanks.",
        sponsor=esc(old_sponsor),
        group=esc(group_title),
        deadline=deadline,
    )


def sponsor_lost_report(
    name: str, old_sponsor: str, group_title: str, deadline: str, reached: bool
) -> str:
    """The moderators' note that an out-of-country member lost their sponsor."""
    return _(
        "{name} (outside the country) lost their sponsor {sponsor} in <b>{group}</b>. "
        "They need a new sponsor by {deadline}, or they will be removed.{unreached}",
        name=esc(name),
        sponsor=esc(old_sponsor),
        group=esc(group_title),
        deadline=deadline,
        unreached="" if reached else _(" I cannot write to them privately."),
    )


# --------------------------------------------------------------------------- /leaving
@dataclass(frozen=True)
class Departure:
    """A departure date /leaving recorded: whose (``name`` None when the member set their own),
    the day (None: the date was cancelled) and when they will be asked about it."""

    name: str | None
    day: date | None
    asked_at: datetime | None = None


def not_a_member(group_title: str, name: str | None) -> str:
    """/leaving for someone not in the group (``name`` None: the sender themselves)."""
    if name is None:
        return _("You are not a member of {group}.", group=esc(group_title))
    return _("{name} is not a member of {group}.", name=esc(name), group=esc(group_title))


def departure_prompt(current: date | None) -> str:
    """/leaving without a date: the date on record, or how to give one."""
    if current is not None:
        return _(
            "Departure date on record: {date}. Send /leaving DATE to change it or "
            "/leaving cancel to remove it.",
            date=day_text(current),
        )
    return _(
        "Tell me the day you leave the country, e.g. /leaving 2026-12-20, "
        "/leaving 20 Dec or /leaving in 3 weeks."
    )


def departure_recorded(departure: Departure, policy: Policy) -> str:
    """The reply to whoever sent /leaving DATE or /leaving cancel."""
    name, day = departure.name, departure.day
    if day is None:
        if name is None:
            return _("Done: no departure date on record.")
        return _("Done: no departure date on record for {name}.", name=esc(name))
    assert departure.asked_at is not None
    at = when_text(departure.asked_at, policy)
    if name is None:
        return _(
            "Understood: you leave the country on <b>{date}</b>. On that day ({at}) I will "
            "ask you whether you keep supporting colleagues in the country. Send /leaving "
            "cancel if your plans change.",
            date=day_text(day),
            at=at,
        )
    return _(
        "Understood: {name} leaves the country on <b>{date}</b>. I will ask them "
        "privately on that day ({at}).",
        name=esc(name),
        date=day_text(day),
        at=at,
    )


def departure_set_by_moderator(day: date) -> str:
    """The member's private note when a moderator recorded their departure date."""
    return _(
        "A moderator recorded that you leave the country on <b>{date}</b>. If that is "
        "wrong, send me /leaving DATE or /leaving cancel.",
        date=day_text(day),
    )


# --------------------------------------------------------------------------- "yes": the form
def end_date_question(max_days: int, latest: date) -> str:
    return _(
        "Until when will you support colleagues in the country? Type the end date (at most "
        "{days} days: on or before {latest}), e.g. 2026-12-20, 20 Dec or in 6 weeks. "
        "/cancel to stop.",
        days=max_days,
        latest=day_text(latest),
    )


def sponsor_question(end: date, original_sponsor: str | None) -> str:
    """Who sponsors you? With the original sponsor as one tap when they still may."""
    if original_sponsor is not None:
        return _(
            "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
            "works in the country; they confirm with one tap. Type their @username or name, "
            "or press the button.",
            date=day_text(end),
        )
    return _(
        "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
        "works in the country; they confirm with one tap. Type their @username or name.",
        date=day_text(end),
    )


def not_a_sponsor(name: str, why: str) -> str:
    return _(
        "Sorry, {name} cannot sponsor you: {why}. Please name someone else.",
        name=esc(name),
        why=esc(why),
    )


def sponsor_request(member_id: int, member_name: str, end: date, group_title: str) -> str:
    """What the named sponsor is asked."""
    return _(
        "{name} works outside the country from now on but keeps directly supporting IM "
        "colleagues here, until {date}. They ask you to sponsor their out-of-country "
        "membership of <b>{group}</b>. Do you?",
        name=mention(member_id, member_name),
        date=day_text(end),
        group=esc(group_title),
    )


def sponsor_request_buttons(row_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("I sponsor them"), callback_data=f"lc:sp:{row_id}:y"),
                InlineKeyboardButton(_("No"), callback_data=f"lc:sp:{row_id}:n"),
            ]
        ]
    )


def sponsor_unreachable(name: str) -> str:
    return _(
        "I cannot write to {name}: they have not started a chat with me. Ask them to "
        "send me /start, then name them again — or name someone else.",
        name=esc(name),
    )


def sponsor_asked(name: str, deadline: str) -> str:
    return _(
        "I asked {name} to confirm. I will tell you when they answer; without a confirmed "
        "sponsor by {deadline} you leave the group, with thanks.",
        name=esc(name),
        deadline=deadline,
    )


# --------------------------------------------------------------------------- moderators' views
def coming_text(
    coming: Coming, at: datetime, member: Member, who: str, policy: Policy, sponsor: str
) -> str:
    """One line of /expiring (``who`` is already markup: a mention; ``sponsor`` a plain name)."""
    if coming is Coming.REMOVAL_REFUSED:
        return _(
            "⚠ {who}: removal ({cause}) refused by Telegram ({outcome}) — needs you",
            who=who,
            cause=esc(member.removal_cause.value if member.removal_cause else "?"),
            outcome=esc(member.removal_outcome.value if member.removal_outcome else "?"),
        )
    if coming is Coming.DEPARTED:
        waiting = (
            _("waiting for sponsor confirmation")
            if member.pending_sponsor_id
            else _("waiting for their answer")
        )
        return _(
            "{who}: departed; {waiting}; leaves {when} otherwise",
            who=who,
            waiting=waiting,
            when=when_text(at, policy),
        )
    if coming is Coming.LEAVES:
        assert member.departure_date is not None
        return _(
            "{who}: leaves the country {date}",
            who=who,
            date=weekday_date_text(member.departure_date),
        )
    if coming is Coming.NO_SPONSOR:
        return _(
            "{who}: outside the country without a sponsor; removed {when} "
            "unless a new sponsor confirms",
            who=who,
            when=when_text(at, policy),
        )
    assert member.end_date is not None
    return _(
        "{who}: {category} until {date}; sponsor {sponsor}",
        who=who,
        category=esc(member.category.label if member.category else ""),
        date=weekday_date_text(member.end_date),
        sponsor=esc(sponsor),
    )


def expiring_lines(group_title: str, days: int, items: Sequence[tuple[datetime, str]]) -> list[str]:
    """A group's part of /expiring: the heading, then the lines in time order."""
    lines = [
        _(
            "<b>{group}</b>: departures and expiries in the next {days} days",
            group=esc(group_title),
            days=days,
        )
    ]
    lines.extend(f"• {text}" for _when, text in sorted(items, key=lambda i: i[0]))
    if not items:
        lines.append(_("nothing coming up"))
    return lines


def stale_lines(
    group_title: str, policy: Policy, found: Sequence[tuple[datetime, Entry]]
) -> list[str]:
    """A group's part of /stale: who did not answer the check-in, oldest first."""
    lines = [
        _(
            "<b>{group}</b>: members who did not answer the check-in within {days} days",
            group=esc(group_title),
            days=policy.checkin_grace.days,
        )
    ]
    for _since, e in sorted(found, key=lambda i: i[0]):
        asked = e.row.checkin_asked_at
        assert asked is not None
        lines.append(
            _(
                "• {who} — asked {date}{unreachable}",
                who=mention(e.user.id, name_of(e.user, e.intro)),
                date=weekday_date_text(asked.astimezone(policy.timezone).date()),
                unreachable="" if e.user.reachable else _(" (cannot be written to privately)"),
            )
        )
    if not found:
        lines.append(_("everyone answered"))
    lines.append(
        _("They are removed automatically.")
        if policy.checkin_removes
        else _("They are not removed automatically (checkin_removes is off).")
    )
    return lines
