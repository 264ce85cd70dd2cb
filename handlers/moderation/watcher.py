"""Automatic noise control (every new group message) and the edit gate (every edited message)."""

from __future__ import annotations

from datetime import datetime

from telegram import Message, MessageEntity, Update
from telegram import User as TgUser
from telegram.ext import ApplicationHandlerStop, filters

from config.schema import GroupConfig, ModerationPolicy
from handlers.common import send_private
from handlers.moderation.actions import delete, mute
from handlers.moderation.channels import check_sender_chat
from handlers.moderation.common import Outcome, matcher, record
from handlers.moderation.logchat import note_action
from handlers.moderation.render import deletion_notice, flood_notice
from handlers.topics import send_to_group
from i18n import _, duration_text, use_locale
from moderation.audit_details import (
    flood_detail,
    intro_incomplete_detail,
    not_done_detail,
)
from moderation.conduct import Findings, MessageFacts, Offence, Standing, WatchPolicy, judge, screen
from moderation.discipline import FloodRule
from moderation.introductions import IntroStatus
from moderation.permissions import is_fresh
from moderation.roster import MemberStatus
from moderation.topics import Purpose
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository


# --------------------------------------------------------------------------- noise control
class _NotAServiceMessage(filters.UpdateFilter):
    """``~filters.StatusUpdate.ALL``, without its cost on the busiest path.

    PTB's filter asks its ~50 service-message filters one by one, about a fifth of the CPU
    the bot spends on an ordinary group message. Telegram sends a service message without
    text, so a message with text is answered at once; any other is asked the full filter.
    """

    __slots__ = ()

    def filter(self, update: Update) -> bool:
        message = update.effective_message
        if message is not None and message.text is not None:
            return True
        return not filters.StatusUpdate.ALL.check_update(update)


NOT_A_SERVICE_MESSAGE = _NotAServiceMessage(name="NOT_A_SERVICE_MESSAGE")


async def tell_member(
    context: BotContext,
    group: GroupConfig,
    user: TgUser,
    private: str,
    public: str,
    trigger: Message | None = None,
) -> None:
    """Tell the member privately; if they never started the bot, one short group note (in the
    moderation topic, else the topic of ``trigger``)."""
    if not await send_private(context, user.id, private):
        await send_to_group(
            context.bot,
            context.services,
            group.chat_id,
            public,
            purpose=Purpose.MODERATION,
            trigger=trigger,
        )


def _recently_told(services: Services, group: GroupConfig, user_id: int, kind: str) -> bool:
    since = services.clock.now() - services.settings.moderation.notice_cooldown
    with services.db.transaction() as session:
        return (
            ModerationRepository(session).recent_automatic(group.chat_id, user_id, kind, since)
            is not None
        )


def _has_media(message: Message) -> bool:
    return any(
        getattr(message, kind)
        for kind in ("photo", "video", "document", "audio", "voice", "video_note", "animation")
    )


def watch_policy(policy: ModerationPolicy) -> WatchPolicy:
    # Asked for every group message with the same settings object: the last answer is kept
    # for that object (settings are immutable; a reload brings a new object).
    last = _last_policy.get("watch")
    if last is not None and last[0] is policy:
        return last[1]
    flood = policy.flood
    made = WatchPolicy(
        flood=FloodRule(flood.messages, flood.per) if flood is not None else None,
        banned=matcher(policy),
        block_links_until_introduced=policy.block_links_until_introduced,
        block_media_until_introduced=policy.block_media_until_introduced,
    )
    _last_policy["watch"] = (policy, made)
    return made


_last_policy: dict[str, tuple[ModerationPolicy, WatchPolicy]] = {}


async def watch(update: Update, context: BotContext) -> None:
    """Automatic noise control for every new message in a configured group."""
    message = update.message
    if message is not None:
        await _check(update, message, context, edited=False)
    if ends_at_the_watcher(update, context.services):
        # Nothing registered after the watcher acts on such a message (a test asks every
        # handler): stop here rather than let PTB try each of the later handlers on the
        # busiest kind of update.
        raise ApplicationHandlerStop


async def edit_gate(update: Update, context: BotContext) -> None:
    """Every edited message, in any chat, ends here.

    An edit is checked as content by the same ``judge`` (so adding a banned word, or a link
    before the introduction, is moderated) but it is never a new message: it does not count
    toward the flood limit, and it never runs a command, answers a form or reaches the
    mentions. Fixing a typo in ``/warn`` must not warn again, and an edit that adds ``@all``
    would otherwise notify the whole group about a message they already saw.
    """
    message = update.edited_message
    if message is not None and context.services.settings.group(message.chat.id) is not None:
        await _check(update, message, context, edited=True)
    raise ApplicationHandlerStop


def ends_at_the_watcher(update: Update, services: Services) -> bool:
    """A new message in a configured group with words and no command or @-mention in them."""
    message = update.message
    if message is None or services.settings.group(message.chat.id) is None:
        return False
    text = message.text or message.caption
    return (
        text is not None
        and "@" not in text
        and not text.startswith("/")
        and not any(
            e.type == MessageEntity.BOT_COMMAND
            for e in (*message.entities, *message.caption_entities)
        )
    )


