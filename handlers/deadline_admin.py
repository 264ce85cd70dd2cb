"""Moderators' deadline commands: ``/deadline add|edit|pause|resume|remove``, in private chat.

``add`` and ``edit`` are guided conversations (PTB ConversationHandler, ``/cancel`` at any
step); every answer is checked by ``moderation.deadline_input`` / ``moderation.deadlines`` and
nothing is stored before the moderator presses *Save* on the summary. A schedule change only
touches future occurrences: ``moderation.deadlines.reschedule`` decides which planned reminders
are kept, moved, cancelled or revived, and the dispatcher's planning adds the new ones.

Deadlines from the configuration file may be changed here too: the row becomes an *override*
of that file definition and stays as the chat left it (across restarts) until someone changes
that deadline in the file, which then wins again (see ``storage.deadlines.sync_config``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from handlers.common import NOT_A_MODERATOR, answer_step, may_moderate
from handlers.deadlines import digest_recipients, plan_outbox, recipients_of
from handlers.render import esc
from handlers.targets import TargetError, resolve_target
from i18n import _, comma_join, date_text, duration_text, ngettext
from moderation import deadlines as rules
from moderation.deadline_input import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    audience_hint,
    offsets_hint,
    parse_audience,
    parse_offsets,
    parse_schedule,
    schedule_examples,
)
from moderation.deadlines import Audience, Deadline, DeadlineError
from moderation.introductions import InputError, clean_text
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services
from storage.deadlines import DeadlineRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec(
        "deadline",
        "Add, edit, pause, resume or remove a deadline",
        Role.MODERATOR,
        where=Where.PRIVATE,
        usage="add | edit ID | pause ID | resume ID | remove ID",
    ),
]

FORM = "deadline_form"
CB = "dla"
NEXT_SHOWN = 3
# Conversation states.
ID, TITLE, DESCRIPTION, AUDIENCE, SCHEDULE, TIMEZONE, REMIND, CONFIRM, FIELD = range(200, 209)
FIELDS = ("title", "description", "audience", "schedule", "timezone", "remind")


def usage() -> str:
    return _(
        "Usage: /deadline add, /deadline edit ID, /deadline pause ID, /deadline resume ID or "
        "/deadline remove ID. /deadlines lists the ids."
    )


def _form(context: BotContext) -> dict[str, Any]:
    return context.user_data.setdefault(FORM, {})  # type: ignore[union-attr, no-any-return]


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message is not None else ""


async def _is_moderator(update: Update, context: BotContext) -> bool:
    return await may_moderate(update, context)


def default_timezone(services: Services) -> str:
    settings = services.settings
    group = settings.groups[0] if settings.groups else None
    return (group.timezone if group is not None else None) or settings.timezone


def config_definition(services: Services, deadline_id: str) -> Deadline | None:
    return next((d for d in services.settings.deadline_definitions() if d.id == deadline_id), None)


# --------------------------------------------------------------------------- rendering
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
        _("<b>{title}</b> (<code>{id}</code>)", title=esc(deadline.title), id=esc(deadline.id))
    ]
    if deadline.description:
        lines.append(esc(deadline.description))
    lines.append(_("Who: {audience}", audience=esc(audience_text(deadline.audience, people))))
    lines.append(_("When: {schedule}", schedule=esc(rules.describe_rule(deadline))))
    lines.append(
        _(
            "Rule: <code>{rule}</code> from {starts} ({zone})",
            rule=esc(deadline.rule),
            starts=date_text(deadline.starts),
            zone=esc(deadline.timezone),
        )
    )
    lines.append(_("Reminders: {offsets}", offsets=esc(offsets_text(deadline))))
    dates = [rules.format_local(d, deadline.tz) for d in next_dates(deadline, now)]
    lines.append(_("Next: {dates}", dates=esc("; ".join(dates)) if dates else _("none")))
    if deadline.paused:
        lines.append(_("⏸ Paused: no reminders until /deadline resume {id}.", id=esc(deadline.id)))
    return "\n".join(lines)


def check(deadline: Deadline, now: datetime) -> Deadline:
    """Everything ``validate`` checks, and that the deadline still has a date to come."""
    rules.validate(deadline)
    if rules.next_occurrence(deadline, now) is None:
        raise DeadlineError(
            _("that schedule has no date after now, so there would be nothing to remind of")
        )
    return deadline


def _draft(form: dict[str, Any], services: Services) -> Deadline:
    """The deadline the form describes so far (defaults for what is not asked yet)."""
    return Deadline(
        id=form["id"],
        title=form.get("title", form["id"]),
        rule=form.get("rule", "FREQ=DAILY"),
        starts=form.get("starts", datetime(2000, 1, 1)),
        timezone=form.get("timezone") or default_timezone(services),
        remind=form.get("remind", ()),
        overdue_after=form.get("overdue_after"),
        description=form.get("description", ""),
        audience=form.get("audience", Audience(everyone=True)),
        paused=form.get("paused", False),
        source=form.get("source", "command"),
    )


def _form_of(deadline: Deadline, people: dict[int, str]) -> dict[str, Any]:
    return {
        "id": deadline.id,
        "title": deadline.title,
        "description": deadline.description,
        "audience": deadline.audience,
        "people": people,
        "rule": deadline.rule,
        "starts": deadline.starts,
        "timezone": deadline.timezone,
        "remind": deadline.remind,
        "overdue_after": deadline.overdue_after,
        "paused": deadline.paused,
        "source": deadline.source,
    }


# --------------------------------------------------------------------------- questions
async def _ask(update: Update, context: BotContext, state: int) -> int:
    services = context.services
    if state == ID:
        await answer_step(
            update,
            _(
                "Let's add a deadline. Send /cancel at any time to stop; nothing is saved "
                "before you confirm.\n\nWhat is its <b>id</b>? {hint}",
                hint=esc(rules.id_hint()),
            ),
        )
    elif state == TITLE:
        await answer_step(
            update,
            _("What is its <b>title</b>? (up to {n} characters, e.g. SitRep inputs)", n=TITLE_MAX),
        )
    elif state == DESCRIPTION:
        await answer_step(
            update,
            _(
                "A short <b>description or link</b> partners should see with each reminder "
                "(up to {n} characters)?",
                n=DESCRIPTION_MAX,
            ),
            InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("No description"), callback_data=f"{CB}:skip")]]
            ),
        )
    elif state == AUDIENCE:
        await answer_step(
            update,
            _("<b>Who</b> must submit? {hint}", hint=esc(audience_hint())),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(_("Every partner"), callback_data=f"{CB}:aud:all"),
                        InlineKeyboardButton(_("All clusters"), callback_data=f"{CB}:aud:cl"),
                    ]
                ]
            ),
        )
    elif state == SCHEDULE:
        await answer_step(
            update,
            _("<b>When</b> is it due? {examples}", examples=esc(schedule_examples())),
        )
    elif state == TIMEZONE:
        zone = default_timezone(services)
        await answer_step(
            update,
            _(
                "In which <b>time zone</b>? Send an IANA name such as Europe/Kyiv, or use the "
                "group's."
            ),
            InlineKeyboardMarkup([[InlineKeyboardButton(zone, callback_data=f"{CB}:tz")]]),
        )
    elif state == REMIND:
        await answer_step(
            update,
            _("When should partners be <b>reminded</b>? {hint}", hint=esc(offsets_hint())),
        )
    return state


ORDER = [ID, TITLE, DESCRIPTION, AUDIENCE, SCHEDULE, TIMEZONE, REMIND]


async def _after(update: Update, context: BotContext, state: int) -> int:
    """After a good answer: the next question when adding, the summary when editing."""
    form = _form(context)
    if form.get("mode") == "edit" or state == REMIND:
        return await _summary(update, context)
    return await _ask(update, context, ORDER[ORDER.index(state) + 1])


async def _refuse(update: Update, text: str, state: int) -> int:
    await answer_step(update, _("Sorry: {problem}", problem=text))
    return state


async def _summary(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    now = services.clock.now()
    deadline = _draft(form, services)
    head = (
        _("Please check the new deadline:")
        if form.get("mode") == "add"
        else _("Please check the changed deadline:")
    )
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Save"), callback_data=f"{CB}:save"),
                InlineKeyboardButton(_("Cancel"), callback_data=f"{CB}:cancel"),
            ]
        ]
    )
    await answer_step(
        update, f"{head}\n\n{describe(deadline, now, form.get('people', {}))}", buttons
    )
    return CONFIRM


# --------------------------------------------------------------------------- the entry point
async def deadline_command(update: Update, context: BotContext) -> int:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return ConversationHandler.END
    if not await _is_moderator(update, context):
        await message.reply_text(NOT_A_MODERATOR)
        return ConversationHandler.END
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    args = context.args or []
    action = args[0].lower() if args else ""
    if action == "add" and len(args) == 1:
        _form(context).update(mode="add")
        return await _ask(update, context, ID)
    if action not in ("edit", "pause", "resume", "remove") or len(args) != 2:
        await message.reply_text(usage())
        return ConversationHandler.END
    deadline_id = args[1]
    try:
        rules.check_id(deadline_id)
    except DeadlineError as exc:
        await message.reply_text(esc(exc))
        return ConversationHandler.END
    services = context.services
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), services.clock.now())
        deadline = repo.deadline(deadline_id)
        people = _people(session, deadline.audience if deadline else Audience())
    if deadline is None:
        await message.reply_text(
            _("There is no deadline {id}. /deadlines lists the ids.", id=esc(deadline_id))
        )
        return ConversationHandler.END
    if action == "edit":
        _form(context).update(mode="edit", **_form_of(deadline, people))
        labels = {
            "title": _("Title"),
            "description": _("Description"),
            "audience": _("Who"),
            "schedule": _("Schedule"),
            "timezone": _("Time zone"),
            "remind": _("Reminders"),
        }
        rows = [
            [
                InlineKeyboardButton(labels[f], callback_data=f"{CB}:f:{f}")
                for f in FIELDS[i : i + 3]
            ]
            for i in range(0, len(FIELDS), 3)
        ]
        rows.append([InlineKeyboardButton(_("Cancel"), callback_data=f"{CB}:cancel")])
        note = _config_note(deadline)
        await message.reply_text(
            _(
                "{summary}\n\n{note}What do you want to change? (/cancel stops)",
                summary=describe(deadline, services.clock.now(), people),
                note=f"{note}\n\n" if note else "",
            ),
            reply_markup=InlineKeyboardMarkup(rows),
        )
        return FIELD
    if action in ("pause", "resume"):
        await _pause(update, context, deadline, action == "pause")
        return ConversationHandler.END
    await message.reply_text(
        _(
            "Remove <b>{title}</b> (<code>{id}</code>)? Pending reminders are cancelled; what "
            "was sent and submitted stays on record.{note}",
            title=esc(deadline.title),
            id=esc(deadline.id),
            note=f"\n{_config_note(deadline)}" if _config_note(deadline) else "",
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Remove"), callback_data=f"{CB}:rm:{deadline.id}"),
                    InlineKeyboardButton(_("Keep it"), callback_data=f"{CB}:keep"),
                ]
            ]
        ),
    )
    return ConversationHandler.END


def _config_note(deadline: Deadline) -> str:
    if deadline.source not in ("config", "override"):
        return ""
    return _(
        "ℹ️ {id} comes from the configuration file. A change made here holds, also after "
        "restarts, until someone changes {id} in that file; the file then wins again.",
        id=esc(deadline.id),
    )


def _people(session: Any, audience: Audience) -> dict[int, str]:
    roster = RosterRepository(session)
    people: dict[int, str] = {}
    for user_id in audience.users or ():
        user = roster.user(user_id)
        people[user_id] = user.display_name if user is not None else str(user_id)
    return people


async def in_group(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if not await _is_moderator(update, context):
        await message.reply_text(NOT_A_MODERATOR)
        return
    await message.reply_text(
        _("Please send /deadline to me in a private chat; nothing was changed here.")
    )


# --------------------------------------------------------------------------- answers
async def got_id(update: Update, context: BotContext) -> int:
    text = _text(update).strip()
    try:
        rules.check_id(text)
    except DeadlineError as exc:
        return await _refuse(update, esc(exc), ID)
    services = context.services
    configured = [d.id for d in services.settings.deadline_definitions()]
    with services.db.transaction() as session:
        taken = DeadlineRepository(session).id_taken(text, configured)
    if taken:
        return await _refuse(
            update,
            _(
                "the id {id} is already used (ids of removed deadlines are not reused, so their "
                "history stays clear). Send another id.",
                id=esc(text),
            ),
            ID,
        )
    _form(context)["id"] = text
    return await _after(update, context, ID)


async def got_title(update: Update, context: BotContext) -> int:
    try:
        title = clean_text(_text(update), TITLE_MAX, "title")
    except InputError as exc:
        return await _refuse(update, esc(exc), TITLE)
    _form(context)["title"] = title
    return await _after(update, context, TITLE)


async def got_description(update: Update, context: BotContext) -> int:
    if update.callback_query is not None:
        description = ""
    else:
        try:
            description = clean_text(_text(update), DESCRIPTION_MAX, "description")
        except InputError as exc:
            return await _refuse(update, esc(exc), DESCRIPTION)
    _form(context)["description"] = description
    return await _after(update, context, DESCRIPTION)


async def got_audience(update: Update, context: BotContext) -> int:
    services = context.services
    settings = services.settings
    query = update.callback_query
    people: dict[int, str] = {}
    if query is not None:
        everyone = query.data == f"{CB}:aud:all"
        audience = Audience(everyone=True) if everyone else Audience(all_clusters=True)
    else:
        try:
            typed = parse_audience(
                _text(update), list(settings.clusters), list(settings.organisations)
            )
        except DeadlineError as exc:
            return await _refuse(update, esc(exc), AUDIENCE)
        chat_id = settings.groups[0].chat_id
        for name in typed.people:
            try:
                target = resolve_target(services, chat_id, None, name.split())
            except TargetError as exc:
                return await _refuse(update, f"{exc} {esc(audience_hint())}", AUDIENCE)
            if target.rest or target.is_bot:
                return await _refuse(
                    update, _("{name} is not one person I know.", name=esc(name[:60])), AUDIENCE
                )
            people[target.user_id] = target.name
        audience = Audience(
            everyone=typed.everyone,
            clusters=typed.clusters,
            organisations=typed.organisations,
            all_clusters=typed.all_clusters,
            all_organisations=typed.all_organisations,
            users=tuple(people) if people else None,
        )
    _form(context).update(audience=audience, people=people)
    return await _after(update, context, AUDIENCE)


async def got_schedule(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    now = services.clock.now()
    zone = form.get("timezone") or default_timezone(services)
    today = now.astimezone(rules.timezone_of(zone)).date()
    try:
        schedule = parse_schedule(_text(update), today)
        trial = replace(_draft(form, services), rule=schedule.rule, starts=schedule.starts)
        if form.get("mode") == "add":  # reminders are asked (and checked) later
            trial = replace(trial, remind=(), overdue_after=None)
        check(trial, now)
    except DeadlineError as exc:
        return await _refuse(update, esc(exc), SCHEDULE)
    form.update(rule=schedule.rule, starts=schedule.starts)
    return await _after(update, context, SCHEDULE)


async def got_timezone(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    zone = default_timezone(services) if update.callback_query else _text(update).strip()
    try:
        rules.timezone_of(zone)
        check(replace(_draft(form, services), timezone=zone), services.clock.now())
    except DeadlineError as exc:
        return await _refuse(update, esc(exc), TIMEZONE)
    form["timezone"] = zone
    return await _after(update, context, TIMEZONE)


async def got_remind(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    try:
        offsets = parse_offsets(_text(update))
        trial = replace(
            _draft(form, services), remind=offsets.remind, overdue_after=offsets.overdue_after
        )
        check(trial, services.clock.now())
    except DeadlineError as exc:
        return await _refuse(update, esc(exc), REMIND)
    form.update(remind=offsets.remind, overdue_after=offsets.overdue_after)
    return await _after(update, context, REMIND)


async def choose_field(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    field = query.data.rsplit(":", 1)[1]
    if field not in FIELDS:
        await query.answer(_("This button is not valid any more."))
        return FIELD
    state = {
        "title": TITLE,
        "description": DESCRIPTION,
        "audience": AUDIENCE,
        "schedule": SCHEDULE,
        "timezone": TIMEZONE,
        "remind": REMIND,
    }[field]
    return await _ask(update, context, state)


# --------------------------------------------------------------------------- saving
async def confirm(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None
    form = context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    if query.data != f"{CB}:save" or not form or "remind" not in form:
        await answer_step(update, _("Cancelled; nothing was saved."))
        return ConversationHandler.END
    if not await _is_moderator(update, context):
        await answer_step(update, NOT_A_MODERATOR)
        return ConversationHandler.END
    services = context.services
    now = services.clock.now()
    actor = query.from_user.id
    deadline = _draft(form, services)
    configured = config_definition(services, deadline.id)
    try:
        check(deadline, now)
    except DeadlineError as exc:  # e.g. a one-off date passed while the form was open
        await answer_step(update, _("Sorry: {problem}. Nothing was saved.", problem=esc(exc)))
        return ConversationHandler.END
    decision: rules.Reschedule | None = None
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        if form["mode"] == "add":
            ids = [d.id for d in services.settings.deadline_definitions()]
            if repo.id_taken(deadline.id, ids):
                problem = _("the id {id} was taken meanwhile", id=esc(deadline.id))
            else:
                problem = None
                repo.save_from_chat(deadline, "add", actor, now)
        elif repo.deadline(deadline.id) is None:
            problem = _("{id} was removed meanwhile", id=esc(deadline.id))
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
        if problem is None:
            plan_outbox(services, repo, now)
    if problem is not None:
        await answer_step(update, _("Sorry: {problem}. Nothing was saved.", problem=problem))
        return ConversationHandler.END
    log.info("deadline %s %s by %s", deadline.id, form["mode"], actor)
    lines = [
        _(
            "Saved <b>{title}</b> (<code>{id}</code>).",
            title=esc(deadline.title),
            id=esc(deadline.id),
        )
    ]
    if decision is not None and (decision.cancel or decision.revive or decision.move):
        changed = len(decision.cancel) + len(decision.revive) + len(decision.move)
        lines.append(
            ngettext(
                "{n} planned reminder was adjusted to the new schedule.",
                "{n} planned reminders were adjusted to the new schedule.",
                changed,
            )
        )
    if form["mode"] == "edit" and configured is not None:
        lines.append(_config_note(deadline))
    lines.append(_("/deadlines shows it; /calendar sends the updated calendar."))
    await answer_step(update, "\n".join(lines))
    return ConversationHandler.END


async def _pause(update: Update, context: BotContext, deadline: Deadline, pause: bool) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    if deadline.paused == pause:
        text = (
            _("{id} is already paused.", id=esc(deadline.id))
            if pause
            else _("{id} is not paused.", id=esc(deadline.id))
        )
        await message.reply_text(text)
        return
    services = context.services
    now = services.clock.now()
    configured = config_definition(services, deadline.id)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.save_from_chat(
            replace(deadline, paused=pause),
            "pause" if pause else "resume",
            update.effective_user.id,
            now,
            config=configured,
        )
        if not pause:
            plan_outbox(services, repo, now)
    if pause:
        text = _(
            "⏸ <b>{title}</b> is paused: no reminders until /deadline resume {id}.",
            title=esc(deadline.title),
            id=esc(deadline.id),
        )
    else:
        text = _(
            "▶️ <b>{title}</b> is running again. Reminders missed while it was paused are sent "
            "only if still timely (one catch-up note at most, never a burst).",
            title=esc(deadline.title),
        )
    note = _config_note(deadline)
    await message.reply_text(f"{text}\n{note}" if note else text)


async def on_remove_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    if not await _is_moderator(update, context):
        await query.answer(NOT_A_MODERATOR, show_alert=True)
        return
    data = query.data or ""
    if data == f"{CB}:keep":
        await query.answer()
        await _edit(query, _("Nothing was removed."))
        return
    deadline_id = data.split(":", 2)[2] if data.count(":") == 2 else ""
    try:
        rules.check_id(deadline_id)
    except DeadlineError:
        await query.answer(_("This button is not valid any more."))
        return
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(deadline_id)
        cancelled = (
            repo.remove(
                deadline_id, query.from_user.id, now, config_definition(services, deadline_id)
            )
            if deadline is not None
            else None
        )
    await query.answer()
    if deadline is None or cancelled is None:
        await _edit(query, _("{id} was already removed.", id=esc(deadline_id)))
        return
    await _edit(
        query,
        _(
            "🗑 Removed <b>{title}</b> (<code>{id}</code>). {cancelled} What was sent and "
            "submitted stays on record.",
            title=esc(deadline.title),
            id=esc(deadline.id),
            cancelled=ngettext(
                "{n} pending reminder was cancelled.",
                "{n} pending reminders were cancelled.",
                cancelled,
            ),
        ),
    )


async def _edit(query: Any, text: str) -> None:
    try:
        await query.edit_message_text(text)
    except TelegramError as exc:  # the message is too old to edit: say it anew
        log.info("could not edit the /deadline message: %s", exc)
        if query.message is not None:
            await query.message.chat.send_message(text)


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    await answer_step(update, _("Cancelled; nothing was saved."))
    return ConversationHandler.END


async def stale_button(update: Update, context: BotContext) -> None:
    """A form button pressed after the form ended (or after a restart: forms live in memory)."""
    query = update.callback_query
    if query is not None:
        await query.answer(
            _("This form is no longer open; start again with /deadline."), show_alert=True
        )


def register(app: App) -> None:
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    private_text = filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND
    cancel_handler = CommandHandler("cancel", cancel, filters=filters.ChatType.PRIVATE)
    app.add_handler(
        ConversationHandler(
            entry_points=[
                CommandHandler("deadline", deadline_command, filters=filters.ChatType.PRIVATE)
            ],
            states={
                ID: [MessageHandler(private_text, got_id)],
                TITLE: [MessageHandler(private_text, got_title)],
                DESCRIPTION: [
                    MessageHandler(private_text, got_description),
                    CallbackQueryHandler(got_description, pattern=rf"^{CB}:skip$"),
                ],
                AUDIENCE: [
                    MessageHandler(private_text, got_audience),
                    CallbackQueryHandler(got_audience, pattern=rf"^{CB}:aud:(all|cl)$"),
                ],
                SCHEDULE: [MessageHandler(private_text, got_schedule)],
                TIMEZONE: [
                    MessageHandler(private_text, got_timezone),
                    CallbackQueryHandler(got_timezone, pattern=rf"^{CB}:tz$"),
                ],
                REMIND: [MessageHandler(private_text, got_remind)],
                FIELD: [CallbackQueryHandler(choose_field, pattern=rf"^{CB}:f:\w+$")],
                CONFIRM: [CallbackQueryHandler(confirm, pattern=rf"^{CB}:(save|cancel)$")],
            },
            fallbacks=[
                cast("BaseHandler[Update, BotContext, object]", cancel_handler),
                CallbackQueryHandler(cancel, pattern=rf"^{CB}:cancel$"),
            ],
            allow_reentry=True,
            name="deadline-admin",
        )
    )
    app.add_handler(CommandHandler("deadline", in_group, filters=~filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(on_remove_button, pattern=rf"^{CB}:(rm:.*|keep)$"))
    app.add_handler(CallbackQueryHandler(stale_button, pattern=rf"^{CB}:"))
