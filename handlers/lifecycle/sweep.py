"""The lifecycle sweep (every 15 minutes) and the erasure of former members' data."""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from config.schema import GroupConfig
from handlers.introductions import deep_link
from handlers.lifecycle.common import (
    MENTIONS_PER_MESSAGE,
    name_of,
    policy_of,
    trusted,
)
from handlers.lifecycle.steps import (
    act,
)
from handlers.render import mention
from i18n import _
from moderation.lifecycle import (
    Kind,
    erase_due,
    next_change_at,
    next_step,
)
from runtime.context import App, BotContext, Services, services_of
from storage.lifecycle import Entry, LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def sweep(app: App) -> None:
    """Everything due in every group, once: safe to run as often as wanted, and after downtime."""
    services = services_of(app)
    context = BotContext(app)
    for group in services.settings.groups:
        policy = policy_of(services, group)
        now = services.clock.now()
        with services.db.transaction() as session:
            RosterRepository(session).ensure_group(group.chat_id, group.title)
            # Only the members with something due are kept (see ``each_entry``).
            due = [
                (entry, step)
                for entry in LifecycleRepository(session).each_entry(
                    group.chat_id, now, trusted(services)
                )
                if (step := next_step(entry.facts, policy, now)).kind is not Kind.NOTHING
            ]
        unreached: list[Entry] = []
        for entry, step in due:
            try:
                if not await act(context, group, policy, entry, step):
                    unreached.append(entry)
            except TelegramError as exc:  # one member's trouble must not stop the others
                log.warning("lifecycle %s for %s failed: %s", step.kind, entry.user.id, exc)
        await _mention_unreached(context, group, unreached)
    await erase_former_members(context)


def next_lifecycle_step(services: Services, now: datetime) -> datetime | None:
    """For stepping virtual time: the next moment any member's lifecycle has something due."""
    moments: list[datetime] = []
    for group in services.settings.groups:
        policy = policy_of(services, group)
        with services.db.transaction() as session:
            entries = LifecycleRepository(session).entries(group.chat_id, now, trusted(services))
        for entry in entries:
            moment = next_change_at(entry.facts, policy, now)
            if moment is not None:
                moments.append(moment)
    return min(moments, default=None)


async def _mention_unreached(context: BotContext, group: GroupConfig, people: list[Entry]) -> None:
    """One group message for everyone whose check-in could not be sent privately."""
    for start in range(0, len(people), MENTIONS_PER_MESSAGE):
        batch = people[start : start + MENTIONS_PER_MESSAGE]
        mentions = ", ".join(mention(e.user.id, name_of(e.user, e.intro)) for e in batch)
        await context.bot.send_message(
            group.chat_id,
            _(
                "{mentions}: a quick check that you still work on the response in the country. "
                "Please tap the button to answer privately.",
                mentions=mentions,
            ),
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Answer privately"), url=deep_link(context, "checkin"))]]
            ),
        )


async def erase_former_members(context: BotContext) -> None:
    """Personal data of people who left every group more than ``retention`` ago is erased."""
    services = context.services
    now = services.clock.now()
    settings = services.settings
    default = settings.groups[0].membership.retention
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        due = [
            user_id
            for user_id, memberships in repo.former_members().items()
            if user_id not in settings.moderators
            and not repo.is_partner(user_id)
            and erase_due(
                [m.left_at for m in memberships],
                False,
                max(
                    (g.membership.retention if (g := settings.group(m.chat_id)) else default)
                    for m in memberships
                ),
                now,
            )
        ]
    for user_id in due:
        with services.db.transaction() as session:
            LifecycleRepository(session).erase(user_id, now)
        log.info("erased the personal data of a former member after the retention period")
