"""The minute sweep: mutes whose time is up."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telegram.error import TelegramError

from handlers.common import send_private
from handlers.moderation.actions import restrict
from handlers.moderation.common import Outcome, language_of
from handlers.render import esc
from i18n import _, use_locale
from moderation.channels import is_channel_id
from moderation.roster import MemberStatus, ObservedChange, status_from_telegram
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the sweep
async def sweep(app: App) -> None:
    """Mutes whose time is up: Telegram lifted them; bring the roster and the log in line."""
    services = services_of(app)
    context = BotContext(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        expired = repo.claim_expired_mutes(now)
        repo.prune_messages(now - timedelta(hours=49))
    for chat_id, user_id in expired:
        group = services.settings.group(chat_id)
        if group is None:
            continue
        if is_channel_id(user_id):  # Telegram keeps a channel blocked until it is lifted
            if await restrict(context, group, user_id, None) is Outcome.DONE:
                with services.db.transaction() as session:
                    ModerationRepository(session).record(chat_id, "mute_ended", user_id, now)
            continue
        try:
            member = await app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("cannot check %s after their mute: %s", user_id, exc)
            continue
        status = status_from_telegram(member.status, getattr(member, "is_member", None))
        if not status.present:
            continue  # removed or gone meanwhile: their history ends there, no "mute ended"
        with services.db.transaction() as session:
            roster = RosterRepository(session)
            current = roster.membership(chat_id, user_id)
            if current is not None and current.status is not status:
                roster.apply_change(
                    chat_id,
                    ObservedChange(user_id, None, current.status, status),
                    now,
                    cause="mute ended",
                )
            ModerationRepository(session).record(chat_id, "mute_ended", user_id, now)
        if status.present and status is not MemberStatus.RESTRICTED:
            with use_locale(language_of(services, user_id)):
                text = _(
                    "Your mute in {group} has ended; you can write again.", group=esc(group.title)
                )
            await send_private(context, user_id, text)


def next_mute_end(services: Services, now: datetime) -> datetime | None:
    """For stepping virtual time: the next mute that is up."""
    with services.db.transaction() as session:
        return ModerationRepository(session).next_mute_end(now)


SWEEPS = [Sweep("moderation", timedelta(minutes=1), sweep, next_mute_end)]
