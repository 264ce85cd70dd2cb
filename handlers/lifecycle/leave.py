"""``/leave``: a member takes themselves out of a group."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.lifecycle.common import (
    present_groups,
)
from handlers.lifecycle.removal import (
    end_membership,
)
from handlers.removal import Removal
from handlers.render import esc
from i18n import _
from moderation.lifecycle import (
    Cause,
)
from runtime.context import BotContext
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def leave(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    groups = present_groups(context.services, user.id)
    if not groups:
        await message.reply_text(_("You are not a member of any group I run."))
        return
    rows = [
        [
            InlineKeyboardButton(
                _("Yes, take me out of {group}", group=g.title)[:60],
                callback_data=f"lc:leave:{g.chat_id}",
            )
        ]
        for g in groups
    ]
    rows.append([InlineKeyboardButton(_("No, I stay"), callback_data="lc:leave:0")])
    await message.reply_text(
        _(
            "Do you want to leave the group? You can come back later through a sponsor. (If "
            "you leave the country but keep supporting colleagues here, use /leaving instead.)"
        ),
        reply_markup=InlineKeyboardMarkup(rows),
    )


async def leave_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    chat_id = int(query.data.rsplit(":", 1)[1])
    services = context.services
    group = services.settings.group(chat_id)
    if group is None and chat_id != 0:  # not a configured group: forged, or an old setup
        await query.answer(_("This button is not valid any more."))
        return
    await query.answer()
    if group is None:  # "No, I stay"
        await query.edit_message_text(_("Good: nothing changes."))
        return
    user_id = query.from_user.id
    now = services.clock.now()
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        row_id = (
            LifecycleRepository(session).ensure(membership, now).id
            if membership is not None and membership.present
            else None
        )
    if row_id is None:
        await query.edit_message_text(_("You are no longer in {group}.", group=esc(group.title)))
        return
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(row_id)
        if row is not None:
            LifecycleRepository(session).reset(row, now)
    result = await end_membership(context, group, row_id, user_id, Cause.VOLUNTARY, user_id)
    text = {
        Removal.REMOVED: _(
            "Done: you have left {group}. Thank you, and welcome back any time through a sponsor.",
            group=esc(group.title),
        ),
        Removal.NOT_PRESENT: _("You are no longer in {group}.", group=esc(group.title)),
        Removal.PROTECTED: _(
            "You are an admin of {group}, so I cannot take you out; leave it in Telegram "
            "(group info → Leave group).",
            group=esc(group.title),
        ),
        Removal.FAILED: _(
            "I could not take you out of {group} right now; the moderators have been told. "
            "You can also leave it in Telegram (group info → Leave group).",
            group=esc(group.title),
        ),
    }
    await query.edit_message_text(text[result] if result else _("Already done."))
