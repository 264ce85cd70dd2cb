"""Which language the bot speaks: chosen once per update, and /language to choose your own.

Before any other handler (``Stage.LANGUAGE``, ahead of the roster's ``Stage.USERS``) the
current language is set for the chat the update happened in: a configured group speaks its
first configured language (a second one is added side by side where the bot posts into the
group, see ``handlers.common.in_group``); a private chat speaks the person's language — their
/language choice, else Telegram's ``language_code`` when the bot has a catalog for it, else
the group default.
"""

from __future__ import annotations

import logging

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, TypeHandler

from handlers.common import personal_language, reply, role
from handlers.order import Stage
from i18n import LANGUAGES, NATIVE_NAMES, _, current_language, set_language, supported, use_locale
from moderation.permissions import CommandSpec, Role, Where, commands_for
from runtime.context import App, BotContext, Services
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

CB = "lang"

COMMANDS = [
    CommandSpec("language", "Choose the language I write to you in", where=Where.PRIVATE),
]


async def choose_for_update(update: Update, context: BotContext) -> None:
    """Set the current language for everything this update makes the bot say."""
    services = context.services
    chat, user = update.effective_chat, update.effective_user
    group = services.settings.group(chat.id) if chat is not None else None
    if group is not None:
        # Everything in a group, buttons pressed there included, speaks the group's language;
        # where the bot posts into the group, features add its second language.
        set_language(group.languages[0])
    elif user is not None:
        set_language(personal_language(services, user.id, user.language_code))
    else:
        set_language(None)


def command_menu(services: Services, user_role: Role, where: Where) -> list[BotCommand]:
    """The command menu in the current language."""
    return [
        BotCommand(spec.name, _(spec.description)[:256])
        for spec in commands_for(user_role, services.commands, where)
    ]


async def set_personal_menu(context: BotContext, user_id: int) -> None:
    """A person's private command menu in their chosen language (and for their role)."""
    services = context.services
    with use_locale(personal_language(services, user_id)):
        commands = command_menu(services, role(services, user_id), Where.PRIVATE)
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(user_id))
    except TelegramError as exc:
        log.info("no private command menu for %s: %s", user_id, exc)


def _buttons() -> InlineKeyboardMarkup:
    chosen = current_language()
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    ("✓ " if code == chosen else "") + NATIVE_NAMES[code],
                    callback_data=f"{CB}:{code}",
                )
            ]
            for code in LANGUAGES
        ]
    )


async def language_command(update: Update, context: BotContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    if chat.type != Chat.PRIVATE:
        if context.services.settings.group(chat.id) is not None:
            await reply(
                update,
                context,
                lambda: _(
                    "The group's languages are set by the coordination office. "
                    "Send me /language privately to choose the language I write to you in."
                ),
            )
        return
    user = update.effective_user
    asked = " ".join(context.args or [])
    if asked and user is not None:
        language = language_named(asked)
        if language is not None:
            if not store_choice(context, user.id, language):
                await message.reply_text(_("Please send /start first."))
                return
            await message.reply_text(chosen_text(language))
            await set_personal_menu(context, user.id)
            return
        await message.reply_text(
            _(
                "I do not write in that language. I can write in: {languages}. "
                "Choose one below, or send e.g. /language uk.",
                languages=", ".join(f"{NATIVE_NAMES[code]} ({code})" for code in LANGUAGES),
            ),
            reply_markup=_buttons(),
        )
        return
    await message.reply_text(
        _(
            "Which language should I write to you in? Now: {language}.",
            language=NATIVE_NAMES[current_language()],
        ),
        reply_markup=_buttons(),
    )


# People often type the language's English name.
ENGLISH_NAMES = {"english": "en", "ukrainian": "uk", "french": "fr", "arabic": "ar"}


def language_named(text: str) -> str | None:
    """A supported language from a code ("ar", "uk-UA") or its own name ("Français")."""
    wanted = text.strip().casefold()
    by_name = {name.casefold(): code for code, name in NATIVE_NAMES.items()}
    by_name.update(ENGLISH_NAMES)
    return by_name.get(wanted) or supported(wanted if len(wanted) <= 10 else None)


def store_choice(context: BotContext, user_id: int, language: str) -> bool:
    """Remember the choice and use it for the rest of this update; False if never started."""
    with context.services.db.transaction() as session:
        stored = RosterRepository(session).set_language(user_id, language)
    if stored:
        set_language(language)
    return stored


def chosen_text(language: str) -> str:
    return _(
        "From now on I write to you in {language}. Send /language to change it.",
        language=NATIVE_NAMES[language],
    )


async def on_choice(update: Update, context: BotContext) -> None:
    query, user, chat = update.callback_query, update.effective_user, update.effective_chat
    if query is None or user is None or query.data is None:
        return
    language = supported(query.data.removeprefix(f"{CB}:"))
    if language is None or chat is None or chat.type != Chat.PRIVATE:
        await query.answer(_("This button is not valid."), show_alert=True)
        return
    if not store_choice(context, user.id, language):
        await query.answer(_("Please send /start first."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(chosen_text(language))
    await set_personal_menu(context, user.id)


def register(app: App) -> None:
    app.add_handler(TypeHandler(Update, choose_for_update), group=Stage.LANGUAGE)
    app.add_handler(CommandHandler("language", language_command), group=Stage.FEATURES)
    app.add_handler(CallbackQueryHandler(on_choice, pattern=rf"^{CB}:"), group=Stage.FEATURES)
