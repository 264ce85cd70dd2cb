"""Deadline reminders, the Telegram side: buttons, /deadlines, /submitted, /missing, /subscribe,
/assign, /calendar. What a reminder says is in ``handlers.reminder_letters``; the outbox that
sends them (claim, fencing, flight, marks) is ``delivery.reminders``, run as a sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from delivery import reminders
from handlers import calendar
from handlers.common import in_group, reply
from handlers.deadline_answers import ACTIONS, answer_occurrence
from handlers.order import Stage
from handlers.partner_cards import (
    CB_SUBSCRIBE,
    Board,
    BoardRow,
    Choice,
    Submitted,
    Subscribed,
    board_lines,
    cluster_question,
    organisation_question,
    submitted_reply,
    subscribed_text,
)
from handlers.reminder_letters import (
    CB_REMINDER,
    LETTERS,
    digest_recipients,
    missing_report,
    next_reminder_at,
    now_of,
    plan_outbox,
    recipients_of,
    unit_for,
)
from handlers.render import chunk_lines, esc, mention
from handlers.topics import answer_in_topic
from handlers.webapp import with_open_row
from i18n import _, list_text
from moderation import deadlines as rules
from moderation.deadlines import Deadline
from moderation.partners import listed_index
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services, Sweep
from storage.deadlines import DeadlineRepository
from storage.introductions import IntroductionRepository
from storage.roster import RosterRepository

# Re-exported: the deadline editor plans with them.
__all__ = ["digest_recipients", "plan_outbox", "recipients_of"]

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec("deadlines", "Upcoming deadlines and whether you have submitted"),
    CommandSpec(
        "subscribe", "Get deadline reminders for your cluster/organisation", where=Where.PRIVATE
    ),
    CommandSpec("unsubscribe", "Stop deadline reminders", where=Where.PRIVATE),
    CommandSpec("submitted", "Record that you submitted for a deadline", usage="ID"),
    CommandSpec("calendar", "All deadlines as a calendar file (.ics)"),
    CommandSpec("missing", "Who has not submitted for a deadline", Role.MODERATOR, usage="ID"),
    CommandSpec(
        "assign",
        "Make someone a partner for a cluster or organisation",
        Role.MODERATOR,
        usage="@username|user-id CLUSTER-or-ORGANISATION",
    ),
]

Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


async def answer_lines(
    update: Update,
    context: BotContext,
    render: Callable[[], list[str]],
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Answer a command with lines, in the group's language(s) there (side by side in a
    bilingual group), privately in the person's; long answers in several messages (``markup``
    under the last)."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    text = in_group(context.services, chat.id, lambda: "\n".join(render()))
    chunks = chunk_lines(text.split("\n"))
    for index, chunk in enumerate(chunks):
        await message.reply_text(chunk, reply_markup=markup if index == len(chunks) - 1 else None)


async def dispatch(app: App) -> None:
    """The reminder outbox run (``delivery.reminders``) with this feature's letters."""
    await reminders.dispatch(app, LETTERS)


# --------------------------------------------------------------------------- buttons
async def on_reminder_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    parts = (query.data or "").split(":")
    if len(parts) != 3 or parts[1] not in ACTIONS or not parts[2].isdigit():
        await query.answer(_("This button is not valid any more."))
        return
    action, row_id = ACTIONS[parts[1]], int(parts[2])
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        row = repo.outbox_row(row_id)
        answer: str
        done: str | None = None
        if row is None or row.user_id != query.from_user.id:
            answer = _("This reminder is not yours.")
        else:
            deadline = repo.deadline(row.deadline_id)
            unit = (
                unit_for(deadline, row.user_id, repo.partner(row.user_id))
                if deadline is not None
                else None
            )
            if deadline is None or unit is None:
                answer = _("This deadline or your subscription no longer exists.")
            else:
                answer, done = answer_occurrence(
                    services, repo, deadline, unit, row.user_id, row.occurrence_at, action, now
                )
    await query.answer(answer)
    if done is not None and query.message is not None:
        try:
            await context.bot.edit_message_reply_markup(
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=None,
            )
            await answer_in_topic(update, done)
        except TelegramError as exc:
            log.info("could not update reminder message: %s", exc)


# --------------------------------------------------------------------------- commands
def _argument(context: BotContext) -> str | None:
    return " ".join(context.args) if context.args else None


