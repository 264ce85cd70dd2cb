"""Small helpers every handler module uses: who is speaking, their role, safe private sends."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram import User as TgUser
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext.filters import BaseFilter

from config.schema import GroupConfig
from delivery.outcome import Outcome, outcome_of
from handlers.render import esc
from handlers.topics import answer_in_topic
from i18n import (
    DEFAULT_LANGUAGE,
    N_,
    _,
    each_label,
    each_language,
    pick_language,
    use_locale,
)
from moderation.permissions import CommandSpec, Role, Where, admin_scope, is_fresh, role_of
from moderation.roster import UserInfo
from runtime.context import App, BotContext, Services
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

# A message to someone else: a callable renders it in the recipient's own language.
Text = str | Callable[[], str]
Markup = InlineKeyboardMarkup | Callable[[], InlineKeyboardMarkup | None] | None

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


def scope_of(update: Update) -> int | None:
    """Where an action counts: the group it was sent in, or None for a private chat."""
    chat = update.effective_chat
    return None if chat is None or chat.type == Chat.PRIVATE else chat.id


def _known_admins(services: Services, chat_id: int) -> set[int]:
    """A group's admins as last read: the live list while fresh, else the roster's."""
    cached = services.admins.get(chat_id)
    if cached is not None and is_fresh(
        cached[0], services.clock.now(), services.settings.moderation.admin_cache
    ):
        return set(cached[1])
    with services.db.transaction() as session:
        return RosterRepository(session).admin_ids(chat_id)


def role(services: Services, user_id: int, group_id: int | None = None) -> Role:
    """The role as last known, without asking Telegram: for menus, /help and fan-out only.

    Permission checks use ``current_role``, which confirms an admin live. ``group_id`` scopes
    admins as ``moderation.permissions.admin_scope`` says (None: operation-wide).
    """
    settings = services.settings
    if user_id in settings.moderators:
        return Role.MODERATOR
    admin_ids: set[int] = set()
    if settings.group_admins_are_moderators:
        for chat_id in admin_scope(group_id, [g.chat_id for g in settings.groups]):
            admin_ids |= _known_admins(services, chat_id)
    return role_of(user_id, settings.moderators, admin_ids, settings.group_admins_are_moderators)


# --------------------------------------------------------------------------- languages
def group_languages(services: Services, chat_id: int) -> list[str]:
    """The language(s) the bot writes in a group: its configured list (English elsewhere)."""
    group = services.settings.group(chat_id)
    return list(group.languages) if group is not None else [DEFAULT_LANGUAGE]


def default_language(services: Services, user_id: int | None = None) -> str:
    """The group default: the first language of the person's group (else the first group)."""
    groups = services.settings.groups
    if user_id is not None and len(groups) > 1:
        with services.db.transaction() as session:
            roster = RosterRepository(session)
            for group in groups:
                membership = roster.membership(group.chat_id, user_id)
                if membership is not None and membership.present:
                    return group.languages[0]
    return groups[0].languages[0] if groups else DEFAULT_LANGUAGE


def personal_language(services: Services, user_id: int, telegram_code: str | None = None) -> str:
    """What a person reads privately: their /language choice, else Telegram's, else the group's."""
    with services.db.transaction() as session:
        user = RosterRepository(session).user(user_id)
        chosen = user.language if user is not None else None
        stored_code = user.language_code if user is not None else None
    return pick_language(chosen, telegram_code or stored_code, default_language(services, user_id))


def in_group(services: Services, chat_id: int, render: Callable[[], str]) -> str:
    """A message for a chat: in a configured group its language(s), two side by side;
    anywhere else (a private chat) the current language."""
    if services.settings.group(chat_id) is None:
        return render()
    return each_language(group_languages(services, chat_id), render)


def group_label(services: Services, chat_id: int, render: Callable[[], str]) -> str:
    """A button label for a chat: "Remove / Видалити" in a bilingual group."""
    if services.settings.group(chat_id) is None:
        return render()
    return each_label(group_languages(services, chat_id), render)


