"""Answers to the departure question: "no" ends the membership; "yes" asks for an end
date and a sponsor in the country, who confirms with one tap."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date

from telegram import Update
from telegram.ext import (
    ConversationHandler,
)

from handlers.lifecycle.common import (
    OOC_END,
    OOC_SPONSOR,
    OutOfCountryForm,
    drop_form,
    form_of,
    keep_form,
    language_of,
    name_of,
    own_row,
    policy_of,
    sponsor_problem,
    today_of,
    when_text,
    write_privately,
)
from handlers.lifecycle.removal import (
    end_membership,
)
from handlers.lifecycle.render import (
    departure_buttons,
    departure_question,
    end_date_buttons,
    end_date_question,
    not_a_sponsor,
    original_sponsor_button,
    sponsor_asked,
    sponsor_question,
    sponsor_request,
    sponsor_request_buttons,
    sponsor_unreachable,
)
from handlers.render import esc
from handlers.targets import TargetError, resolve_target
from i18n import _, use_locale
from moderation.introductions import InputError, parse_date
from moderation.lifecycle import (
    Answer,
    Cause,
    ooc_end_problem,
)
from moderation.sponsorship import may_name_new_sponsor, records_stay
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository, answer_of, outcome_of
from storage.roster import RosterRepository

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


async def departure_no(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    with services.db.transaction() as session:
        answered = LifecycleRepository(session).answer_departure(
            row.id, Answer.LEAVE, services.clock.now()
        )
    if not answered:
        await query.answer(_("This question is already answered."), show_alert=True)
        return
    await query.answer()
    drop_form(context)
    await query.edit_message_text(_("You answered: you leave the group. Thank you!"))
    await end_membership(
        context, group, row.id, row.user_id, Cause.DEPARTURE_DECLINED, actor_id=row.user_id
    )


async def departure_yes(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None:
        await query.answer(_("This question is not for you."), show_alert=True)
        return ConversationHandler.END
    if records_stay(answer_of(row.departure_answer)):
        with services.db.transaction() as session:
            answered = LifecycleRepository(session).answer_departure(
                row.id, Answer.STAY, services.clock.now()
            )
        if not answered:
            await query.answer(_("This question is already answered."), show_alert=True)
            return ConversationHandler.END
    await query.answer()
    keep_form(context, OutOfCountryForm(row.id, group.chat_id))
    policy = policy_of(services, group)
    latest = today_of(services, group) + policy.out_of_country_max
    await query.edit_message_text(_("You answered: you keep supporting colleagues. Thank you!"))
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(
        end_date_question(policy.out_of_country_max.days, latest),
        reply_markup=end_date_buttons(row.id, latest),
    )
    return OOC_END


async def ooc_end(update: Update, context: BotContext) -> int:
    form = form_of(context)
    services = context.services
    group = services.settings.group(form.chat_id) if form else None
    chat = update.effective_chat
    if form is None or group is None or chat is None:
        return ConversationHandler.END
    policy = policy_of(services, group)
    today = today_of(services, group)
    if update.callback_query is not None:
        await update.callback_query.answer()
        end = today + policy.out_of_country_max
    else:
        text = update.effective_message.text if update.effective_message else ""
        try:
            end = parse_date(text or "", today)
        except InputError as error:
            await chat.send_message(esc(error))
            return OOC_END
        problem = ooc_end_problem(end, today, policy.out_of_country_max)
        if problem:
            await chat.send_message(esc(problem))
            return OOC_END
    with services.db.transaction() as session:
        LifecycleRepository(session).set_pending_end(form.row_id, end, services.clock.now())
    form = keep_form(context, replace(form, end=end))
    await _ask_for_sponsor(update, context, form, end)
    return OOC_SPONSOR


async def _ask_for_sponsor(
    update: Update, context: BotContext, form: OutOfCountryForm, end: date
) -> None:
    services = context.services
    chat = update.effective_chat
    assert chat is not None
    assert update.effective_user is not None
    user_id = update.effective_user.id
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(form.chat_id, user_id)
        original = (
            RosterRepository(session).user(intro.sponsor_id) if intro and intro.sponsor_id else None
        )
    one_tap = original is not None and not sponsor_problem(
        services, form.chat_id, original.id, user_id
    )
    await chat.send_message(
        sponsor_question(end, original.display_name if one_tap and original else None),
        reply_markup=original_sponsor_button(original.id, original.display_name)
        if one_tap and original
        else None,
    )


async def ooc_sponsor(update: Update, context: BotContext) -> int:
    form = form_of(context)
    services = context.services
    chat, user = update.effective_chat, update.effective_user
    group = services.settings.group(form.chat_id) if form else None
    if form is None or form.end is None or group is None or chat is None or user is None:
        return ConversationHandler.END
    query = update.callback_query
    if query is not None and query.data is not None:
        await query.answer()
        words = [query.data.rsplit(":", 1)[1]]
    else:
        words = ((update.effective_message.text if update.effective_message else "") or "").split()
    try:
        target = resolve_target(services, group.chat_id, None, words[:4])
    except TargetError as error:
        await chat.send_message(str(error))
        return OOC_SPONSOR
    problem = sponsor_problem(services, group.chat_id, target.user_id, user.id)
    if problem:
        await chat.send_message(not_a_sponsor(target.name, problem))
        return OOC_SPONSOR
    end = form.end
    policy = policy_of(services, group)
    with services.db.transaction() as session:
        member = RosterRepository(session).user(user.id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user.id)
    member_name = name_of(member, intro, user.id)
    row_id = form.row_id
    with use_locale(language_of(services, target.user_id)):
        buttons = sponsor_request_buttons(row_id)
    reached = await write_privately(
        context,
        target.user_id,
        lambda: sponsor_request(user.id, member_name, end, group.title),
        buttons,
    )
    if not reached:
        await chat.send_message(sponsor_unreachable(target.name))
        return OOC_SPONSOR
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        repo.ask_sponsor(row_id, target.user_id, end, now)
        row = repo.row(row_id)
    facts_deadline = (row.pending_since or now) + policy.sponsor_grace if row else now
    drop_form(context)
    await chat.send_message(sponsor_asked(target.name, when_text(facts_deadline, policy)))
    return ConversationHandler.END


async def new_sponsor(update: Update, context: BotContext) -> int:
    """ "Name a new sponsor": after the sponsor left, or after a named sponsor said no."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = context.services
    row = own_row(services, int(query.data.split(":")[2]), query.from_user.id)
    group = services.settings.group(row.chat_id) if row else None
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
        return ConversationHandler.END
    await query.answer()
    form = keep_form(context, OutOfCountryForm(row.id, group.chat_id, end))
    await _ask_for_sponsor(update, context, form, end)
    return OOC_SPONSOR


async def cancel(update: Update, context: BotContext) -> int:
    drop_form(context)
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _("Stopped. You can answer again with the buttons on my question.")
        )
    return ConversationHandler.END
