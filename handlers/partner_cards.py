"""The partners' longer texts (/subscribe's questions and what a subscription covers), composed
from typed results.

No database and no sending here: ``handlers.deadlines`` reads in one unit of work, fills these
records and replies with what the functions return. Every configured name and deadline title
goes through ``esc``; button labels are plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.render import esc
from i18n import _, list_text
from moderation import deadlines as rules
from moderation.deadlines import Deadline

CB_SUBSCRIBE = "dlsub"  # dlsub:c:<cluster index> / dlsub:o:<cluster index>:<org index>


@dataclass(frozen=True)
class Choice:
    """A /subscribe question's options (the configured clusters or organisations) and the
    place of the one the person's own introduction names (None: it names no listed one)."""

    labels: Sequence[str]
    chosen: int | None = None


def _preselected(question: str, choice: Choice) -> str:
    if choice.chosen is None:
        return question
    return (
        question
        + "\n"
        + _(
            "Your introduction names {name}: it is marked ✓.",
            name=esc(choice.labels[choice.chosen]),
        )
    )


def _choices(choice: Choice, prefix: str, none_label: str) -> InlineKeyboardMarkup:
    """One button per choice; the one the person's introduction names is marked ✓ and first."""
    chosen = choice.chosen
    buttons = [
        InlineKeyboardButton(
            (f"✓ {label}" if index == chosen else label)[:60], callback_data=f"{prefix}:{index}"
        )
        for index, label in enumerate(choice.labels)
    ]
    if chosen is not None:
        buttons.insert(0, buttons.pop(chosen))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(none_label, callback_data=f"{prefix}:-1")])
    return InlineKeyboardMarkup(rows)


def cluster_question(choice: Choice) -> tuple[str, InlineKeyboardMarkup]:
    """/subscribe's first question and its buttons."""
    return (
        _preselected(_("Which <b>cluster</b> do you answer for?"), choice),
        _choices(choice, f"{CB_SUBSCRIBE}:c", _("No cluster")),
    )


def organisation_question(choice: Choice, cluster_index: int) -> tuple[str, InlineKeyboardMarkup]:
    """The second question, after the cluster at ``cluster_index`` (-1: none) was chosen."""
    return (
        _preselected(_("And which <b>organisation</b>?"), choice),
        _choices(choice, f"{CB_SUBSCRIBE}:o:{cluster_index}", _("No organisation")),
    )


@dataclass(frozen=True)
class Subscribed:
    """What a partner now answers for (at least one of the two) and the deadlines that
    concern them, read at ``now``."""

    cluster: str | None
    organisation: str | None
    deadlines: Sequence[Deadline]
    now: datetime


def subscribed_text(subscribed: Subscribed) -> str:
    """The confirmation: for what, and which reminders will come (with the next date)."""
    units = list_text([esc(x) for x in (subscribed.cluster, subscribed.organisation) if x])
    lines = [_("You are now a partner for {units}.", units=units)]
    if subscribed.deadlines:
        lines.append(_("You will get reminders for:"))
        lines += [
            _(
                "• <b>{title}</b>: {summary}",
                title=esc(d.title),
                summary=esc(rules.summary(d, subscribed.now)),
            )
            for d in subscribed.deadlines
        ]
    else:
        lines.append(_("No deadline concerns you at the moment."))
    return "\n".join(lines)