async def reply(
    update: Update, context: BotContext, render: Callable[[], str], **kwargs: Any
) -> Message | None:
    """Answer where the update came from: a configured group in its language(s), a private
    chat in the current (the person's) language."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return None
    return await message.reply_text(in_group(context.services, chat.id, render), **kwargs)


def _render(services: Services, user_id: int, text: Text, markup: Markup) -> tuple[str, Any]:
    if not callable(text) and not callable(markup):
        return text, markup
    with use_locale(personal_language(services, user_id)):
        return (
            text() if callable(text) else text,
            markup() if callable(markup) else markup,
        )


async def refresh_admins(context: BotContext) -> None:
    """Read each group's admins from Telegram (getChatAdministrators) unless read recently."""
    services = context.services
    settings = services.settings
    if not settings.group_admins_are_moderators:
        return
    now = services.clock.now()
    for group in settings.groups:
        cached = services.admins.get(group.chat_id)
        if cached is not None and is_fresh(cached[0], now, settings.moderation.admin_cache):
            continue
        try:
            admins = await context.bot.get_chat_administrators(group.chat_id)
        except TelegramError as exc:  # the roster's list stands in until Telegram answers
            log.warning("cannot read the admins of %s: %s", group.chat_id, exc)
            continue
        services.admins[group.chat_id] = (
            now,
            frozenset(a.user.id for a in admins if a.user.id != context.bot.id),
        )


async def _admin_now(context: BotContext, chat_id: int, user_id: int) -> bool:
    """Whether Telegram says, now, that the user administers the group (getChatMember).

    The cached list is corrected on the way, so menus and fan-out follow a demotion too.
    If Telegram cannot answer, the roster (kept by chat_member updates) decides.
    """
    services = context.services
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        log.warning("cannot check whether %s administers %s: %s", user_id, chat_id, exc)
        with services.db.transaction() as session:
            return user_id in RosterRepository(session).admin_ids(chat_id)
    is_admin = member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)
    cached = services.admins.get(chat_id)
    if cached is not None and (user_id in cached[1]) != is_admin:
        changed = cached[1] | {user_id} if is_admin else cached[1] - {user_id}
        services.admins[chat_id] = (cached[0], frozenset(changed))
    return is_admin


async def current_role(context: BotContext, user_id: int, group_id: int | None = None) -> Role:
    """The one permission check behind every privileged path.

    Configured moderators everywhere; a group's admins (if admins count) in that group, or in
    private for operation-wide commands (``admin_scope``). Someone the last-read lists name as
    an admin is confirmed with Telegram at every call, so a demotion counts at the next action;
    a promotion counts once the lists see it (a chat_member update, or the next read of the
    admin list after ``moderation.admin_cache``).
    """
    services = context.services
    settings = services.settings
    if user_id in settings.moderators:
        return Role.MODERATOR
    if not settings.group_admins_are_moderators:
        return Role.MEMBER
    await refresh_admins(context)
    for chat_id in admin_scope(group_id, [g.chat_id for g in settings.groups]):
        if user_id in _known_admins(services, chat_id) and await _admin_now(
            context, chat_id, user_id
        ):
            return Role.MODERATOR
    return Role.MEMBER


async def role_here(update: Update, context: BotContext) -> Role:
    """``current_role`` of the update's sender, scoped to the chat the update comes from."""
    user = update.effective_user
    if user is None:
        return Role.MEMBER
    return await current_role(context, user.id, scope_of(update))


async def may_moderate(update: Update, context: BotContext) -> bool:
    return await role_here(update, context) is Role.MODERATOR


# --------------------------------------------------------------------------- private messages
async def send_private(
    context: BotContext, user_id: int, text: Text, reply_markup: Markup = None, **kwargs: Any
) -> bool:
    """Write privately; a user who never started (or blocked) the bot is recorded, not retried.

    ``text`` (and ``reply_markup``) may be callables: they are then rendered in the
    recipient's language, which is how to write to anyone but the person being answered.
    """
    if user_id < 0:
        return False  # a channel (posts sent as one are moderated too): nobody to write to
    rendered, markup = _render(context.services, user_id, text, reply_markup)
    try:
        await context.bot.send_message(
            chat_id=user_id, text=rendered, reply_markup=markup, **kwargs
        )
    except TelegramError as exc:
        if outcome_of(exc) is not Outcome.UNREACHABLE:
            raise
        if isinstance(exc, Forbidden):
            with context.services.db.transaction() as session:
                RosterRepository(session).set_reachable(user_id, False)
            log.info("user %s cannot be written to privately", user_id)
        else:
            log.info("user %s has never started the bot", user_id)
        return False
    return True


async def tell_moderators(context: BotContext, text: Text, reply_markup: Markup = None) -> int:
    """Send a note to every configured moderator who can be reached; returns how many got it.

    Pass callables to have each moderator read it in their own language.
    """
    delivered = 0
    for moderator_id in context.services.settings.moderators:
        if await send_private(context, moderator_id, text, reply_markup=reply_markup):
            delivered += 1
    if not delivered:  # not the note itself: it names members and quotes what they wrote
        log.warning("no moderator could be reached privately; a note was not delivered")
    return delivered


