"""/mute /unmute /remove /ban /unban."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.error import BadRequest, Forbidden, TelegramError

from handlers.common import send_private
from handlers.moderation.actions import (
    ban_sender,
    held,
    mute,
    removal_outcome,
    restrict,
    tell_sponsor,
)
from handlers.moderation.common import (
    Outcome,
    Right,
    language_of,
    record,
    refused,
    when,
)
from handlers.moderation.logchat import note_action
from handlers.moderation.orders import (
    Order,
    announce,
    duration_of,
    live_status,
    prepare,
    reason_of,
    say_outcome,
)
from handlers.moderation.render import (
    Muted,
    muted_private,
    muted_public,
    removed_private,
    removed_public,
)
from handlers.removal import remove_member
from handlers.render import esc, mention
from i18n import _, use_locale
from moderation.audit_details import length_detail
from moderation.channels import is_channel_id
from moderation.conduct import SponsorNews
from moderation.roster import MemberStatus
from runtime.context import BotContext
from storage.moderation import ModerationRepository


# --------------------------------------------------------------------------- /mute /unmute
async def mute_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "mute")
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    duration = await duration_of(order, order.rest[0] if order.rest else None, policy)
    if duration is None:
        return
    reason = await reason_of(order, order.rest[1:], policy, False, "mute")
    if reason is None:
        return
    group, target = order.group, order.target
    if held(services, group, target.user_id):
        await order.message.reply_text(
            _(
                "{name} is already read-only until their introduction is complete.",
                name=esc(target.name),
            )
        )
        return
    outcome, until = await mute(
        context, group, target.user_id, duration, "manual", order.moderator.id, reason
    )
    if not await say_outcome(order, outcome, Right.RESTRICT):
        return
    action = record(
        services,
        group,
        "mute",
        target.user_id,
        actor_id=order.moderator.id,
        reason=reason,
        detail=length_detail(duration),
        until=until,
    )
    muted = Muted(target.user_id, target.name, group.title, duration, reason)
    await announce(order, muted_public(muted, when(services, group, until)))
    with use_locale(language_of(services, target.user_id)):
        private = muted_private(muted, when(services, group, until))
    await send_private(context, target.user_id, private)
    await note_action(context, action)


async def unmute_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "unmute")
    if order is None:
        return
    services = context.services
    group, target = order.group, order.target
    now = services.clock.now()
    if held(services, group, target.user_id):
        await order.message.reply_text(
            _(
                "{name} is read-only until their introduction is complete; that lifts by "
                "itself when it is done.",
                name=esc(target.name),
            )
        )
        return
    with services.db.transaction() as session:
        active = ModerationRepository(session).active_mute(group.chat_id, target.user_id, now)
    status = (
        None
        if is_channel_id(target.user_id)
        else await live_status(context, group.chat_id, target.user_id)
    )
    if active is None and status is not MemberStatus.RESTRICTED:
        await order.message.reply_text(_("{name} is not muted.", name=esc(target.name)))
        return
    outcome = await restrict(context, group, target.user_id, None)
    if not await say_outcome(order, outcome, Right.RESTRICT):
        return
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.end_mutes(group.chat_id, target.user_id, now)
        action = repo.record(
            group.chat_id, "unmute", target.user_id, now, actor_id=order.moderator.id
        )
    await announce(
        order, _("🔈 {name} can write again.", name=mention(target.user_id, target.name))
    )
    with use_locale(language_of(services, target.user_id)):
        text = _("You can write in {group} again.", group=esc(group.title))
    await send_private(context, target.user_id, text)
    await note_action(context, action)


# --------------------------------------------------------------------------- /remove /ban /unban
async def _remove_or_ban(update: Update, context: BotContext, command: str) -> None:
    ban = command == "ban"
    order = await prepare(update, context, command, present=not ban)
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    reason = await reason_of(order, order.rest, policy, True, command)
    if reason is None:
        return
    group, target = order.group, order.target
    if is_channel_id(target.user_id):  # a channel cannot be removed, only blocked: /ban
        await _ban_channel(context, order, command, reason)
        return
    status = await live_status(context, group.chat_id, target.user_id) if ban else None
    if status in (MemberStatus.ADMIN, MemberStatus.OWNER):
        await say_outcome(order, Outcome.PROTECTED, Right.RESTRICT)
        return
    present = not ban or (status is not None and status.present)
    # Their private note is written in their language (sent once the removal is done).
    with use_locale(language_of(services, target.user_id)):
        private = removed_private(ban, group.title, reason)
    if present:
        result = await remove_member(
            context,
            group.chat_id,
            target.user_id,
            reason,
            cause=f"{command} by a moderator: {reason}"[:255],
            actor_id=order.moderator.id,
            announce=False,
            keep_banned=ban,
            audited=True,  # recorded by the command
        )
        if not await say_outcome(order, removal_outcome(result), Right.RESTRICT):
            return
    else:  # a ban of someone already gone keeps them from coming back
        try:
            await context.bot.ban_chat_member(group.chat_id, target.user_id)
        except (BadRequest, Forbidden) as exc:
            outcome = await refused(context, group, Right.RESTRICT, exc)
            if not await say_outcome(order, outcome, Right.RESTRICT):
                return
    with services.db.transaction() as session:
        ModerationRepository(session).end_mutes(group.chat_id, target.user_id, services.clock.now())
    action = record(
        services, group, command, target.user_id, actor_id=order.moderator.id, reason=reason
    )
    name = esc(target.name)
    await announce(order, removed_public(ban, target.name, reason))
    told = await send_private(context, target.user_id, private)
    if not told and not order.in_group:
        await order.message.reply_text(
            _(
                "{name} has not started a chat with me, so I could not tell them privately.",
                name=name,
            )
        )
    await tell_sponsor(
        context,
        group,
        target.user_id,
        SponsorNews(command),
        target.name,
        reason,
        order.moderator.id,
    )
    await note_action(context, action)


async def _ban_channel(context: BotContext, order: Order, command: str, reason: str) -> None:
    """/ban (or /remove) of a post's channel: blocked from posting (banChatSenderChat)."""
    group, target = order.group, order.target
    if not await say_outcome(
        order, await ban_sender(context, group, target.user_id, True), Right.RESTRICT
    ):
        return
    services = context.services
    with services.db.transaction() as session:
        ModerationRepository(session).end_mutes(group.chat_id, target.user_id, services.clock.now())
    action = record(
        services,
        group,
        "ban",
        target.user_id,
        actor_id=order.moderator.id,
        reason=reason,
        detail=target.name[:60] if command == "ban" else f"/{command}: {target.name[:50]}",
    )
    await announce(order, removed_public(True, target.name, reason))
    await note_action(context, action)


