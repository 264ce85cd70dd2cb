"""Carrying out a penalty in Telegram: restrict, delete, mute; telling the sponsor."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telegram import ChatPermissions
from telegram.error import BadRequest, Forbidden

from config.schema import GroupConfig
from handlers.common import personal_language, send_private
from handlers.moderation.common import Outcome, Right, refused
from handlers.moderation.render import sponsor_text
from handlers.removal import Removal
from i18n import use_locale
from moderation.channels import is_channel_id
from moderation.conduct import SponsorNews
from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def tell_sponsor(
    context: BotContext,
    group: GroupConfig,
    user_id: int,
    news: SponsorNews,
    name: str,
    reason: str,
    actor_id: int | None,
) -> None:
    """Sponsors are told when someone they sponsored is warned, removed or banned: one message
    (``moderation.conduct.sponsor_news`` says which)."""
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
        sponsor = (
            RosterRepository(session).user(intro.sponsor_id)
            if intro is not None and intro.sponsor_id
            else None
        )
    if sponsor is None or sponsor.id in (actor_id, user_id):
        return
    with use_locale(personal_language(services, sponsor.id)):
        text = sponsor_text(
            news, name, group.title, reason, services.settings.moderation.warning_window
        )
    await send_private(context, sponsor.id, text)


# --------------------------------------------------------------------------- Telegram actions
async def restrict(
    context: BotContext, group: GroupConfig, user_id: int, until: datetime | None
) -> Outcome:
    """Mute until ``until`` (read-only), or lift every restriction when ``until`` is None."""
    if is_channel_id(user_id):  # a channel is muted by blocking it from posting
        return await ban_sender(context, group, user_id, until is not None)
    permissions = (
        ChatPermissions.no_permissions() if until is not None else ChatPermissions.all_permissions()
    )
    try:
        await context.bot.restrict_chat_member(
            group.chat_id, user_id, permissions, until_date=until
        )
    except (BadRequest, Forbidden) as exc:
        outcome = await refused(context, group, Right.RESTRICT, exc)
        if outcome is not Outcome.NO_RIGHT:
            log.warning("restrict %s in %s: %s", user_id, group.chat_id, exc)
        return outcome
    return Outcome.DONE


async def ban_sender(
    context: BotContext, group: GroupConfig, channel_id: int, ban: bool
) -> Outcome:
    """Block a channel from posting in the group (banChatSenderChat), or lift that."""
    try:
        if ban:
            await context.bot.ban_chat_sender_chat(group.chat_id, channel_id)
        else:
            await context.bot.unban_chat_sender_chat(group.chat_id, channel_id)
    except (BadRequest, Forbidden) as exc:
        outcome = await refused(context, group, Right.RESTRICT, exc)
        if outcome is not Outcome.NO_RIGHT:
            log.warning("sender chat %s in %s: %s", channel_id, group.chat_id, exc)
        return outcome
    return Outcome.DONE


async def delete(
    context: BotContext, group: GroupConfig, message_id: int, own: bool = False
) -> Outcome:
    try:
        await context.bot.delete_message(group.chat_id, message_id)
    except (BadRequest, Forbidden) as exc:
        text = exc.message.lower()
        if "not found" in text:
            return Outcome.NOT_PRESENT
        if "for everyone" in text or own:
            return Outcome.FAILED  # too old (48 h), or a service message
        return await refused(context, group, Right.DELETE, exc)
    return Outcome.DONE


def removal_outcome(result: Removal) -> Outcome:
    return {
        Removal.REMOVED: Outcome.DONE,
        Removal.NOT_PRESENT: Outcome.NOT_PRESENT,
        Removal.PROTECTED: Outcome.PROTECTED,
        Removal.FAILED: Outcome.NO_RIGHT,
    }[result]


# --------------------------------------------------------------------------- penalties
async def mute(
    context: BotContext,
    group: GroupConfig,
    user_id: int,
    duration: timedelta,
    cause: str,
    by_id: int | None,
    reason: str,
) -> tuple[Outcome, datetime]:
    services = context.services
    until = services.clock.now() + duration
    outcome = await restrict(context, group, user_id, until)
    if outcome is Outcome.DONE:
        with services.db.transaction() as session:
            ModerationRepository(session).add_mute(
                group.chat_id, user_id, until, cause, services.clock.now(), by_id, reason
            )
    return outcome, until


def held(services: Services, group: GroupConfig, user_id: int) -> bool:
    """Read-only until the introduction is complete (a mute must not lift that early)."""
    if not group.membership.restrict_until_introduced:
        return False
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
        membership = RosterRepository(session).membership(group.chat_id, user_id)
    return (
        intro is not None
        and intro.status in (IntroStatus.PENDING, IntroStatus.HELD)
        and membership is not None
        and membership.status is MemberStatus.RESTRICTED
    )
