"""Answers to the periodic check-in ("still here", "leaving soon", "have left")."""

from __future__ import annotations

import logging

from telegram import Update

from handlers.lifecycle.common import (
    own_row,
    policy_of,
    record_event,
    today_of,
    trusted,
)
from handlers.lifecycle.render import (
    checkin_buttons,
    checkin_question,
)
from handlers.lifecycle.steps import (
    run_member,
)
from i18n import _
from runtime.context import BotContext
from storage.lifecycle import LifecycleRepository

log = logging.getLogger(__name__)


async def checkin_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _kind, raw_id, answer = query.data.split(":")
    services = context.services
    row = own_row(services, int(raw_id), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    await query.answer()
    now = services.clock.now()
    policy = policy_of(services, group)
    if answer == "gone":
        today = today_of(services, group)
        with services.db.transaction() as session:
            repo = LifecycleRepository(session)
            stored = repo.row(row.id)
            assert stored is not None
            repo.checked_in(row.id, now)
            repo.set_departure(stored, today, row.user_id, now)
            repo.record(
                group.chat_id,
                row.user_id,
                now,
                f"departure date set: {today.isoformat()} (check-in: has left the country)",
                row.user_id,
                None,
                "departing",
            )
        await query.edit_message_text(_("Thank you for telling me."))
        await run_member(context, group, row.user_id)
        return
    with services.db.transaction() as session:
        LifecycleRepository(session).checked_in(row.id, now)
    record_event(
        services, group.chat_id, row.user_id, "check-in: still in the country", row.user_id
    )
    if answer == "soon":
        await query.edit_message_text(
            _(
                "Thank you! Send me /leaving DATE with the day you leave the country "
                "(e.g. /leaving 20 Dec) and I will ask you then what happens next."
            )
        )
        return
    await query.edit_message_text(
        _(
            "Thank you! I will ask again in about {days} days.",
            days=policy.checkin_every.days,
        )
    )


async def checkin_link(update: Update, context: BotContext, _argument: str) -> None:
    """The deep link from the group message: each open check-in of this person, privately."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    services = context.services
    now = services.clock.now()
    asked = False
    for group in services.settings.groups:
        with services.db.transaction() as session:
            entry = LifecycleRepository(session).entry(
                group.chat_id, user.id, now, trusted(services)
            )
        if entry is None or not entry.facts.checkin_outstanding:
            continue
        asked_at = entry.row.checkin_asked_at
        assert asked_at is not None
        policy = policy_of(services, group)
        await message.reply_text(
            checkin_question(group, policy, asked_at),
            reply_markup=checkin_buttons(entry.row.id),
        )
        asked = True
    if not asked:
        await message.reply_text(_("There is no open question for you. Thank you!"))
