"""Ending a membership for a lifecycle reason, once, and telling whoever must know."""

from __future__ import annotations

import logging

from config.schema import GroupConfig
from handlers.common import (
    tell_moderators,
)
from handlers.lifecycle.common import (
    name_of,
    policy_of,
    write_privately,
)
from handlers.lifecycle.render import (
    group_notice,
    removal_reason,
)
from handlers.removal import Removal, remove_member
from handlers.render import esc
from i18n import _
from moderation.lifecycle import (
    Cause,
    Outcome,
)
from moderation.roster import MemberStatus, ObservedChange
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def end_membership(
    context: BotContext,
    group: GroupConfig,
    row_id: int,
    user_id: int,
    cause: Cause,
    actor_id: int | None = None,
) -> Removal | None:
    """Remove a member for a lifecycle reason, once; None when already attempted."""
    services = context.services
    policy = policy_of(services, group)
    now = services.clock.now()
    with services.db.transaction() as session:
        claimed = LifecycleRepository(session).claim_removal(
            row_id, cause, now, now - policy.retry_failed_after
        )
        user = RosterRepository(session).user(user_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
    if not claimed:
        return None
    name = name_of(user, intro, user_id)
    result = await remove_member(
        context,
        group.chat_id,
        user_id,
        removal_reason(cause),
        cause=cause.value,
        actor_id=actor_id,
        announce=False,
    )
    outcome = {
        Removal.REMOVED: Outcome.REMOVED,
        Removal.NOT_PRESENT: Outcome.NOT_PRESENT,
        Removal.PROTECTED: Outcome.PROTECTED,
        Removal.FAILED: Outcome.FAILED,
    }[result]
    with services.db.transaction() as session:
        LifecycleRepository(session).removal_done(row_id, outcome, services.clock.now())
        if result is Removal.NOT_PRESENT:
            roster = RosterRepository(session)
            membership = roster.membership(group.chat_id, user_id)
            if membership is not None and membership.present:
                # Telegram says they are gone: the roster catches up instead of retrying.
                roster.apply_change(
                    group.chat_id,
                    ObservedChange(user_id, None, membership.status, MemberStatus.LEFT),
                    services.clock.now(),
                    cause=f"{cause.value}: no longer in the group when removing",
                )
    if result is Removal.REMOVED:
        notice = group_notice(cause, name)
        if notice is not None:
            await context.bot.send_message(group.chat_id, notice)
        if cause is not Cause.VOLUNTARY:  # /leave answers in its own message
            await write_privately(
                context,
                user_id,
                lambda: _(
                    "You have left <b>{group}</b>: {reason}. Thank you for your work with the "
                    "community! You are welcome back any time: ask a member to sponsor you "
                    "again.",
                    group=esc(group.title),
                    reason=removal_reason(cause),
                ),
            )
        if cause in (Cause.SPONSOR_LOST, Cause.CHECKIN_UNANSWERED, Cause.NO_SPONSOR_CONFIRMED):
            await tell_moderators(
                context,
                _(
                    "{name} was removed from <b>{group}</b>: {cause}.",
                    name=esc(name),
                    group=esc(group.title),
                    cause=esc(cause.value),
                ),
            )
    elif result is Removal.PROTECTED and cause is not Cause.VOLUNTARY:
        await tell_moderators(
            context,
            _(
                "{name} should leave <b>{group}</b> ({cause}), but is an admin of the group, "
                "so I cannot remove them. Please remove their admin rights or remove them "
                "yourself; I will not try again.",
                name=esc(name),
                group=esc(group.title),
                cause=esc(cause.value),
            ),
        )
    elif result is Removal.NOT_PRESENT and cause is not Cause.VOLUNTARY:
        await tell_moderators(
            context,
            _(
                "{name} should leave <b>{group}</b> ({cause}), but Telegram says they are no "
                "longer in it; I have updated my member list.",
                name=esc(name),
                group=esc(group.title),
                cause=esc(cause.value),
            ),
        )
    # Removal.FAILED: remove_member already told the moderators which right is missing; the
    # sweep tries again once a day, silently.
    return result
