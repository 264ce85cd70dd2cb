"""The texts of /deadline: the form's questions, summaries and what a change did (HTML,
escaped). No database and no sending: ``commands.py`` and ``form.py`` read and decide, then
say what these functions return."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from handlers.render import esc, esc_attr
from i18n import _, comma_join, date_text, duration_text, ngettext
from moderation import deadlines as rules
from moderation.deadline_input import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    audience_hint,
    offsets_hint,
    schedule_examples,
)
from moderation.deadlines import Audience, Deadline

NEXT_SHOWN = 3


def usage() -> str:
    return _(
        "Usage: /deadline add, /deadline edit ID, /deadline pause ID, /deadline resume ID or "
        "/deadline remove ID. /deadlines lists the ids."
    )


def offsets_text(deadline: Deadline) -> str:
    parts = [_("{duration} before", duration=duration_text(o)) for o in deadline.remind]
    if deadline.overdue_after is not None:
        parts.append(
            _("an overdue note {duration} after", duration=duration_text(deadline.overdue_after))
        )
    return comma_join(parts) if parts else _("none")


def audience_text(audience: Audience, people: dict[int, str]) -> str:
    if not audience.users:
        return audience.describe()
    others = replace(audience, users=None).describe() if _has_groups(audience) else ""
    names = comma_join(people.get(u, str(u)) for u in audience.users)
    listed = _("people: {names}", names=names)
    return f"{others}; {listed}" if others else listed


def _has_groups(audience: Audience) -> bool:
    return bool(
        audience.everyone
        or audience.clusters
        or audience.organisations
        or audience.all_clusters
        or audience.all_organisations
    )


def next_dates(deadline: Deadline, now: datetime, count: int = NEXT_SHOWN) -> list[datetime]:
    found: list[datetime] = []
    at = now
    for _i in range(count):
        upcoming = rules.next_occurrence(deadline, at)
        if upcoming is None:
            break
        found.append(upcoming)
        at = upcoming
    return found


def describe(deadline: Deadline, now: datetime, people: dict[int, str]) -> str:
    """The readable summary shown before saving (HTML, everything typed escaped)."""
    lines = [
        _("<b>{title}</b> (<code>{id}</code>)", title=esc(deadline.title), id=esc_attr(deadline.id))
    ]
    if deadline.description:
        lines.append(esc(deadline.description))
    lines.append(_("Who: {audience}", audience=esc(audience_text(deadline.audience, people))))
    lines.append(_("When: {schedule}", schedule=esc(rules.describe_rule(deadline))))
    lines.append(
        _(
            "Rule: <code>{rule}</code> from {starts} ({zone})",
            rule=esc_attr(deadline.rule),
            starts=date_text(deadline.starts),
            zone=esc(deadline.timezone),
        )
    )
    lines.append(_("Reminders: {offsets}", offsets=esc(offsets_text(deadline))))
    dates = [rules.format_local(d, deadline.tz) for d in next_dates(deadline, now)]
    lines.append(_("Next: {dates}", dates=esc("; ".join(dates)) if dates else _("none")))
    if deadline.paused:
        lines.append(
            _("⏸ Paused: no reminders until /deadline resume {id}.", id=esc_attr(deadline.id))
        )
    return "\n".join(lines)


def question(step: str) -> str:
    """The form's question for ``step``, one of ``form.ORDER``'s names (its buttons are the
    form's)."""
    if step == "id":
        return _(
            "Let's add a deadline. Send /cancel at any time to stop; nothing is saved "
            "before you confirm.\n\nWhat is its <b>id</b>? {hint}",
            hint=esc(rules.id_hint()),
        )
    if step == "title":
        return _(
            "What is its <b>title</b>? (up to {n} characters, e.g. SitRep inputs)", n=TITLE_MAX
        )
    if step == "description":
        return _(
            "A short <b>description or link</b> partners should see with each reminder "
            "(up to {n} characters)?",
            n=DESCRIPTION_MAX,
        )
    if step == "audience":
        return _("<b>Who</b> must submit? {hint}", hint=esc(audience_hint()))
    if step == "schedule":
        return _("<b>When</b> is it due? {examples}", examples=esc(schedule_examples()))
    if step == "timezone":
        return _(
            "In which <b>time zone</b>? Send an IANA name such as Europe/Kyiv, or use the group's."
        )
    if step == "remind":
        return _("When should partners be <b>reminded</b>? {hint}", hint=esc(offsets_hint()))
    raise ValueError(f"no question for {step!r}")


def summary(deadline: Deadline, now: datetime, people: dict[int, str], adding: bool) -> str:
    """The check before *Save*: the new or changed deadline as it would be saved."""
    head = (
        _("Please check the new deadline:") if adding else _("Please check the changed deadline:")
    )
    return f"{head}\n\n{describe(deadline, now, people)}"


def field_label(field: str) -> str:
    """A field's button in the edit menu."""
    return {
        "title": _("Title"),
        "description": _("Description"),
        "audience": _("Who"),
        "schedule": _("Schedule"),
        "timezone": _("Time zone"),
        "remind": _("Reminders"),
    }[field]


def edit_buttons(fields: Sequence[str]) -> list[list[tuple[str, str]]]:
    """The edit menu's buttons as ``(label, value)`` rows: three fields a row, then Cancel."""
    rows = [
        [(field_label(f), f"f:{f}") for f in fields[i : i + 3]] for i in range(0, len(fields), 3)
    ]
    rows.append([(_("Cancel"), "cancel")])
    return rows


def config_note(deadline: Deadline) -> str:
    if deadline.source not in ("config", "override"):
        return ""
    return _(
        "ℹ️ {id} comes from the configuration file. A change made here holds, also after "
        "restarts, until someone changes {id} in that file; the file then wins again.",
        id=esc_attr(deadline.id),
    )


def edit_menu(deadline: Deadline, now: datetime, people: dict[int, str]) -> str:
    note = config_note(deadline)
    return _(
        "{summary}\n\n{note}What do you want to change? (/cancel stops)",
        summary=describe(deadline, now, people),
        note=f"{note}\n\n" if note else "",
    )


def remove_question(deadline: Deadline) -> str:
    note = config_note(deadline)
    return _(
        "Remove <b>{title}</b> (<code>{id}</code>)? Pending reminders are cancelled; what "
        "was sent and submitted stays on record.{note}",
        title=esc(deadline.title),
        id=esc_attr(deadline.id),
        note=f"\n{note}" if note else "",
    )


def saved(deadline: Deadline, adjusted: int, edited_config: bool) -> str:
    """What a saved /deadline add or edit did; ``adjusted`` planned reminders were moved."""
    lines = [
        _(
            "Saved <b>{title}</b> (<code>{id}</code>).",
            title=esc(deadline.title),
            id=esc_attr(deadline.id),
        )
    ]
    if adjusted:
        lines.append(
            ngettext(
                "{n} planned reminder was adjusted to the new schedule.",
                "{n} planned reminders were adjusted to the new schedule.",
                adjusted,
            )
        )
    if edited_config:
        lines.append(config_note(deadline))
    lines.append(_("/deadlines shows it; /calendar sends the updated calendar."))
    return "\n".join(lines)


def paused(deadline: Deadline, pause: bool) -> str:
    if pause:
        text = _(
            "⏸ <b>{title}</b> is paused: no reminders until /deadline resume {id}.",
            title=esc(deadline.title),
            id=esc_attr(deadline.id),
        )
    else:
        text = _(
            "▶️ <b>{title}</b> is running again. Reminders missed while it was paused are sent "
            "only if still timely (one catch-up note at most, never a burst).",
            title=esc(deadline.title),
        )
    note = config_note(deadline)
    return f"{text}\n{note}" if note else text


def removed(deadline: Deadline, cancelled: int) -> str:
    return _(
        "🗑 Removed <b>{title}</b> (<code>{id}</code>). {cancelled} What was sent and "
        "submitted stays on record.",
        title=esc(deadline.title),
        id=esc_attr(deadline.id),
        cancelled=ngettext(
            "{n} pending reminder was cancelled.",
            "{n} pending reminders were cancelled.",
            cancelled,
        ),
    )
