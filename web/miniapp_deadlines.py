"""The Mini App's deadline board: upcoming occurrences in the deadline's time zone, the reader's
status for each, the reminder buttons' answers, and the calendar subscription link.

The same code as the chat: the board reads what /deadlines reads (``unit_for``,
``current_occurrence``, the submissions), an answer is ``answer_occurrence`` — what the
reminder's buttons and /submitted record, with the same effect on later reminders — and the
link is /calendar's (``feed_state``, ``new_feed``, ``stop_feed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.calendar import feed_state, new_feed, stop_feed
from handlers.calendar_cards import FeedState
from handlers.deadline_answers import answer_occurrence
from handlers.reminder_letters import due_line, unit_for, unit_name
from i18n import _, date_text, duration_text, list_text
from moderation import deadlines as rules
from moderation.deadlines import Deadline
from moderation.deadlines import board as rule
from runtime.context import App, Services, services_of
from storage.deadlines import PENDING, SENT, DeadlineRepository
from storage.models import Partner, ReminderOutbox
from web.http import RouteSpec, WebRequest, WebResponse
from web.miniapp_auth import PREFIX, Caller, answer, authenticated, claim_once, json_body


def strings() -> dict[str, str]:
    """The board's texts (the script swaps them on a language change)."""
    return {
        "title": _("Deadlines"),
        "loading": _("Loading…"),
        "none": _("No deadlines are set up."),
        "mine": _("Concerns you"),
        "calendar": _("Calendar subscription"),
        "new_link": _("New link"),
        "stop_link": _("Stop the link"),
    }


def _status_text(status: str, snoozed_until: str | None) -> str:
    if status == rule.SUBMITTED:
        return _("✅ Submitted")
    if status == rule.NOT_APPLICABLE:
        return _("Not applicable this time")
    if status == rule.SNOOZED:
        return _("Snoozed until {time}", time=snoozed_until or "")
    if status == rule.PENDING:
        return _("Not submitted yet")
    return _("Later")


def _action_label(action: str, services: Services) -> str:
    """The reminder's own button labels."""
    if action == rule.SUBMITTED:
        return _("✅ Submitted")
    if action == rule.SNOOZE:
        return _("⏰ Snooze {length}", length=duration_text(services.settings.reminders.snooze))
    return _("Not applicable this time")


def _snoozed_until(rows: list[ReminderOutbox], occurrence: datetime, now: datetime) -> datetime:
    waiting = [
        r.due_at
        for r in rows
        if r.occurrence_at == occurrence
        and r.kind.startswith(rules.SNOOZE_PREFIX)
        and r.status == PENDING
        and r.due_at > now
    ]
    return max(waiting) if waiting else now


def _deadline_card(
    services: Services,
    repo: DeadlineRepository,
    deadline: Deadline,
    user_id: int,
    partner: Partner | None,
    name: str,
    now: datetime,
) -> dict[str, Any]:
    unit = unit_for(deadline, user_id, partner)
    current = rules.current_occurrence(deadline, now)
    shown = rule.shown_occurrences(deadline, now)
    rows = repo.reminders_of(user_id, deadline.id, shown[0]) if unit and shown else []
    items = []
    for occurrence in shown:
        item: dict[str, Any] = {
            "at": occurrence.isoformat(),
            "due": due_line(deadline, occurrence),
            "current": occurrence == current,
        }
        if unit is not None:
            done = repo.submission(deadline.id, occurrence, unit)
            until = _snoozed_until(rows, occurrence, now)
            snoozed = until > now
            reminded = any(r.occurrence_at == occurrence and r.status == SENT for r in rows)
            status = rule.status(
                done.status if done is not None else None, occurrence == current, snoozed
            )
            item["status"] = status
            item["status_text"] = _status_text(status, due_line(deadline, until))
            item["actions"] = [
                {"action": a, "label": _action_label(a, services)}
                for a in rule.actions(
                    True, occurrence == current, done is not None, reminded, snoozed
                )
            ]
        items.append(item)
    return {
        "id": deadline.id,
        "title": deadline.title,
        "rule": rules.describe_rule(deadline),
        "mine": unit is not None,
        "unit": unit_name(unit, {user_id: name}) if unit is not None else None,
        "occurrences": items,
    }


