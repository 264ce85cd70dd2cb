"""/start, /help, and a pointer to /help for commands the bot does not know."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Chat, Update
from telegram.ext import CommandHandler, MessageHandler, filters

from handlers.common import reply, role, scope_of, where
from handlers.render import esc
from i18n import _
from moderation.permissions import CommandSpec, Role, Where, commands_for
from runtime.context import App, BotContext

COMMANDS = [
    CommandSpec("start", "What this bot does", where=Where.PRIVATE),
    CommandSpec("help", "The commands you can use"),
]

# Features register deep-link handlers: t.me/<bot>?start=<prefix>_<argument>.
DeepLinkHandler = Callable[[Update, BotContext, str], Awaitable[None]]
DEEP_LINKS_KEY = "deep_links"


def add_deep_link(app: App, prefix: str, handler: DeepLinkHandler) -> None:
    app.bot_data.setdefault(DEEP_LINKS_KEY, {})[prefix] = handler


def help_text(specs: list[CommandSpec], user_role: Role, chat_where: Where) -> str:
    usable = commands_for(user_role, specs, chat_where)
    lines = [_("<b>Commands you can use here</b>")]
    for spec in usable:
        usage = f" {esc(_(spec.usage))}" if spec.usage else ""
        lines.append(
            _(
                "{command} — {description}",
                command=f"/{spec.name}{usage}",
                description=esc(_(spec.description)),
            )
        )
    if chat_where is Where.GROUP:
        lines.append(_("Write to me privately for the commands that work there."))
    if user_role is Role.MODERATOR:
        lines.append(_("You are a moderator, so moderator commands are included."))
    return "\n".join(lines)


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
    intro = _(
        "Hello {name}! I help run the <b>information management community group</b>: I know "
        "who sponsored whom, make sure newcomers are introduced, and keep the member list up "
        "to date. Send /language to choose the language I write to you in.",
        name=esc(user.first_name),
    )
    help_part = help_text(services.commands, role(services, user.id), Where.PRIVATE)
    await message.reply_text(f"{intro}\n\n{help_part}")


async def help_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    user_role = role(services, user.id, scope_of(update))
    chat_where = where(update.effective_chat)
    await reply(update, context, lambda: help_text(services.commands, user_role, chat_where))


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
    app.add_handler(CommandHandler("start", start, filters=filters.ChatType.PRIVATE))
    app.add_handler(CommandHandler("help", help_command))


def register_fallback(app: App) -> None:
    """Registered after every feature, so it only sees commands nobody handled."""
    app.add_handler(CommandHandler("cancel", nothing_to_cancel, filters=filters.ChatType.PRIVATE))
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.TEXT, private_fallback))
