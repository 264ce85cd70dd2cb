"""The roster: every join, leave, removal, promotion and restriction the bot can see.

Telegram cannot list a group's members, so the bot keeps its own list from ``chat_member`` /
``my_chat_member`` updates, join/leave service messages, and anyone it sees speaking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Chat, ChatMember, ChatMemberAdministrator, ChatMemberUpdated, Update
from telegram.error import TelegramError
from telegram.ext import ChatMemberHandler, MessageHandler, TypeHandler, filters

from handlers.common import is_configured_group, tell_moderators, user_info
from handlers.order import Stage
from handlers.render import esc
from i18n import DEFAULT_LANGUAGE, N_, _, use_locale
from moderation.roster import MemberStatus, ObservedChange, status_from_telegram
from runtime.context import App, BotContext, Services
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

REQUIRED_RIGHTS = ("can_restrict_members", "can_invite_users", "can_delete_messages")
RIGHT_NAMES = {
    "can_restrict_members": N_("restrict members"),
    "can_invite_users": N_("invite users"),
    "can_delete_messages": N_("delete messages"),
}


def _status(member: ChatMember) -> MemberStatus:
    return status_from_telegram(member.status, getattr(member, "is_member", None))


def observed(update: ChatMemberUpdated) -> ObservedChange:
    link = update.invite_link
    return ObservedChange(
        user_id=update.new_chat_member.user.id,
        actor_id=update.from_user.id if update.from_user else None,
        old_status=_status(update.old_chat_member),
        new_status=_status(update.new_chat_member),
        invite_link_name=(link.name or link.invite_link[-12:]) if link else None,
        via_join_request=bool(update.via_join_request),
    )


def bot_rights(member: ChatMember) -> tuple[bool, list[str]]:
    """Whether the bot is an admin, and which of the rights it needs it lacks."""
    if member.status == ChatMember.OWNER:
        return True, []
    if isinstance(member, ChatMemberAdministrator):
        return True, [right for right in REQUIRED_RIGHTS if not getattr(member, right, False)]
    return False, list(REQUIRED_RIGHTS)


async def track_user(update: Update, context: BotContext) -> None:
    """Keep names and usernames fresh; learn members of a configured group who speak."""
    services = context.services
    services.last_update_at = services.clock.now()
    user, chat = update.effective_user, update.effective_chat
    if user is None:
        return
    now = services.clock.now()
    info = user_info(user)
    private = chat is not None and chat.type == Chat.PRIVATE
    group = services.settings.group(chat.id) if chat is not None else None
    seen = services.seen
    # The busy path: a member we know, unchanged, speaking in a group, written recently.
    if not private and seen.is_fresh(info, group.chat_id if group else None, now):
        seen.touch(user.id, now)
        return
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.upsert_user(info, now)
        if private and update.message is not None:
            roster.set_reachable(user.id, True)
        on_roster = False
        if group is not None and update.message is not None and not user.is_bot:
            roster.ensure_group(group.chat_id, group.title)
            if roster.membership(group.chat_id, user.id) is None:
                # Someone who was in the group before the bot: on the roster, origin unknown.
                roster.apply_change(
                    group.chat_id,
                    ObservedChange(user.id, None, None, MemberStatus.MEMBER),
                    now,
                    cause="seen in the group (was there before the bot)",
                )
            on_roster = True
    seen.remember(info, now, group.chat_id if on_roster and group else None)


async def on_chat_member(update: Update, context: BotContext) -> None:
    change = update.chat_member
    if change is None or not is_configured_group(context.services, update):
        return
    services = context.services
    group = services.settings.group(change.chat.id)
    assert group is not None
    now = services.clock.now()
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.ensure_group(group.chat_id, group.title)
        roster.upsert_user(user_info(change.new_chat_member.user), now)
        roster.apply_change(group.chat_id, observed(change), now)


async def on_service_message(update: Update, context: BotContext) -> None:
    """Join/leave service messages: the only signal when the bot is not an admin."""
    message = update.message
    if message is None or not is_configured_group(context.services, update):
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    assert group is not None
    actor = message.from_user.id if message.from_user else None
    now = services.clock.now()
    bot_id = context.bot.id
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.ensure_group(group.chat_id, group.title)
        for newcomer in message.new_chat_members or ():
            if newcomer.id == bot_id:
                continue
            roster.upsert_user(user_info(newcomer), now)
            current = roster.membership(group.chat_id, newcomer.id)
            if current is not None and current.present:
                continue  # the chat_member update already recorded it, with more detail
            roster.apply_change(
                group.chat_id,
                ObservedChange(newcomer.id, actor, MemberStatus.LEFT, MemberStatus.MEMBER),
                now,
            )
        gone = message.left_chat_member
        if gone is not None and gone.id != bot_id:
            roster.upsert_user(user_info(gone), now)
            current = roster.membership(group.chat_id, gone.id)
            if current is None or current.present:
                new = MemberStatus.LEFT if actor in (None, gone.id) else MemberStatus.REMOVED
                roster.apply_change(group.chat_id, ObservedChange(gone.id, actor, None, new), now)
    if group.delete_service_messages:
        # Only Telegram's join/leave line: the introduction card is the bot's own message.
        try:
            await context.bot.delete_message(group.chat_id, message.message_id)
        except TelegramError as exc:
            log.warning("group %s: join/leave message not deleted: %s", group.chat_id, exc)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """The bot's own status: blocked/unblocked in private, admin or not in groups."""
    change = update.my_chat_member
    if change is None:
        return
    services = context.services
    chat = change.chat
    if chat.type == Chat.PRIVATE:
        with services.db.transaction() as session:
            RosterRepository(session).set_reachable(
                chat.id, change.new_chat_member.status != ChatMember.BANNED
            )
        return
    group = services.settings.group(chat.id)
    if group is None:
        if change.new_chat_member.status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR):
            # Not the title: whoever added the bot chose it.
            log.warning("added to chat %s, which is not configured; leaving", chat.id)
            await context.bot.send_message(
                chat.id,
                _(
                    "I only work in the groups my configuration names, so I am leaving. "
                    "Ask the coordination office if you need me here."
                ),
            )
            await context.bot.leave_chat(chat.id)
        return
    await record_bot_status(context, group.chat_id, group.title, change.new_chat_member)