async def _check(update: Update, message: Message, context: BotContext, *, edited: bool) -> None:
    """Gather the facts, ask ``judge``, carry out its verdict."""
    user = update.effective_user
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    if message.sender_chat is not None:  # sent as a channel, or by an anonymous admin
        await check_sender_chat(context, group, message, edited=edited)
        return
    if user is None or user.is_bot:
        return
    moderation = services.settings.moderation
    policy = watch_policy(moderation)
    sent_at = message.date
    # This runs for every message in the group, so it reads nothing from the database unless
    # there is something to act on: the message is noted and counted in memory (the journal
    # writes it behind), the screening is pure, and only then is the sender's standing read.
    if not edited:
        services.journal.note(
            group.chat_id, message.message_id, user.id, sent_at, message.media_group_id
        )
    if user.id in services.settings.moderators or _cached_admin(services, user.id, group.chat_id):
        return  # trusted: configured moderators and admins by the live list
    recent: tuple[datetime, ...] = ()
    if not edited and moderation.flood is not None:
        recent = tuple(
            services.journal.times(
                group.chat_id,
                user.id,
                sent_at - moderation.flood.per,
                shared=services.role == "webhook",
            )
        )
    facts = MessageFacts(
        sent_at=sent_at,
        text=message.text or message.caption,
        entity_types=tuple(e.type for e in (*message.entities, *message.caption_entities)),
        has_media=_has_media(message),
        edited=edited,
        recent=recent,
    )
    findings = screen(facts, policy)
    if findings.clean:
        return  # judge() would say nothing whoever sent it: no standing to read
    verdict = judge(facts, _standing(services, group, user.id, findings), policy)
    if verdict.mute_for_flood:
        await _mute_for_flood(context, group, user, verdict.flood_count, message)
    if verdict.delete is not None:
        await _delete_for(context, group, user, message, verdict.delete, verdict.banned)


def _standing(services: Services, group: GroupConfig, user_id: int, found: Findings) -> Standing:
    """What ``judge`` needs to know about the sender (trust was settled without a query)."""
    now = services.clock.now()
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, user_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
        muted = (
            found.flooding
            and ModerationRepository(session).active_mute(group.chat_id, user_id, now) is not None
        )
    status = membership.status if membership is not None else None
    incomplete = intro is not None and intro.status in (IntroStatus.PENDING, IntroStatus.HELD)
    return Standing(
        admin=status in (MemberStatus.ADMIN, MemberStatus.OWNER),
        muted=muted,
        held=group.membership.restrict_until_introduced
        and incomplete
        and status is MemberStatus.RESTRICTED,
        introduction_incomplete=incomplete,
    )


async def _delete_for(
    context: BotContext,
    group: GroupConfig,
    user: TgUser,
    message: Message,
    offence: Offence,
    found: str | None,
) -> None:
    services = context.services
    kind = offence.value
    outcome = await delete(context, group, message.message_id)
    if outcome is not Outcome.DONE:
        record(services, group, kind, user.id, detail=not_done_detail("delete", outcome.value))
        return
    # At most one note per kind within notice_cooldown (the audit log remembers), so a
    # repeated offence does not turn the bot itself into noise.
    told_recently = _recently_told(services, group, user.id, kind)
    detail = found[:60] if found else ""
    action = record(
        services,
        group,
        kind,
        user.id,
        detail=detail if offence is Offence.BANNED_WORD else intro_incomplete_detail(),
    )
    await note_action(context, action)
    if not told_recently:
        with use_locale(user.language_code):
            notice = deletion_notice(offence, user.id, user.full_name, group.title, found or "")
        await tell_member(context, group, user, notice.private, notice.public, message)
    raise ApplicationHandlerStop  # the message is gone: no feature answers it


def _cached_admin(services: Services, user_id: int, chat_id: int) -> bool:
    """An admin of this group by the live list read recently (no query; see ``role``)."""
    settings = services.settings
    cached = services.admins.get(chat_id)
    if not settings.group_admins_are_moderators or cached is None:
        return False
    read_at, admins = cached
    return is_fresh(read_at, services.clock.now(), settings.moderation.admin_cache) and (
        user_id in admins
    )


async def _mute_for_flood(
    context: BotContext, group: GroupConfig, user: TgUser, count: int, trigger: Message
) -> None:
    """``count`` messages (an album once) within the flood window: mute for a while."""
    services = context.services
    flood = services.settings.moderation.flood
    assert flood is not None
    outcome, until = await mute(context, group, user.id, flood.mute, "flood", None, _("flood"))
    if outcome is not Outcome.DONE:
        record(services, group, "flood", user.id, detail=not_done_detail("mute", outcome.value))
        return
    action = record(
        services,
        group,
        "flood",
        user.id,
        detail=flood_detail(count, flood.per, flood.mute),
        until=until,
    )
    per, duration = duration_text(flood.per), duration_text(flood.mute)
    await send_to_group(
        context.bot,
        services,
        group.chat_id,
        flood_notice(user.id, user.full_name, count, per, duration),
        purpose=Purpose.MODERATION,
        trigger=trigger,
    )
    await note_action(context, action)
