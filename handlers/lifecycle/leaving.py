"""``/leaving DATE``: a member (or a moderator for them) records a departure date."""

from __future__ import annotations

import logging
from datetime import date

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update

from config.schema import GroupConfig
from handlers.common import (
    may_moderate,
)
from handlers.introductions import deep_link
from handlers.lifecycle.common import (
    group_for,
    policy_of,
    today_of,
    write_privately,
)
from handlers.lifecycle.render import (
    Departure,
    departure_prompt,
    departure_recorded,
    departure_set_by_moderator,
    not_a_member,
)
from handlers.lifecycle.steps import (
    run_member,
)
from handlers.render import esc
from handlers.targets import Target, TargetError, resolve_target
from handlers.topics import replied_to
from i18n import _
from moderation.introductions import InputError, parse_date
from moderation.lifecycle import (
    act_time,
    check_departure,
)
from moderation.lifecycle_input import LeavingSubject, is_cancel, leaving_subject
from runtime.context import BotContext
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def leaving(update: Update, context: BotContext) -> None:
    message, user, chat = update.effective_message, update.effective_user, update.effective_chat
    if message is None or user is None or chat is None:
        return
    services = context.services
    args = list(context.args or [])
    is_moderator = await may_moderate(update, context)
    group = group_for(services, update, user.id)
    today = today_of(services, group)
    replied = replied_to(message) is not None
    subject = leaving_subject(is_moderator, replied, args, today)
    if subject is LeavingSubject.REFUSED:
        await message.reply_text(
            _(
                "Only moderators can set someone else's departure date. Send me /leaving "
                "DATE privately for your own."
            )
        )
        return
    if subject is LeavingSubject.SOMEONE:
        try:
            target = resolve_target(services, group.chat_id, message, args)
        except TargetError as error:
            await message.reply_text(str(error))
            return
        await _set_departure(update, context, group, target, target.rest, user.id)
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_text(
            _("Please tell me your departure date privately: send me /leaving DATE."),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Open a private chat"), url=deep_link(context, "leaving")
                        )
                    ]
                ]
            ),
        )
        return
    me = Target(user.id, user.full_name, user.username)
    await _set_departure(update, context, group, me, args, user.id)


async def _set_departure(
    update: Update,
    context: BotContext,
    group: GroupConfig,
    target: Target,
    words: list[str],
    actor_id: int,
) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    policy = policy_of(services, group)
    own = target.user_id == actor_id
    if target.is_bot:
        await message.reply_text(_("Bots do not leave the country."))
        return
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, target.user_id)
        row = LifecycleRepository(session).row_for(group.chat_id, target.user_id)
        current = row.departure_date if row and row.departure_asked_at is None else None
    if membership is None or not membership.present:
        await message.reply_text(not_a_member(group.title, None if own else target.name))
        return
    if not words:
        await message.reply_text(departure_prompt(current))
        return
    today = today_of(services, group)
    cancel = is_cancel(words)
    day: date | None = None
    if not cancel:
        try:
            day = check_departure(parse_date(" ".join(words), today), today)
        except InputError as error:
            await message.reply_text(esc(error))
            return
    now = services.clock.now()
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        membership = roster.membership(group.chat_id, target.user_id)
        assert membership is not None
        repo = LifecycleRepository(session)
        row = repo.ensure(membership, now)
        repo.set_departure(row, day, actor_id, now)
        status = membership.status.value
        repo.record(
            group.chat_id,
            target.user_id,
            now,
            f"departure date set: {day.isoformat()}" if day else "departure date cancelled",
            actor_id,
            status,
            status,
        )
    departure = Departure(
        name=None if own else target.name,
        day=day,
        asked_at=act_time(day, policy) if day is not None else None,
    )
    await message.reply_text(departure_recorded(departure, policy))
    if day is None:
        return
    if not own:
        await write_privately(context, target.user_id, lambda: departure_set_by_moderator(day))
    await run_member(context, group, target.user_id)


async def leaving_link(update: Update, context: BotContext, _argument: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(departure_prompt(None))
