"""One error handler: log everything with the update, tell the user nothing internal."""

from __future__ import annotations

import json
import logging

from telegram import Chat, Update
from telegram.error import TelegramError

from i18n import N_, _
from runtime.context import App, BotContext
from storage.db import database_problem

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a moment.")


async def on_error(update: object, context: BotContext) -> None:
    problem = database_problem(context.error)
    if problem:  # one clear line an operator can act on; the traceback follows below
        log.critical("%s; nothing of this update was saved", problem)
    payload = update.to_dict() if isinstance(update, Update) else repr(update)
    log.error(
        "error while handling an update: %s",
        json.dumps(payload, ensure_ascii=False, default=str)[:4000],
        exc_info=context.error,
    )
    if not isinstance(update, Update):
        return
    chat = update.effective_chat
    # Only apologise in private: a group should not see the bot's troubles.
    if chat is not None and chat.type == Chat.PRIVATE:
        try:
            await context.bot.send_message(chat.id, _(APOLOGY))
        except TelegramError:
            log.warning("could not send the apology to %s", chat.id)


def register(app: App) -> None:
    app.add_error_handler(on_error)
