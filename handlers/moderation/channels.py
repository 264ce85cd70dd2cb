"""Posts sent as a channel: moderated like a member's, with Telegram's sender-chat bans.

The group's anonymous admins (``sender_chat`` is the group) and the linked channel's automatic
forwards stay exempt (``moderation.channels.sender_kind``). A channel linked to a member who is
in the group (``moderation.channels.linked``), or any channel when ``unlinked: allow``, is
moderated as a member who introduced themselves: its own flood window, banned words. Any other
channel is held (each post removed, with a note at most once per ``notice_cooldown``) or banned
(``banChatSenderChat``), as ``moderation.channels.unlinked`` says.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import Chat, Message
from telegram.ext import ApplicationHandlerStop

from config.schema import GroupConfig
from handlers.moderation.actions import ban_sender, delete
from handlers.moderation.common import (
    Outcome,
    matcher,
    record,
)
from handlers.moderation.logchat import note_action
from handlers.render import esc, esc_attr
from handlers.topics import send_to_group
from i18n import _, ngettext
from moderation.channels import (
    ChannelAction,
    ChannelPolicy,
    SenderFacts,
    SenderKind,
    channel_action,
    sender_kind,
)
from moderation.conduct import MessageFacts, Standing, WatchPolicy, judge, screen
from moderation.discipline import FloodRule
from moderation.durations import format_duration
from moderation.topics import Purpose
from runtime.context import BotContext, Services
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


def sender_facts(message: Message) -> SenderFacts:
    sender = message.sender_chat
    return SenderFacts(
        chat_id=message.chat.id,
        sender_chat_id=sender.id if sender is not None else None,
        sender_chat_is_channel=sender is not None and sender.type == Chat.CHANNEL,
        automatic_forward=bool(message.is_automatic_forward),
    )


def channel_label(chat: Chat) -> str:
    """A channel's name for a group message: a link to it when it has a public username."""
    title = esc(chat.title or chat.username or str(chat.id))
    if chat.username:
        return f'<a href="https://t.me/{esc_attr(chat.username)}">{title}</a>'
    return f"<b>{title}</b>"


# --------------------------------------------------------------------------- the watcher's part
async def check_sender_chat(
    context: BotContext, group: GroupConfig, message: Message, *, edited: bool
) -> None:
    """A message with ``sender_chat`` in a configured group: exempt, held, banned or moderated."""
    kind = sender_kind(sender_facts(message))
    sender = message.sender_chat
    if kind is not SenderKind.CHANNEL or sender is None:
        return
    services = context.services
    policy = services.settings.moderation
    if not edited:
        services.journal.note(
            group.chat_id, message.message_id, sender.id, message.date, message.media_group_id
        )
    action = channel_action(
        _linked_member_present(services, group, sender.id), ChannelPolicy(policy.channels.unlinked)
    )
    if action is ChannelAction.MODERATE:
        await _moderate(context, group, message, sender, edited=edited)
        return
    outcome = await delete(context, group, message.message_id)
    banned = False
    if action is ChannelAction.BAN:
        banned = await ban_sender(context, group, sender.id, True) is Outcome.DONE
    kind_name = "ban" if banned else "channel_held"
    told = _recently_told(services, group, sender.id, kind_name)
    recorded = record(
        services,
        group,
        kind_name,
        sender.id,
        reason=_("channel not linked to a member"),
        detail=(sender.title or "")[:60]
        if outcome is Outcome.DONE
        else _("could not delete: {why}", why=outcome.value),
    )
    await note_action(context, recorded)
    if not told:
        name = channel_label(sender)
        text = (
            _(
                "{channel} may not post here: only channels linked to a member of the group "
                "may. Its post was removed and the channel can no longer post.",
                channel=name,
            )
            if banned
            else _(
                "Posts sent as {channel} are held: in this group members write as themselves, "
                "or as a channel the moderators linked to them. The post was removed; please "
                "write it again as yourself.",
                channel=name,
            )
        )
        await _notice(context, group, message, text)
    raise ApplicationHandlerStop  # the post is gone: no feature answers it