# The bot's admin rights, in the order the admin check lists them (handlers.roster).
RIGHTS_ORDER = ("can_restrict_members", "can_invite_users", "can_delete_messages")


async def report_missing_right(
    context: BotContext,
    group: GroupConfig,
    right: str,
    error: TelegramError,
    key: str | None = None,
) -> bool:
    """Tell the moderators which right the bot lacks, instead of failing silently.

    ``right`` is a phrase marked with ``N_()`` ("remove members"); each moderator reads it in
    their language. With ``key`` (e.g. ``can_delete_messages``) they are told once per change:
    again only after the admin check has seen the right given back. True when they were told.
    """
    log.warning("group %s: cannot %s: %s", group.chat_id, right, error)
    if key is not None:
        services = context.services
        with services.db.transaction() as session:
            new = ModerationRepository(session).note_missing_right(
                group.chat_id, group.title, key, services.clock.now(), RIGHTS_ORDER
            )
        if not new:
            return False
    await tell_moderators(
        context,
        lambda: _(
            "In <b>{group}</b> I could not {right}: {error}. Please check my admin rights.",
            group=esc(group.title),
            right=esc(_(right)),
            error=esc(error.message),
        ),
    )
    return True


Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]

NOT_A_MODERATOR = N_("Sorry, only the group's moderators can use this command.")


ButtonScope = Callable[[Services, str], int | None]
"""Which group a button's data concerns (None: not known, the chat it was pressed in decides)."""


def moderators_only(
    handler: Handler, scope: ButtonScope | None = None, refusal: str = NOT_A_MODERATOR
) -> Handler:
    """The one permission guard for moderator commands, buttons and uploads: refuse politely
    (``refusal``, a message id marked with ``N_``), change nothing. Installed where the role is
    declared (``guard_commands``, ``button``, ``moderator_upload``), not applied by hand.

    With ``scope`` (buttons about one group's people), the presser must moderate *that* group
    wherever the button is pressed: in private an admin of group B is not a moderator of group A.
    """

    @functools.wraps(handler)
    async def guarded(update: Update, context: BotContext) -> None:
        query = update.callback_query
        group_id = None
        if scope is not None and query is not None and query.data is not None:
            group_id = scope(context.services, query.data)
        if group_id is None:
            allowed = await may_moderate(update, context)
        else:
            user = update.effective_user
            allowed = user is not None and (
                await current_role(context, user.id, group_id) is Role.MODERATOR
            )
        if not allowed:
            if query is not None:
                await query.answer(_(refusal), show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(_(refusal))
            return
        await handler(update, context)

    guarded.checks_role = Role.MODERATOR  # type: ignore[attr-defined]  # (tests count the checks)
    return guarded


def button(
    handler: Handler,
    pattern: str,
    role: Role = Role.MEMBER,
    scope: ButtonScope | None = None,
    refusal: str = NOT_A_MODERATOR,
) -> CallbackQueryHandler[Any, Any]:
    """A button's handler, with who may press it declared next to its pattern (and, for a
    moderator button about one group, which group: ``scope`` reads it from the data; and what a
    refused presser is told). The handler itself carries no check of the role."""
    guarded = moderators_only(handler, scope, refusal) if role is Role.MODERATOR else handler
    return CallbackQueryHandler(guarded, pattern=pattern)


def moderator_upload(filters: BaseFilter, handler: Handler) -> MessageHandler[Any, Any]:
    """A message handler only moderators may use (a file they send), declared at registration
    like a moderator button; anyone else is told ``NOT_A_MODERATOR``."""
    return MessageHandler(filters, moderators_only(handler))


def guard_commands(app: App, specs: Sequence[CommandSpec]) -> None:
    """Enforce each command's declared role (its ``CommandSpec``, the one place it is stated):
    every handler of a moderator command gets the ``moderators_only`` check. A handler serving
    commands of different roles is refused."""
    moderator = {spec.name for spec in specs if spec.role is Role.MODERATOR}

    def walk(handlers: Sequence[BaseHandler[Any, Any, Any]]) -> None:
        for handler in handlers:
            if isinstance(handler, CommandHandler) and handler.commands & moderator:
                if not handler.commands <= moderator:
                    raise ValueError(f"a handler serves commands of two roles: {handler.commands}")
                handler.callback = moderators_only(handler.callback)

    for group in app.handlers.values():
        walk(group)


def is_configured_group(services: Services, update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and services.settings.group(chat.id) is not None


async def answer_step(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """A guided form's next message in the chat of the update (a pressed button is answered)."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    await answer_in_topic(update, text, reply_markup=markup)