def _id_problem(text: str) -> str:
    """What is wrong with a typed deadline id (in the current language), or ""."""
    try:
        rules.check_id(text)
    except rules.DeadlineError as exc:
        return str(exc)
    return ""


async def _find_deadline(update: Update, context: BotContext, usage: str) -> Deadline | None:
    text = _argument(context)
    if text is None:
        await reply(
            update,
            context,
            lambda: _("Usage: {usage}. /deadlines lists the ids.", usage=esc(usage)),
        )
        return None
    if _id_problem(text):
        await reply(update, context, lambda: esc(_id_problem(text)))
        return None
    with context.services.db.transaction() as session:
        deadline = DeadlineRepository(session).deadline(text)
    if deadline is None:
        await reply(
            update,
            context,
            lambda: _("There is no deadline {id}. /deadlines lists the ids.", id=esc(text)),
        )
    return deadline


async def deadlines_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    now = now_of(services)
    rows: list[BoardRow] = []
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), now)
        partner = repo.partner(user.id)
        named = False
        for deadline in repo.definitions():
            unit = unit_for(deadline, user.id, partner)
            named = named or deadline.audience.named(user.id)
            occurrence = rules.current_occurrence(deadline, now) if unit is not None else None
            answered = (
                occurrence is not None
                and unit is not None
                and (repo.submission(deadline.id, occurrence, unit) is not None)
            )
            rows.append(BoardRow(deadline, unit is not None, occurrence, answered))
    if not rows:
        await reply(update, context, lambda: _("No deadlines are set up."))
        return
    board = Board(rows, subscribed=partner is not None or named, now=now)
    chat = update.effective_chat
    private = chat is not None and chat.type == chat.PRIVATE
    # The board in the Mini App: private chats only (Telegram refuses web_app buttons in groups).
    markup = with_open_row(services, None, "deadlines") if private else None
    await answer_lines(update, context, lambda: board_lines(board), markup)


async def submitted_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    deadline = await _find_deadline(update, context, "/submitted ID")
    if deadline is None:
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        unit = unit_for(deadline, user.id, repo.partner(user.id))
        occurrence = rules.current_occurrence(deadline, now)
        done: str | None = None
        names: dict[int, str | None] = {}
        if unit is not None and occurrence is not None:
            # Stored here; the answer is rendered again below in the chat's language(s).
            _answer, done = answer_occurrence(
                services, repo, deadline, unit, user.id, occurrence, "submitted", now
            )
            user_row = repo.user(user.id)
            names = {user.id: user_row.display_name if user_row is not None else None}

    submitted = Submitted(deadline, unit, occurrence, recorded=done is not None, names=names)
    await reply(update, context, lambda: submitted_reply(submitted))


async def missing_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    deadline = await _find_deadline(update, context, "/missing ID")
    if deadline is None:
        return
    with context.services.db.transaction() as session:
        report = missing_report(context.services, DeadlineRepository(session), deadline)
    await answer_lines(update, context, report.lines)


def _introduced(services: Services, user_id: int) -> tuple[int | None, int | None]:
    """The cluster's and the organisation's places in the configured lists, as the person's
    own introduction (in any of the groups) names them; None where it names no listed one."""
    settings = services.settings
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intros = [repo.introduction(group.chat_id, user_id) for group in settings.groups]
    cluster = next((i.cluster for i in intros if i is not None and i.cluster), None)
    organisation = next((i.organisation for i in intros if i is not None and i.organisation), None)
    return (
        listed_index(cluster, settings.clusters),
        listed_index(organisation, settings.organisations),
    )


async def subscribe_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or update.effective_user is None:
        return
    settings = context.services.settings
    cluster, _organisation = _introduced(context.services, update.effective_user.id)
    text, buttons = cluster_question(Choice(list(settings.clusters), cluster))
    await message.reply_text(text, reply_markup=buttons)


