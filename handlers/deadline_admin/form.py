"""The /deadline add and /deadline edit form (handlers/forms.py: its state is in the database).

Every answer is checked by ``moderation.deadline_input`` / ``moderation.deadlines``; nothing is
stored in ``deadlines`` before the moderator presses *Save* on the summary. A schedule change
only touches future occurrences: ``moderation.deadlines.reschedule`` decides which planned
reminders are kept, moved, cancelled or revived, and the dispatcher's planning adds the new ones.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy.orm import Session

from handlers.common import NOT_A_MODERATOR, current_role
from handlers.deadline_admin import render
from handlers.deadlines import digest_recipients, plan_outbox, recipients_of
from handlers.forms import Form, FormState, Step, Turn
from handlers.render import esc, esc_attr
from handlers.targets import TargetError, resolve_target
from i18n import _
from moderation import deadlines as rules
from moderation.deadline_input import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    audience_hint,
    parse_audience,
    parse_offsets,
    parse_schedule,
)
from moderation.deadlines import Audience, Deadline, DeadlineError
from moderation.introductions import InputError, clean_text
from moderation.permissions import Role
from runtime.context import BotContext, Services
from storage.deadlines import DeadlineRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

ID, TITLE, DESCRIPTION, AUDIENCE, SCHEDULE = "id", "title", "description", "audience", "schedule"
TIMEZONE, REMIND, CONFIRM, FIELD = "timezone", "remind", "confirm", "field"
ORDER = [ID, TITLE, DESCRIPTION, AUDIENCE, SCHEDULE, TIMEZONE, REMIND]
FIELDS = ("title", "description", "audience", "schedule", "timezone", "remind")


class DeadlineDraft(FormState):
    """The deadline being added or edited; ``None`` = not asked yet."""

    mode: Literal["add", "edit"]
    id: str = ""
    title: str | None = None
    description: str | None = None
    audience: Audience | None = None
    people: dict[int, str] = Field(default_factory=dict)  # named people, for the summary
    rule: str | None = None
    starts: datetime | None = None  # naive local time, as the schedule parser gives it
    timezone: str | None = None
    remind: tuple[timedelta, ...] | None = None
    overdue_after: timedelta | None = None
    paused: bool = False
    source: str = "command"


def default_timezone(services: Services) -> str:
    settings = services.settings
    group = settings.groups[0] if settings.groups else None
    return (group.timezone if group is not None else None) or settings.timezone


def config_definition(services: Services, deadline_id: str) -> Deadline | None:
    return next((d for d in services.settings.deadline_definitions() if d.id == deadline_id), None)


async def is_moderator(context: BotContext, user_id: int) -> bool:
    """The live, operation-wide check (``current_role``): a demoted admin is refused at once.
    Only the form's save uses it; the command and the remove button declare their role."""
    return await current_role(context, user_id) is Role.MODERATOR


def check(deadline: Deadline, now: datetime) -> Deadline:
    """Everything ``validate`` checks, and that the deadline still has a date to come."""
    rules.validate(deadline)
    if rules.next_occurrence(deadline, now) is None:
        raise DeadlineError(
            _("that schedule has no date after now, so there would be nothing to remind of")
        )
    return deadline


def draft(state: DeadlineDraft, services: Services) -> Deadline:
    """The deadline the form describes so far (defaults for what is not asked yet)."""
    return Deadline(
        id=state.id,
        title=state.title if state.title is not None else state.id,
        rule=state.rule or "FREQ=DAILY",
        starts=state.starts or datetime(2000, 1, 1),
        timezone=state.timezone or default_timezone(services),
        remind=state.remind or (),
        overdue_after=state.overdue_after,
        description=state.description or "",
        audience=state.audience or Audience(everyone=True),
        paused=state.paused,
        source=state.source,
    )


def people_of(session: Session, audience: Audience) -> dict[int, str]:
    roster = RosterRepository(session)
    people: dict[int, str] = {}
    for user_id in audience.users or ():
        user = roster.user(user_id)
        people[user_id] = user.display_name if user is not None else str(user_id)
    return people


# --------------------------------------------------------------------------- questions
def ask(turn: Turn[DeadlineDraft], step: str) -> str:
    markup = None
    if step == DESCRIPTION:
        markup = turn.buttons([(_("No description"), "skip")])
    elif step == AUDIENCE:
        markup = turn.buttons_row([(_("Every partner"), "all"), (_("All clusters"), "cl")])
    elif step == TIMEZONE:
        markup = turn.buttons([(default_timezone(turn.services), "tz")])
    turn.say(render.question(step), markup)
    return step


def after(turn: Turn[DeadlineDraft], step: str) -> str:
    """After a good answer: the next question when adding, the summary when editing."""
    if turn.state.mode == "edit" or step == REMIND:
        return summary(turn)
    return ask(turn, ORDER[ORDER.index(step) + 1])


def refuse(turn: Turn[DeadlineDraft], text: str, step: str) -> str:
    turn.say(_("Sorry: {problem}", problem=text))
    return step