async def record_bot_status(
    context: BotContext, chat_id: int, title: str, member: ChatMember
) -> None:
    """Store the bot's status; warn the moderators when it cannot see or act on members."""
    services = context.services
    is_admin, missing = bot_rights(member)
    with services.db.transaction() as session:
        changed = RosterRepository(session).set_bot_status(
            chat_id, title, member.status, is_admin, ",".join(missing), services.clock.now()
        )
    if member.status in (ChatMember.LEFT, ChatMember.BANNED):

        def text() -> str:
            return _(
                "I am no longer in the group <b>{group}</b>; add me back as an admin.",
                group=esc(title),
            )

    elif not is_admin:

        def text() -> str:
            return _(
                "I am not an admin of <b>{group}</b>, so I cannot see who joins or leaves, "
                "hold newcomers or remove anyone. Please make me an admin with the rights to "
                "restrict members, invite users and delete messages.",
                group=esc(title),
            )

    elif missing:

        def text() -> str:
            return _(
                "In <b>{group}</b> I am an admin but lack: {rights}. "
                "Some of my work will fail until these rights are given.",
                group=esc(title),
                rights=esc(", ".join(_(RIGHT_NAMES.get(r, r)) for r in missing)),
            )

    else:
        return
    with use_locale(DEFAULT_LANGUAGE):
        log.warning("group %s: %s", chat_id, text())
    if changed:  # tell people once per change; the log repeats it at every check
        await tell_moderators(context, text)


def record_admins(
    services: Services, chat_id: int, title: str, admins: Sequence[ChatMember]
) -> None:
    """Bring the roster's admins in line with Telegram's list of administrators."""
    now = services.clock.now()
    listed = {admin.user.id for admin in admins}
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        roster.ensure_group(chat_id, title)
        for admin in admins:
            roster.upsert_user(user_info(admin.user), now)
            current = roster.membership(chat_id, admin.user.id)
            roster.apply_change(
                chat_id,
                ObservedChange(
                    admin.user.id, None, current.status if current else None, _status(admin)
                ),
                now,
                cause="listed as an admin by Telegram",
            )
        for former in roster.admin_ids(chat_id) - listed:
            roster.apply_change(
                chat_id,
                ObservedChange(former, None, MemberStatus.ADMIN, MemberStatus.MEMBER),
                now,
                cause="no longer listed as an admin by Telegram",
            )


def register(app: App) -> None:
    app.add_handler(TypeHandler(Update, track_user), group=Stage.USERS)
    app.add_handler(
        ChatMemberHandler(on_chat_member, ChatMemberHandler.CHAT_MEMBER),
        group=Stage.ROSTER_AND_WATCH,
    )
    app.add_handler(
        ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
        group=Stage.ROSTER_AND_WATCH,
    )
    app.add_handler(
        MessageHandler(
            filters.StatusUpdate.NEW_CHAT_MEMBERS | filters.StatusUpdate.LEFT_CHAT_MEMBER,
            on_service_message,
        ),
        group=Stage.ROSTER_AND_WATCH,
    )