async def remove_command(update: Update, context: BotContext) -> None:
    await _remove_or_ban(update, context, "remove")


async def ban_command(update: Update, context: BotContext) -> None:
    await _remove_or_ban(update, context, "ban")


async def unban_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "unban", present=False)
    if order is None:
        return
    services = context.services
    group, target = order.group, order.target
    if is_channel_id(target.user_id):
        if not await say_outcome(
            order, await ban_sender(context, group, target.user_id, False), Right.RESTRICT
        ):
            return
        action = record(services, group, "unban", target.user_id, actor_id=order.moderator.id)
        await order.message.reply_text(_("{name} may post here again.", name=esc(target.name)))
        await note_action(context, action)
        return
    try:
        member = await context.bot.get_chat_member(group.chat_id, target.user_id)
    except TelegramError as exc:
        await order.message.reply_text(
            _(
                "Telegram could not tell me about {name}: {error}",
                name=esc(target.name),
                error=esc(exc.message),
            )
        )
        return
    if member.status != ChatMember.BANNED:
        await order.message.reply_text(_("{name} is not banned.", name=esc(target.name)))
        return
    try:
        await context.bot.unban_chat_member(group.chat_id, target.user_id, only_if_banned=True)
    except (BadRequest, Forbidden) as exc:
        outcome = await refused(context, group, Right.RESTRICT, exc)
        await say_outcome(order, outcome, Right.RESTRICT)
        return
    action = record(services, group, "unban", target.user_id, actor_id=order.moderator.id)
    await order.message.reply_text(
        _(
            "{name} may join {group} again, through a sponsor like everyone else.",
            name=esc(target.name),
            group=esc(group.title),
        )
    )
    await note_action(context, action)
