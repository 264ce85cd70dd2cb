"""One error handler: log what failed and where, never what a person wrote; tell them nothing
internal.

The log line names the update by ids only (update, chat, user), its kind and the handler that
failed. The traceback keeps file, line, function and source line of every frame, but exception
messages only where they are the code's own words (a programming error, a Telegram refusal):
a database error can quote the values it refused, a ValueError the text it could not parse.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from telegram import Chat, Update
from telegram.error import TelegramError

from i18n import N_, _
from runtime import presses
from runtime.context import App, BotContext
from storage.db import database_problem

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on my side. Please try again in a moment.")

HANDLERS_DIR = Path(__file__).resolve().parent
# Modules whose frames wrap every handler: the failing handler is the next frame in.
WRAPPERS = {"common.py", "errors.py"}
# Exceptions whose messages describe the code, not the data it was handling.
CODE_SHAPED: tuple[type[BaseException], ...] = (
    AttributeError,
    TypeError,
    NameError,
    ImportError,
    NotImplementedError,
    TelegramError,
)


def update_summary(update: object) -> str:
    """``update 5 (message) chat -100… user 42``: ids and the kind, nothing typed."""
    if not isinstance(update, Update):
        return f"a non-update event ({type(update).__name__})"
    kind = next(
        (
            name
            for name in Update.ALL_TYPES
            if name != "update_id" and getattr(update, name, None) is not None
        ),
        "unknown",
    )
    chat, user = update.effective_chat, update.effective_user
    return (
        f"update {update.update_id} ({kind}) chat {chat.id if chat else '-'} "
        f"user {user.id if user else '-'}"
    )


def failing_handler(error: BaseException | None) -> str:
    """``handlers.contacts.profile_done``: the outermost feature frame of the traceback."""
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    for frame in frames:
        path = Path(frame.filename)
        if (
            path.is_relative_to(HANDLERS_DIR)
            and path.relative_to(HANDLERS_DIR).as_posix() not in WRAPPERS
        ):
            module = ".".join(path.relative_to(HANDLERS_DIR).with_suffix("").parts)
            return f"handlers.{module}.{frame.name}"  # feature packages too
    return "unknown handler"


def safe_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and its causes with data-bearing messages left out."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(traceback.extract_tb(current.__traceback__)))
        name = type(current).__qualname__
        if isinstance(current, CODE_SHAPED):
            headline = f"{name}: {current}"
        else:
            headline = f"{name} (message not logged: it may quote personal data)"
        parts.append(f"Traceback (most recent call last):\n{frames}{headline}")
        current = current.__cause__ or current.__context__
    return "\n\nwhile handling or caused by:\n".join(reversed(parts))


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    presses.mark_failed()  # a late press is then not reported as recorded
    problem = database_problem(error)
    if problem:  # one clear line an operator can act on; the traceback follows below
        log.critical("%s; nothing of this update was saved", problem)
    log.error(
        "error while handling %s in %s\n%s",
        update_summary(update),
        failing_handler(error),
        safe_traceback(error) if error is not None else "(no exception)",
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