async def on_subscribe_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None or query.message is None:
        return
    settings = context.services.settings
    parts = (query.data or "").split(":")
    try:
        numbers = [int(p) for p in parts[2:]]
    except ValueError:
        numbers = []
    valid = (
        len(parts) >= 3
        and parts[1] in ("c", "o")
        and len(numbers) == (1 if parts[1] == "c" else 2)
        and -1 <= numbers[0] < len(settings.clusters)
        and (parts[1] == "c" or -1 <= numbers[1] < len(settings.organisations))
    )
    if not valid or query.message.chat.id != query.from_user.id:
        await query.answer(_("This button is not valid any more."))
        return
    cluster_index = numbers[0]
    if parts[1] == "c":
        _cluster, chosen = _introduced(context.services, query.from_user.id)
        text, buttons = organisation_question(
            Choice(list(settings.organisations), chosen), cluster_index
        )
        await query.answer()
        await query.edit_message_text(text, reply_markup=buttons)
        return
    cluster = settings.clusters[cluster_index] if cluster_index >= 0 else None
    organisation = settings.organisations[numbers[1]] if numbers[1] >= 0 else None
    if cluster is None and organisation is None:
        await query.answer()
        await query.edit_message_text(
            _(
                "You chose neither a cluster nor an organisation, so nothing changed. "
                "Send /subscribe to try again."
            )
        )
        return
    services = context.services
    now = now_of(services)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.set_partner(query.from_user.id, cluster, organisation, now)
        mine = [
            d
            for d in repo.definitions()
            if d.audience.includes(cluster, organisation, query.from_user.id)
        ]
    subscribed = Subscribed(cluster, organisation, mine, now)
    await query.answer(_("Saved."))
    await query.edit_message_text(subscribed_text(subscribed))


async def unsubscribe_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    with context.services.db.transaction() as session:
        removed = DeadlineRepository(session).remove_partner(user.id)
    await message.reply_text(
        _("You will get no more deadline reminders.") if removed else _("You were not subscribed.")
    )


async def assign_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    settings = context.services.settings
    args = context.args or []
    usage = _(
        "Usage: /assign @username|user-id CLUSTER-or-ORGANISATION, e.g. /assign @olena WASH. "
        "The person must have written in the group or to me before."
    )
    if len(args) < 2:
        await message.reply_text(esc(usage))
        return
    who, name = args[0], " ".join(args[1:]).strip()
    cluster = next((c for c in settings.clusters if c.lower() == name.lower()), None)
    organisation = next((o for o in settings.organisations if o.lower() == name.lower()), None)
    if cluster is None and organisation is None:
        await message.reply_text(
            _(
                "{name} is neither a configured cluster nor an organisation. Clusters: "
                "{clusters}. Organisations: {organisations}.",
                name=esc(name[:60]),
                clusters=esc(", ".join(settings.clusters)),
                organisations=esc(", ".join(settings.organisations)),
            )
        )
        return
    now = now_of(context.services)
    with context.services.db.transaction() as session:
        roster = RosterRepository(session)
        user = roster.user(int(who)) if who.isdigit() else roster.user_by_username(who)
        if user is None:
            reply = _("I don't know {who}. {usage}", who=esc(who[:40]), usage=esc(usage))
        else:
            repo = DeadlineRepository(session)
            current = repo.partner(user.id)
            new_cluster = cluster or (current.cluster if current else None)
            new_org = organisation or (current.organisation if current else None)
            repo.set_partner(
                user.id,
                new_cluster,
                new_org,
                now,
                assigned_by=update.effective_user.id if update.effective_user else None,
            )
            answering = list_text([esc(x) for x in (new_cluster, new_org) if x])
            who_now = mention(user.id, user.display_name)
            reply = (
                _("{name} is now a partner for {units}.", name=who_now, units=answering)
                if user.reachable
                else _(
                    "{name} is now a partner for {units}. They have not started me, so I will "
                    "mention them in the group until they do.",
                    name=who_now,
                    units=answering,
                )
            )
    await message.reply_text(reply)


# Every 30 s: reminders are at most that late, and a run with nothing due is two small queries.
SWEEPS = [Sweep("deadline-dispatch", timedelta(seconds=30), dispatch, next_reminder_at)]


def register(app: App) -> None:
    app.add_handler(CommandHandler("deadlines", deadlines_command), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler("subscribe", subscribe_command, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler("unsubscribe", unsubscribe_command, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
    app.add_handler(CommandHandler("submitted", submitted_command), group=Stage.FEATURES)
    calendar.register(app)  # /calendar and its subscription buttons
    app.add_handler(CommandHandler("missing", missing_command), group=Stage.FEATURES)
    app.add_handler(CommandHandler("assign", assign_command), group=Stage.FEATURES)
    app.add_handler(
        CallbackQueryHandler(on_reminder_button, pattern=rf"^{CB_REMINDER}:"), group=Stage.FEATURES
    )
    app.add_handler(
        CallbackQueryHandler(on_subscribe_button, pattern=rf"^{CB_SUBSCRIBE}:"),
        group=Stage.FEATURES,
    )
