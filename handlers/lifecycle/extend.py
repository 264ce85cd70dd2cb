"""``/extend @user 30d`` and the expiry buttons: a sponsor or moderator extends a membership."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from telegram import Update

from config.schema import GroupConfig
from handlers.common import (
    current_role,
)
from handlers.lifecycle.common import (
    EXTEND_BUTTON_DAYS,
    day_text,
    group_for,
    name_of,
    policy_of,
    today_of,
    write_privately,
)
from handlers.render import esc
from handlers.targets import TargetError, resolve_target
from i18n import _
from moderation.introductions import InputError
from moderation.lifecycle import (
    extended_end,
)
from moderation.lifecycle_input import parse_extension
from moderation.permissions import Role
from moderation.sponsorship import extension_cause, may_extend
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def extend_membership(
    context: BotContext,
    group: GroupConfig,
    member_id: int,
    actor_id: int,
    by: timedelta | None,
    until: date | None,
) -> str:
    """Extend a time-limited membership (sponsor or moderator); the reply text, escaped."""
    services = context.services
    policy = policy_of(services, group)
    today = today_of(services, group)
    now = services.clock.now()
    is_moderator = await current_role(context, actor_id, group.chat_id) is Role.MODERATOR
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, member_id)
        user = RosterRepository(session).user(member_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, member_id)
        name = name_of(user, intro, member_id)
        if membership is None or not membership.present:
            return _("{name} is not a member of {group}.", name=esc(name), group=esc(group.title))
        if not may_extend(actor_id, is_moderator, intro.sponsor_id if intro else None):
            return _(
                "Only the sponsor of {name} or a moderator can extend their membership.",
                name=esc(name),
            )
        try:
            end = extended_end(
                intro.category if intro else None,
                intro.end_date if intro else None,
                today,
                policy.out_of_country_max,
                by,
                until,
            )
        except InputError as error:
            return _("{name}: {problem}", name=esc(name), problem=esc(error))
        assert intro is not None
        before = intro.end_date
        repo = LifecycleRepository(session)
        repo.extend(membership, intro, end, now)
        repo.record(
            group.chat_id,
            member_id,
            now,
            extension_cause(is_moderator, before, end),
            actor_id,
            membership.status.value,
            membership.status.value,
        )
    if member_id != actor_id:
        await write_privately(
            context,
            member_id,
            lambda: _(
                "Good news: your membership of <b>{group}</b> now runs until {date}.",
                group=esc(group.title),
                date=day_text(end),
            ),
        )
    return _(
        "Done: the membership of {name} now runs until {date}.",
        name=esc(name),
        date=day_text(end),
    )


async def extend(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    args = list(context.args or [])
    group = group_for(services, update, user.id)
    try:
        target = resolve_target(services, group.chat_id, message, args)
    except TargetError as error:
        await message.reply_text(str(error))
        return
    if not target.rest:
        await message.reply_text(
            _("By how long? For example /extend @username 30d, or /extend @username 2027-02-15.")
        )
        return
    try:
        by, until = parse_extension(target.rest, today_of(services, group))
    except InputError as error:
        await message.reply_text(esc(error))
        return
    await message.reply_text(
        await extend_membership(context, group, target.user_id, user.id, by, until)
    )


async def expiry_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, kind, raw_id = query.data.split(":")
    services = context.services
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(int(raw_id))
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This is no longer open."), show_alert=True)
        return
    await query.answer()
    if kind == "end":
        await query.edit_message_text(_("Understood: the membership ends as planned."))
        return
    text = await extend_membership(
        context, group, row.user_id, query.from_user.id, timedelta(days=EXTEND_BUTTON_DAYS), None
    )
    await query.edit_message_text(text)