def _linked_member_present(services: Services, group: GroupConfig, channel_id: int) -> bool:
    member_id = services.settings.moderation.channels.linked.get(channel_id)
    if member_id is None:
        return False
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, member_id)
    return membership is not None and membership.present


def _recently_told(services: Services, group: GroupConfig, sender_id: int, kind: str) -> bool:
    since = services.clock.now() - services.settings.moderation.notice_cooldown
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        return repo.recent_automatic(group.chat_id, sender_id, kind, since) is not None


async def _notice(context: BotContext, group: GroupConfig, trigger: Message, text: str) -> None:
    await send_to_group(
        context.bot,
        context.services,
        group.chat_id,
        text,
        purpose=Purpose.MODERATION,
        trigger=trigger,
    )


async def _moderate(
    context: BotContext, group: GroupConfig, message: Message, sender: Chat, *, edited: bool
) -> None:
    """As a member who introduced themselves: the flood limit (own window) and banned words."""
    services = context.services
    policy = services.settings.moderation
    watch = WatchPolicy(
        flood=FloodRule(policy.flood.messages, policy.flood.per) if policy.flood else None,
        banned=matcher(policy),
        block_links_until_introduced=policy.block_links_until_introduced,
        block_media_until_introduced=policy.block_media_until_introduced,
    )
    recent: tuple[datetime, ...] = ()
    if not edited and policy.flood is not None:
        recent = tuple(
            services.journal.times(
                group.chat_id,
                sender.id,
                message.date - policy.flood.per,
                shared=services.role == "webhook",
            )
        )
    facts = MessageFacts(
        sent_at=message.date,
        text=message.text or message.caption,
        entity_types=tuple(e.type for e in (*message.entities, *message.caption_entities)),
        has_media=bool(message.effective_attachment),
        edited=edited,
        recent=recent,
    )
    findings = screen(facts, watch)
    if findings.clean:
        return
    now = services.clock.now()
    with services.db.transaction() as session:
        muted = ModerationRepository(session).active_mute(group.chat_id, sender.id, now) is not None
    verdict = judge(facts, Standing(muted=muted), watch)
    name = channel_label(sender)
    if verdict.mute_for_flood and policy.flood is not None:
        until = now + policy.flood.mute
        if await ban_sender(context, group, sender.id, True) is Outcome.DONE:
            with services.db.transaction() as session:
                ModerationRepository(session).add_mute(
                    group.chat_id, sender.id, until, "flood", now, None, _("flood")
                )
            per, duration = format_duration(policy.flood.per), format_duration(policy.flood.mute)
            recorded = record(
                services,
                group,
                "flood",
                sender.id,
                reason=ngettext(
                    "{n} message in {per}", "{n} messages in {per}", verdict.flood_count, per=per
                ),
                detail=f"{(sender.title or '')[:40]} · {duration}",
                until=until,
            )
            await _notice(
                context,
                group,
                message,
                ngettext(
                    "🔇 {channel} cannot post for {duration} after {n} post in {per}.",
                    "🔇 {channel} cannot post for {duration} after {n} posts in {per}.",
                    verdict.flood_count,
                    channel=name,
                    duration=duration,
                    per=per,
                ),
            )
            await note_action(context, recorded)
    if verdict.delete is not None:
        outcome = await delete(context, group, message.message_id)
        if outcome is not Outcome.DONE:
            return
        told = _recently_told(services, group, sender.id, verdict.delete.value)
        recorded = record(
            services,
            group,
            verdict.delete.value,
            sender.id,
            reason=_("banned word"),
            detail=(sender.title or "")[:60],
        )
        await note_action(context, recorded)
        if not told:
            await _notice(
                context,
                group,
                message,
                _(
                    "A post sent as {channel} was removed: it uses words this group does not "
                    "accept.",
                    channel=name,
                ),
            )
        raise ApplicationHandlerStop
