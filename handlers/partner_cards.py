"""The partners' longer texts (/subscribe's questions and what a subscription covers, the
/deadlines board, /submitted's reply), composed from typed results.

No database and no sending here: ``handlers.deadlines`` reads in one unit of work, fills these
records and replies with what the functions return. Every configured name and deadline title
goes through ``esc``; button labels are plain text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.deadline_answers import submitted_text
from handlers.reminder_letters import unit_name
from handlers.render import esc, esc_attr
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


@dataclass(frozen=True)
class BoardRow:
    """A deadline on the /deadlines board: whether it concerns the reader and, when it does,
    its current occurrence (None: no more) and whether the reader's unit answered it."""

    deadline: Deadline
    mine: bool
    occurrence: datetime | None
    answered: bool


@dataclass(frozen=True)
class Board:
    """The /deadlines board as one reader sees it at ``now``: ``subscribed`` when they are a
    partner or named by a deadline (otherwise the heading tells them to /subscribe)."""

    rows: Sequence[BoardRow]
    subscribed: bool
    now: datetime


def board_lines(board: Board) -> list[str]:
    """The whole /deadlines reply, a line per deadline (the caller cuts it into messages)."""
    lines = [
        _("<b>Deadlines</b> (• concern you)")
        if board.subscribed
        else _("<b>Deadlines</b> (send /subscribe to me privately to get reminders)")
    ]
    for row in board.rows:
        deadline, state = row.deadline, ""
        if row.occurrence is not None:
            due = esc(rules.format_local(row.occurrence, deadline.tz))
            state = (
                _(" — {due}: ✅ answered", due=due)
                if row.answered
                else _(" — {due}: not submitted yet", due=due)
            )
        lines.append(
            _(
                "{marker} <code>{id}</code> <b>{title}</b>: {summary}{state}",
                marker="•" if row.mine else "◦",
                id=esc_attr(deadline.id),
                title=esc(deadline.title),
                summary=esc(rules.summary(deadline, board.now)),
                state=state,
            )
        )
    return lines


@dataclass(frozen=True)
class Submitted:
    """What /submitted did: whom the reader answers for (None: the deadline does not concern
    them), the occurrence it applied to (None: there is none any more), whether the answer was
    recorded now (False: it already was), and the names ``unit_name`` may need."""

    deadline: Deadline
    unit: str | None
    occurrence: datetime | None
    recorded: bool
    names: dict[int, str | None]


def submitted_reply(submitted: Submitted) -> str:
    title = esc(submitted.deadline.title)
    if submitted.unit is None:
        return _(
            "<b>{title}</b> is not one of your deadlines. Send /subscribe to me privately "
            "to choose your cluster or organisation.",
            title=title,
        )
    if submitted.occurrence is None:
        return _("<b>{title}</b> has no occurrence any more.", title=title)
    if not submitted.recorded:
        return _("{answer} Nothing changed.", answer=esc(_("Already recorded for this deadline.")))
    who = unit_name(submitted.unit, submitted.names)
    return submitted_text(submitted.deadline, submitted.occurrence, who, "submitted")
