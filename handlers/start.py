"""/start, /help, and a pointer to /help for commands the bot does not know (their texts are in
``handlers.help_cards``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Chat, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers.common import reply, role, scope_of, where
from handlers.help_cards import (
    HELP_BUTTON,
    help_text,
    start_text,
    topic_buttons,
    topic_text,
    unknown_topic_text,
)
from handlers.order import Stage
from handlers.render import esc
from handlers.webapp import with_open_row
from i18n import _
from moderation.help import HelpPlan, parse_topic, plan_help
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services
from storage.roster import RosterRepository

COMMANDS = [
    CommandSpec("start", "What this bot does", where=Where.PRIVATE),
    CommandSpec("help", "The commands you can use"),
]

# Features register deep-link handlers: t.me/<bot>?start=<prefix>_<argument>.
DeepLinkHandler = Callable[[Update, BotContext, str], Awaitable[None]]
DEEP_LINKS_KEY = "deep_links"


def add_deep_link(app: App, prefix: str, handler: DeepLinkHandler) -> None:
    app.bot_data.setdefault(DEEP_LINKS_KEY, {})[prefix] = handler


def is_member(services: Services, user_id: int) -> bool:
    """In one of the configured groups now (the roster's view)."""
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        for group in services.settings.groups:
            membership = roster.membership(group.chat_id, user_id)
            if membership is not None and membership.present:
                return True
    return False


def help_plan(
    services: Services, user_id: int, chat_where: Where, group_id: int | None = None
) -> HelpPlan:
    user_role = role(services, user_id, group_id)
    member = user_role is Role.MODERATOR or is_member(services, user_id)
    return plan_help(services.commands, user_role, chat_where, member)


async def start(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    if context.args:
        payload = context.args[0]
        prefix, _sep, argument = payload.partition("_")
        handler = context.bot_data.get(DEEP_LINKS_KEY, {}).get(prefix)
        if handler is not None:
            await handler(update, context, argument)
            return
    services = context.services
    plan = help_plan(services, user.id, Where.PRIVATE)
    await message.reply_text(
        start_text(user.first_name, plan, role(services, user.id)),
        reply_markup=with_open_row(services, topic_buttons(plan, None)),
    )


async def help_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    scope = scope_of(update)
    user_role, chat_where = role(services, user.id, scope), where(update.effective_chat)
    plan = help_plan(services, user.id, chat_where, scope)
    asked = " ".join(context.args or [])
    topic = parse_topic(asked) if asked.strip() and not asked.startswith("@") else None
    if topic is not None and topic in plan.topics:
        markup = topic_buttons(plan, topic) if chat_where is Where.PRIVATE else None
        await reply(update, context, lambda: topic_text(plan, topic), reply_markup=markup)
    elif asked.strip() and not asked.startswith("@"):
        await reply(update, context, lambda: unknown_topic_text(plan))
    else:
        markup = topic_buttons(plan, None) if chat_where is Where.PRIVATE else None
        await reply(
            update, context, lambda: help_text(plan, user_role, chat_where), reply_markup=markup
        )


async def help_button(update: Update, context: BotContext) -> None:
    """A topic button under /help or /start: the message becomes that topic (or all topics)."""
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = context.services
    plan = help_plan(services, user.id, Where.PRIVATE)
    wanted = query.data.removeprefix(HELP_BUTTON)
    topic = None if wanted == "all" else parse_topic(wanted)
    if wanted != "all" and (topic is None or topic not in plan.topics):
        await query.answer(unknown_topic_text(plan))  # forged, or not this person's topic
        return
    await query.answer()
    if topic is None:
        text = help_text(plan, role(services, user.id), Where.PRIVATE)
    else:
        text = topic_text(plan, topic)
    try:
        await query.edit_message_text(text, reply_markup=topic_buttons(plan, topic))
    except BadRequest as exc:  # pressed twice: Telegram refuses an edit that changes nothing
        if "not modified" not in exc.message.lower():
            raise


async def unknown_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    command = message.text.split()[0]
    name, _at, addressee = command[1:].partition("@")
    if (
        message.chat.type != Chat.PRIVATE
        and addressee.lower() != (context.bot.username or "").lower()
    ):
        return  # in a group, a command may be meant for another bot: stay quiet
    await reply(
        update,
        context,
        lambda: _(
            "I don't know the command /{command}. Send /help to see what I can do.",
            command=esc(name[:32]),
        ),
    )


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    """/cancel when no guided form is open."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(_("There is nothing to cancel."))


async def private_fallback(update: Update, context: BotContext) -> None:
    """Plain text in private chat that no feature is waiting for."""
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _("I work with commands. Send /help to see what you can do.")
        )


def register(app: App) -> None:
    app.add_handler(
        CommandHandler("start", start, filters=filters.ChatType.PRIVATE), group=Stage.FEATURES
    )
    app.add_handler(CommandHandler("help", help_command), group=Stage.FEATURES)
    app.add_handler(
        CallbackQueryHandler(help_button, pattern=r"^help:[a-z]{1,20}$"), group=Stage.FEATURES
    )


def register_fallback(app: App) -> None:
    """Registered after every feature, so it only sees commands nobody handled."""
    app.add_handler(
        CommandHandler("cancel", nothing_to_cancel, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command), group=Stage.FEATURES)
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, private_fallback),
        group=Stage.FEATURES,
    )
