"""Small helpers every handler module uses: who is speaking, their role, safe private sends."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Chat, Update
from telegram import User as TgUser
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.context import BotContext, Services
from config.schema import GroupConfig
from handlers.render import esc
from moderation.permissions import Role, Where, role_of
from moderation.roster import UserInfo
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


def user_info(user: TgUser) -> UserInfo:
    return UserInfo(
        id=user.id,
        first_name=user.first_name or "",
        last_name=user.last_name,
        username=user.username,
        language_code=user.language_code,
        is_bot=user.is_bot,
    )


def where(chat: Chat | None) -> Where:
    return Where.PRIVATE if chat is not None and chat.type == Chat.PRIVATE else Where.GROUP


def role(services: Services, user_id: int) -> Role:
    """Configured moderators, plus (if enabled) admins of any configured group."""
    settings = services.settings
    if user_id in settings.moderators:
        return Role.MODERATOR
    admin_ids: set[int] = set()
    if settings.group_admins_are_moderators:
        with services.db.transaction() as session:
            roster = RosterRepository(session)
            for group in settings.groups:
                admin_ids |= roster.admin_ids(group.chat_id)
    return role_of(user_id, settings.moderators, admin_ids, settings.group_admins_are_moderators)


async def send_private(context: BotContext, user_id: int, text: str, **kwargs: object) -> bool:
    """Write privately; a user who never started (or blocked) the bot is recorded, not retried."""
    try:
        await context.bot.send_message(chat_id=user_id, text=text, **kwargs)  # type: ignore[arg-type]
    except Forbidden:
        with context.services.db.transaction() as session:
            RosterRepository(session).set_reachable(user_id, False)
        log.info("user %s cannot be written to privately", user_id)
        return False
    except BadRequest as exc:
        if "chat not found" not in str(exc).lower():
            raise
        log.info("user %s has never started the bot", user_id)
        return False
    return True


async def tell_moderators(context: BotContext, text: str) -> int:
    """Send a note to every configured moderator who can be reached; returns how many got it."""
    delivered = 0
    for moderator_id in context.services.settings.moderators:
        if await send_private(context, moderator_id, text):
            delivered += 1
    if not delivered:
        log.warning("no moderator could be reached privately: %s", text)
    return delivered


async def report_missing_right(
    context: BotContext, group: GroupConfig, right: str, error: TelegramError
) -> None:
    """Tell the moderators which right the bot lacks, instead of failing silently."""
    log.warning("group %s: cannot %s: %s", group.chat_id, right, error)
    await tell_moderators(
        context,
        f"In <b>{esc(group.title)}</b> I could not {esc(right)}: "
        f"{esc(error.message)}. Please check my admin rights.",
    )


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]

NOT_A_MODERATOR = "Sorry, only the group's moderators can use this command."


def moderators_only(handler: Handler) -> Handler:
    """The one permission guard for admin commands: refuse politely, change nothing."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        user = update.effective_user
        if user is None or role(context.services, user.id) is not Role.MODERATOR:
            if update.callback_query is not None:
                await update.callback_query.answer(NOT_A_MODERATOR, show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(NOT_A_MODERATOR)
            return
        await handler(update, context)

    return guarded


def is_configured_group(services: Services, update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and services.settings.group(chat.id) is not None
