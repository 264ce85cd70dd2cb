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
    farewell,
    group_notice,
    moderators_report,
    removal_reason,
)
from handlers.removal import Removal, remove_member
from handlers.topics import send_to_group
from moderation.lifecycle import (
    Cause,
    Outcome,
)
from moderation.lifecycle_notices import who_is_told
from moderation.roster import MemberStatus, ObservedChange
from moderation.topics import Purpose
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
    told = who_is_told(cause, outcome)
    if told.group_notice is not None:
        await send_to_group(
            context.bot,
            services,
            group.chat_id,
            group_notice(told.group_notice, name),
            purpose=Purpose.MODERATION,
        )
    if told.farewell:
        await write_privately(context, user_id, lambda: farewell(group.title, cause))
    if told.moderators is not None:
        await tell_moderators(context, moderators_report(told.moderators, name, group.title, cause))
    # Removal.FAILED: remove_member already told the moderators which right is missing; the
    # sweep tries again once a day, silently.
    return result
