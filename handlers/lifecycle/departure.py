"""Answers to the departure question: "no" ends the membership; "yes" asks for an end
date and a sponsor in the country, who confirms with one tap."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update

from config.schema import GroupConfig
from handlers.lifecycle.common import (
    own_row,
    policy_of,
)
from handlers.lifecycle.removal import (
    end_membership,
)
from handlers.lifecycle.render import (
    departure_buttons,
    departure_question,
)
from handlers.lifecycle.staying import (
    OUT_OF_COUNTRY,
    OutOfCountry,
    drop_out_of_country_form,
)
from i18n import _
from moderation.lifecycle import (
    Answer,
    Cause,
)
from moderation.sponsorship import may_name_new_sponsor, records_stay
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository, answer_of, outcome_of
from storage.models import MemberLifecycle

log = logging.getLogger(__name__)


async def departure_link(update: Update, context: BotContext, argument: str) -> None:
    """The deep link from the group: the departure question, privately."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    row = own_row(context.services, int(argument), user.id) if argument.isdigit() else None
    group = context.services.settings.group(row.chat_id) if row else None
    if row is None or group is None or row.departure_asked_at is None or row.departure_answer:
        await message.reply_text(_("There is no open question for you."))
        return
    policy = policy_of(context.services, group)
    await message.reply_text(
        departure_question(group, row, policy), reply_markup=departure_buttons(row.id)
    )


def _question(
    update: Update, context: BotContext
) -> tuple[CallbackQuery, MemberLifecycle | None, GroupConfig | None]:
    """The pressed button, the asker's own lifecycle row it names and that row's group (None
    when the row is not the presser's or the group is no longer configured)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    return query, row, group


async def _record(query: CallbackQuery, services: Services, row_id: int, answer: Answer) -> bool:
    """Record the answer to the departure question; False (and the presser told) when it was
    already answered."""
    with services.db.transaction() as session:
        answered = LifecycleRepository(session).answer_departure(
            row_id, answer, services.clock.now()
        )
    if not answered:
        await query.answer(_("This question is already answered."), show_alert=True)
    return answered


async def departure_no(update: Update, context: BotContext) -> None:
    query, row, group = _question(update, context)
    services = context.services
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    if not await _record(query, services, row.id, Answer.LEAVE):
        return
    await query.answer()
    if query.message is not None:
        drop_out_of_country_form(services, query.from_user.id, query.message.chat.id)
    await query.edit_message_text(_("You answered: you leave the group. Thank you!"))
    await end_membership(
        context, group, row.id, row.user_id, Cause.DEPARTURE_DECLINED, actor_id=row.user_id
    )


async def departure_yes(update: Update, context: BotContext) -> None:
    """ "Yes, I keep supporting them": the out-of-country form asks for an end date."""
    query, row, group = _question(update, context)
    services = context.services
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    stays = records_stay(answer_of(row.departure_answer))
    if stays and not await _record(query, services, row.id, Answer.STAY):
        return
    await query.edit_message_text(_("You answered: you keep supporting colleagues. Thank you!"))
    await OUT_OF_COUNTRY.start(update, context, OutOfCountry(row_id=row.id, chat_id=group.chat_id))


async def new_sponsor(update: Update, context: BotContext) -> None:
    """ "Name a new sponsor": after the sponsor left, or after a named sponsor said no."""
    query, row, group = _question(update, context)
    services = context.services
    with services.db.transaction() as session:
        intro = (
            IntroductionRepository(session).introduction(row.chat_id, row.user_id) if row else None
        )
    end = (row.pending_end_date if row else None) or (intro.end_date if intro else None)
    if (
        row is None
        or group is None
        or end is None
        or not may_name_new_sponsor(
            row.sponsor_lost_at is not None,
            answer_of(row.departure_answer),
            outcome_of(row.removal_outcome),
            end,
        )
    ):
        await query.answer(_("There is nothing to do here any more."), show_alert=True)
        return
    await OUT_OF_COUNTRY.start(
        update, context, OutOfCountry(row_id=row.id, chat_id=group.chat_id, end=end)
    )
