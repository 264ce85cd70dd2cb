"""A partner's answer to a deadline occurrence — submitted, not applicable, snooze — as one plain
function: the reminder's buttons (``handlers.deadlines``), /submitted and the Mini App's
deadline board (``web.miniapp_deadlines``) all record it here, so the same rules hold and the
same rows are written (a ``Submission`` for the unit; a snooze reminder in the outbox)."""

from __future__ import annotations

from datetime import datetime

from handlers.reminder_letters import due_line, unit_name
from handlers.render import esc
from i18n import _, duration_text
from moderation import deadlines as rules
from moderation.deadlines import Deadline
from runtime.context import Services
from storage.deadlines import DeadlineRepository

ACTIONS = {"s": "submitted", "n": "not_applicable", "z": "snooze"}


def answer_occurrence(
    services: Services,
    repo: DeadlineRepository,
    deadline: Deadline,
    unit: str,
    user_id: int,
    occurrence: datetime,
    action: str,
    now: datetime,
) -> tuple[str, str | None]:
    """Record ``action`` for ``unit``'s ``occurrence``: the short answer, and the confirmation
    (HTML) — None when nothing changed (already answered)."""
    due = esc(due_line(deadline, occurrence))
    title = esc(deadline.title)
    if action == "snooze":
        if repo.submission(deadline.id, occurrence, unit) is not None:
            return _("Already answered for this deadline."), None
        snooze = services.settings.reminders.snooze
        at = now + snooze
        repo.enqueue(
            deadline.id,
            occurrence,
            [user_id],
            [rules.PlannedReminder(rules.kind_snooze(at), at)],
        )
        return _("Snoozed."), _(
            "I will remind you about <b>{title}</b> again in {length}. The deadline stays {due}.",
            title=title,
            length=esc(duration_text(snooze)),
            due=due,
        )
    saved = repo.submit(deadline.id, occurrence, unit, action, user_id, now)
    if saved is None:
        return _("Already recorded for this deadline."), None
    user = repo.user(user_id)
    who = unit_name(unit, {user_id: user.display_name if user is not None else None})
    return _("Recorded."), submitted_text(deadline, occurrence, who, action)


def submitted_text(deadline: Deadline, occurrence: datetime, who: str, action: str) -> str:
    """The confirmation of an answer, in the current language."""
    values = {
        "title": esc(deadline.title),
        "due": esc(due_line(deadline, occurrence)),
        "unit": esc(who),
    }
    if action == "submitted":
        return _(
            "Recorded: <b>{title}</b> ({due}) is submitted for {unit}. No more reminders for it.",
            **values,
        )
    return _(
        "Recorded: <b>{title}</b> ({due}) is not applicable this time for {unit}. No more "
        "reminders for it.",
        **values,
    )
