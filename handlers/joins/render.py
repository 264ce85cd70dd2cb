"""The texts of the introductions sweep composed from typed results (no database, no sending).

``Reminder`` is an unfinished introduction as its reminder tells it: the newcomer's name, the
group and its deadline; ``reminder_text`` is what the newcomer and the sponsor read,
``held_reminder_text`` what the moderators read while no sponsor is decided, and
``group_reminder_text`` the group's one message naming those the bot cannot write to.
Everything a person typed (names, the group's title) goes through ``esc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.render import esc, mention
from i18n import _, duration_text


@dataclass(frozen=True)
class Reminder:
    """An unfinished introduction's reminder: the newcomer's name as the roster knows it (None
    when the roster does not), the group's title, the time newcomers have to be introduced,
    and the people a private message did not reach (user id and name; mentioned in the group)."""

    newcomer: str | None
    group: str
    deadline: timedelta
    unreached: Sequence[tuple[int, str]] = ()


def _newcomer(reminder: Reminder) -> str:
    """The name, escaped; "a newcomer" when unknown, or when nothing of it is left to show."""
    named = esc(reminder.newcomer) if reminder.newcomer is not None else ""
    return named or _("a newcomer")


def reminder_text(reminder: Reminder) -> str:
    """The reminder the newcomer and the sponsor read."""
    return _(
        "Reminder: the introduction for {name} in <b>{group}</b> is not complete. "
        "Newcomers who are not introduced within {deadline} of joining are removed.",
        name=_newcomer(reminder),
        group=esc(reminder.group),
        deadline=duration_text(reminder.deadline),
    )


def held_reminder_text(reminder: Reminder) -> str:
    """The moderators' reminder while the newcomer is held without a sponsor."""
    return _(
        "Still waiting for your decision: {name} in <b>{group}</b> has no sponsor.",
        name=_newcomer(reminder),
        group=esc(reminder.group),
    )


def group_reminder_text(reminder: Reminder) -> str:
    """The reminder in the group, after a mention of each person it could not reach privately."""
    people = ", ".join(mention(user_id, name) for user_id, name in reminder.unreached)
    return _("{people}: {reminder}", people=people, reminder=reminder_text(reminder))


def confirm_keyboard(link: str) -> InlineKeyboardMarkup:
    """The newcomer's button: confirm their details (a deep link to the private chat)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Confirm my details"), url=link)]])


def introduce_keyboard(link: str) -> InlineKeyboardMarkup:
    """The sponsor's button: introduce the newcomer (a deep link to the private chat)."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(_("Introduce"), url=link)]])