def summary(turn: Turn[DeadlineDraft]) -> str:
    state = turn.state
    turn.say(
        render.summary(draft(state, turn.services), turn.now, state.people, state.mode == "add"),
        turn.buttons_row([(_("Save"), "save"), (_("Cancel"), "cancel")]),
    )
    return CONFIRM


async def opening(turn: Turn[DeadlineDraft]) -> str | None:
    """/deadline add asks for the id; /deadline edit ID shows the deadline and its fields."""
    state = turn.state
    if state.mode == "add":
        return ask(turn, ID)
    services = turn.services
    repo = DeadlineRepository(turn.session)
    repo.sync_config(services.settings.deadline_definitions(), turn.now)
    deadline = repo.deadline(state.id)
    if deadline is None:
        turn.say(_("There is no deadline {id}. /deadlines lists the ids.", id=esc_attr(state.id)))
        return None
    people = people_of(turn.session, deadline.audience)
    turn.state = DeadlineDraft(
        mode="edit",
        id=deadline.id,
        title=deadline.title,
        description=deadline.description,
        audience=deadline.audience,
        people=people,
        rule=deadline.rule,
        starts=deadline.starts,
        timezone=deadline.timezone,
        remind=deadline.remind,
        overdue_after=deadline.overdue_after,
        paused=deadline.paused,
        source=deadline.source,
    )
    rows = render.edit_buttons(FIELDS)
    turn.say(render.edit_menu(deadline, turn.now, people), turn.keyboard(rows))
    return FIELD


# --------------------------------------------------------------------------- answers
def typed(turn: Turn[DeadlineDraft]) -> str:
    return turn.text or ""


async def got_id(turn: Turn[DeadlineDraft]) -> str | None:
    text = typed(turn).strip()
    try:
        rules.check_id(text)
    except DeadlineError as exc:
        return refuse(turn, esc(exc), ID)
    configured = [d.id for d in turn.services.settings.deadline_definitions()]
    if DeadlineRepository(turn.session).id_taken(text, configured):
        return refuse(
            turn,
            _(
                "the id {id} is already used (ids of removed deadlines are not reused, so their "
                "history stays clear). Send another id.",
                id=esc(text),
            ),
            ID,
        )
    turn.state.id = text
    return after(turn, ID)


async def got_title(turn: Turn[DeadlineDraft]) -> str | None:
    try:
        turn.state.title = clean_text(typed(turn), TITLE_MAX, "title")
    except InputError as exc:
        return refuse(turn, esc(exc), TITLE)
    return after(turn, TITLE)


async def got_description(turn: Turn[DeadlineDraft]) -> str | None:
    if turn.value is not None:
        if turn.value != "skip":
            return refuse(turn, _("Please choose one of the buttons."), DESCRIPTION)
        description = ""
    else:
        try:
            description = clean_text(typed(turn), DESCRIPTION_MAX, "description")
        except InputError as exc:
            return refuse(turn, esc(exc), DESCRIPTION)
    turn.state.description = description
    return after(turn, DESCRIPTION)


async def got_audience(turn: Turn[DeadlineDraft]) -> str | None:
    services = turn.services
    settings = services.settings
    people: dict[int, str] = {}
    if turn.value is not None:
        if turn.value not in ("all", "cl"):
            return refuse(turn, _("Please choose one of the buttons."), AUDIENCE)
        everyone = turn.value == "all"
        audience = Audience(everyone=True) if everyone else Audience(all_clusters=True)
    else:
        try:
            wanted = parse_audience(
                typed(turn), list(settings.clusters), list(settings.organisations)
            )
        except DeadlineError as exc:
            return refuse(turn, esc(exc), AUDIENCE)
        chat_id = settings.groups[0].chat_id
        for name in wanted.people:
            try:
                target = resolve_target(services, chat_id, None, name.split())
            except TargetError as exc:
                return refuse(turn, f"{exc} {esc(audience_hint())}", AUDIENCE)
            if target.rest or target.is_bot:
                return refuse(
                    turn, _("{name} is not one person I know.", name=esc(name[:60])), AUDIENCE
                )
            people[target.user_id] = target.name
        audience = Audience(
            everyone=wanted.everyone,
            clusters=wanted.clusters,
            organisations=wanted.organisations,
            all_clusters=wanted.all_clusters,
            all_organisations=wanted.all_organisations,
            users=tuple(people) if people else None,
        )
    turn.state.audience, turn.state.people = audience, people
    return after(turn, AUDIENCE)


async def got_schedule(turn: Turn[DeadlineDraft]) -> str | None:
    state, services, now = turn.state, turn.services, turn.now
    zone = state.timezone or default_timezone(services)
    today = now.astimezone(rules.timezone_of(zone)).date()
    try:
        schedule = parse_schedule(typed(turn), today)
        trial = replace(draft(state, services), rule=schedule.rule, starts=schedule.starts)
        if state.mode == "add":  # reminders are asked (and checked) later
            trial = replace(trial, remind=(), overdue_after=None)
        check(trial, now)
    except DeadlineError as exc:
        return refuse(turn, esc(exc), SCHEDULE)
    state.rule, state.starts = schedule.rule, schedule.starts
    return after(turn, SCHEDULE)