def _feed(services: Services, state: FeedState) -> dict[str, Any]:
    """The subscription link for the page: plain text (the chat's texts where they carry no
    markup), the address only right after it was made."""
    zone = ZoneInfo(services.settings.timezone)
    since = date_text(state.since, zone) if state.since is not None else ""
    texts = {
        "no_address": _(
            "The operator has not set a public address for the bot, so there is no "
            "subscription link."
        ),
        "refused": _("Subscription links are for members of the group and moderators."),
        "none": _('You have no subscription link yet: "New link" makes one.'),
        "live": _(
            "You have had a subscription link since {date}. I cannot show it again: I keep only "
            'a fingerprint of it. "New link" makes a new address and stops the old one.',
            date=since,
        ),
        "stopped": _(
            'You stopped your subscription link on {date}. "New link" makes a new one.',
            date=since,
        ),
        "issued": _(
            "Subscribe to the deadlines in Outlook or Google Calendar with this address; your "
            "calendar then follows every change by itself. Keep it to yourself: anyone who has "
            "it sees the deadlines. I show it only now."
        ),
        "not_live": _("There was no link to stop."),
    }
    return {
        "state": state.kind,
        "text": texts[state.kind],
        "url": state.url,
        "can_new": state.kind not in ("no_address", "refused"),
        "can_stop": state.kind in ("live", "issued"),
    }


async def board(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    services = services_of(app)
    user_id = caller.init.user.id
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)  # as /deadlines
        partner = repo.partner(user_id)
        cards = [
            _deadline_card(services, repo, d, user_id, partner, caller.init.user.first_name, now)
            for d in repo.definitions()
        ]
    units = [x for x in (partner.cluster, partner.organisation) if x] if partner else []
    return answer(
        200,
        {
            "partner": _("You answer for {units}.", units=list_text(units)) if units else None,
            "subscribe": None
            if units
            else _("Send /subscribe to me privately to get reminders and answer here."),
            "deadlines": cards,
            "calendar": _feed(services, feed_state(services, user_id)),
        },
    )


async def answer_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    """An answer to the current occurrence, as the reminder's buttons give it."""
    services = services_of(app)
    expected = _("Expected a deadline, its current date and an answer.")
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    deadline_id, at, action = data.get("deadline"), data.get("occurrence"), data.get("action")
    valid = (
        set(data) == {"deadline", "occurrence", "action"}
        and isinstance(deadline_id, str)
        and isinstance(at, str)
        and len(at) < 40
        and action in (rule.SUBMITTED, rule.NOT_APPLICABLE, rule.SNOOZE)
    )
    if not valid or not isinstance(deadline_id, str) or not isinstance(at, str):
        return answer(400, {"error": expected})
    try:
        rules.check_id(deadline_id)
        occurrence = datetime.fromisoformat(at)
    except (rules.DeadlineError, ValueError):
        return answer(400, {"error": expected})
    user_id = caller.init.user.id
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(deadline_id)
        unit = unit_for(deadline, user_id, repo.partner(user_id)) if deadline else None
        current = rules.current_occurrence(deadline, now) if deadline else None
        rows = repo.reminders_of(user_id, deadline_id, current) if current and unit else []
    if deadline is None:
        return answer(404, {"error": _("There is no such deadline any more.")})
    if unit is None:
        return answer(
            403,
            {
                "error": _(
                    "This deadline is not one of yours. Send /subscribe to me privately to "
                    "choose your cluster or organisation."
                )
            },
        )
    if current is None or occurrence.tzinfo is None or occurrence != current:
        return answer(409, {"error": _("Only the current date can be answered. Reload the board.")})
    snoozed = _snoozed_until(rows, current, now) > now
    reminded = any(r.occurrence_at == current and r.status == SENT for r in rows)
    if action not in rule.actions(True, True, False, reminded, snoozed):
        return answer(409, {"error": _("There is no reminder to snooze for this date.")})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    with services.db.transaction() as session:
        short, done = answer_occurrence(
            services, DeadlineRepository(session), deadline, unit, user_id, current, action, now
        )
    if done is None:
        return answer(409, {"error": short})
    return answer(200, {"message": short})


async def calendar_route(app: App, caller: Caller, request: WebRequest) -> WebResponse:
    """/calendar's "New link" and "Stop the link"."""
    services = services_of(app)
    expected = _('Expected "new" or "stop".')
    data = json_body(request, expected)
    if isinstance(data, WebResponse):
        return data
    action = data.get("action")
    if set(data) != {"action"} or action not in ("new", "stop"):
        return answer(400, {"error": expected})
    refused = claim_once(services, caller, request)
    if refused is not None:
        return refused
    act = new_feed if action == "new" else stop_feed
    state = act(services, caller.init.user.id)
    feed = _feed(services, state)
    if state.kind in ("no_address", "refused"):
        return answer(403, {"error": feed["text"]})
    if action == "stop" and state.kind == "stopped":
        feed["text"] = _(
            "Stopped: calendar apps using that address get nothing more from it. "
            '"New link" makes a new one.'
        )
    return answer(200, {"calendar": feed})


def routes(app: App) -> list[RouteSpec]:
    return [
        RouteSpec(rf"{PREFIX}/deadlines", authenticated(app, board), methods=("GET",)),
        RouteSpec(
            rf"{PREFIX}/deadlines/answer", authenticated(app, answer_route), methods=("POST",)
        ),
        RouteSpec(
            rf"{PREFIX}/deadlines/calendar", authenticated(app, calendar_route), methods=("POST",)
        ),
    ]