async def got_timezone(turn: Turn[DeadlineDraft]) -> str | None:
    services = turn.services
    if turn.value is not None and turn.value != "tz":
        return refuse(turn, _("Please choose one of the buttons."), TIMEZONE)
    zone = default_timezone(services) if turn.value == "tz" else typed(turn).strip()
    try:
        rules.timezone_of(zone)
        check(replace(draft(turn.state, services), timezone=zone), turn.now)
    except DeadlineError as exc:
        return refuse(turn, esc(exc), TIMEZONE)
    turn.state.timezone = zone
    return after(turn, TIMEZONE)


async def got_remind(turn: Turn[DeadlineDraft]) -> str | None:
    state, services = turn.state, turn.services
    try:
        offsets = parse_offsets(typed(turn))
        trial = replace(
            draft(state, services), remind=offsets.remind, overdue_after=offsets.overdue_after
        )
        check(trial, turn.now)
    except DeadlineError as exc:
        return refuse(turn, esc(exc), REMIND)
    state.remind, state.overdue_after = offsets.remind, offsets.overdue_after
    return after(turn, REMIND)


async def choose_field(turn: Turn[DeadlineDraft]) -> str | None:
    value = turn.value or ""
    if value == "cancel":
        turn.say(_("Cancelled; nothing was saved."))
        return None
    field = value.removeprefix("f:")
    if field not in FIELDS:
        return refuse(turn, _("Please choose one of the buttons."), FIELD)
    return ask(turn, field)


# --------------------------------------------------------------------------- saving
async def confirm(turn: Turn[DeadlineDraft]) -> str | None:
    state = turn.state
    if turn.value != "save" or state.remind is None:
        turn.say(_("Cancelled; nothing was saved."))
        return None
    services, now, actor = turn.services, turn.now, turn.user_id
    # Deliberately checked again at save: /deadline (guarded by its CommandSpec) opened the form
    # maybe days ago, and a moderator demoted since must not save.
    if not await is_moderator(turn.context, actor):
        turn.say(_(NOT_A_MODERATOR))
        return None
    deadline = draft(state, services)
    configured = config_definition(services, deadline.id)
    try:
        check(deadline, now)
    except DeadlineError as exc:  # e.g. a one-off date passed while the form was open
        turn.say(_("Sorry: {problem}. Nothing was saved.", problem=esc(exc)))
        return None
    decision: rules.Reschedule | None = None
    repo = DeadlineRepository(turn.session)
    if state.mode == "add":
        ids = [d.id for d in services.settings.deadline_definitions()]
        if repo.id_taken(deadline.id, ids):
            problem: str | None = _("the id {id} was taken meanwhile", id=esc_attr(deadline.id))
        else:
            problem = None
            repo.save_from_chat(deadline, "add", actor, now)
    elif repo.deadline(deadline.id) is None:
        problem = _("{id} was removed meanwhile", id=esc_attr(deadline.id))
    else:
        problem = None
        repo.save_from_chat(deadline, "edit", actor, now, config=configured)
        decision = rules.reschedule(
            deadline,
            repo.future_rows(deadline.id, now),
            recipients_of(deadline, repo.partners()),
            digest_recipients(services),
            now,
        )
        repo.apply_reschedule(decision)
    if problem is not None:
        turn.say(_("Sorry: {problem}. Nothing was saved.", problem=problem))
        return None
    plan_outbox(services, repo, now)
    log.info("deadline %s %s by %s", deadline.id, state.mode, actor)
    adjusted = (
        len(decision.cancel) + len(decision.revive) + len(decision.move)
        if decision is not None
        else 0
    )
    turn.say(render.saved(deadline, adjusted, state.mode == "edit" and configured is not None))
    return None


def restart_state(old: DeadlineDraft) -> DeadlineDraft:
    """Start again: a fresh add, or the same deadline's edit menu read anew."""
    return DeadlineDraft(mode=old.mode, id=old.id if old.mode == "edit" else "")


DEADLINE_FORM = Form(
    kind="deadline",
    prefix="dlf",
    model=DeadlineDraft,
    opening=opening,
    steps={
        ID: Step(on_text=got_id),
        TITLE: Step(on_text=got_title),
        DESCRIPTION: Step(on_text=got_description, on_button=got_description),
        AUDIENCE: Step(on_text=got_audience, on_button=got_audience),
        SCHEDULE: Step(on_text=got_schedule),
        TIMEZONE: Step(on_text=got_timezone, on_button=got_timezone),
        REMIND: Step(on_text=got_remind),
        FIELD: Step(on_button=choose_field),
        CONFIRM: Step(on_button=confirm),
    },
    expired=lambda state: _(
        "This /deadline form waited too long for an answer and has expired; nothing was saved."
    ),
    restart_state=restart_state,
)
