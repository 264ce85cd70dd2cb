"""Answers to the departure question: "no" ends the membership; "yes" asks for an end
date and a sponsor in the country, who confirms with one tap."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ConversationHandler,
)

from handlers.lifecycle.common import (
    FORM,
    OOC_END,
    OOC_SPONSOR,
    day_text,
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
)
from handlers.render import esc, mention
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
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
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
    context.user_data[FORM] = {"row": row.id, "chat_id": group.chat_id}  # type: ignore[index]
    policy = policy_of(services, group)
    latest = today_of(services, group) + policy.out_of_country_max
    await query.edit_message_text(_("You answered: you keep supporting colleagues. Thank you!"))
    await query.message.chat.send_message(  # type: ignore[union-attr]
        _(
            "Until when will you support colleagues in the country? Type the end date (at most "
            "{days} days: on or before {latest}), e.g. 2026-12-20, 20 Dec or in 6 weeks. "
            "/cancel to stop.",
            days=policy.out_of_country_max.days,
            latest=day_text(latest),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Until {date}", date=f"{latest:%d %b %Y}"),
                        callback_data=f"lc:max:{row.id}",
                    )
                ]
            ]
        ),
    )
    return OOC_END


def _form(context: BotContext) -> dict[str, Any]:
    return context.user_data.setdefault(FORM, {})  # type: ignore[union-attr, no-any-return]


async def ooc_end(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    group = services.settings.group(form.get("chat_id", 0))
    chat = update.effective_chat
    if group is None or chat is None:
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
        LifecycleRepository(session).set_pending_end(form["row"], end, services.clock.now())
    form["end"] = end.isoformat()
    await _ask_for_sponsor(update, context, form)
    return OOC_SPONSOR


async def _ask_for_sponsor(update: Update, context: BotContext, form: dict[str, Any]) -> None:
    services = context.services
    chat = update.effective_chat
    assert chat is not None
    user_id = update.effective_user.id  # type: ignore[union-attr]
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(form["chat_id"], user_id)
        original = (
            RosterRepository(session).user(intro.sponsor_id) if intro and intro.sponsor_id else None
        )
    buttons = None
    if original is not None and not sponsor_problem(
        services, form["chat_id"], original.id, user_id
    ):
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("{name} (your sponsor)", name=original.display_name)[:60],
                        callback_data=f"lc:who:{original.id}",
                    )
                ]
            ]
        )
    text = (
        _(
            "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
            "works in the country; they confirm with one tap. Type their @username or name, "
            "or press the button.",
            date=day_text(date.fromisoformat(form["end"])),
        )
        if buttons
        else _(
            "Until <b>{date}</b>. Who sponsors you in the country? It must be a member who "
            "works in the country; they confirm with one tap. Type their @username or name.",
            date=day_text(date.fromisoformat(form["end"])),
        )
    )
    await chat.send_message(text, reply_markup=buttons)


async def ooc_sponsor(update: Update, context: BotContext) -> int:
    form = _form(context)
    services = context.services
    chat, user = update.effective_chat, update.effective_user
    group = services.settings.group(form.get("chat_id", 0))
    if group is None or chat is None or user is None or "end" not in form:
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
        await chat.send_message(
            _(
                "Sorry, {name} cannot sponsor you: {why}. Please name someone else.",
                name=esc(target.name),
                why=esc(problem),
            )
        )
        return OOC_SPONSOR
    end = date.fromisoformat(form["end"])
    policy = policy_of(services, group)
    with services.db.transaction() as session:
        member = RosterRepository(session).user(user.id)
        intro = IntroductionRepository(session).introduction(group.chat_id, user.id)
    member_name = name_of(member, intro, user.id)
    row_id = form["row"]
    with use_locale(language_of(services, target.user_id)):
        buttons = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("I sponsor them"), callback_data=f"lc:sp:{row_id}:y"),
                    InlineKeyboardButton(_("No"), callback_data=f"lc:sp:{row_id}:n"),
                ]
            ]
        )
    reached = await write_privately(
        context,
        target.user_id,
        lambda: _(
            "{name} works outside the country from now on but keeps directly supporting IM "
            "colleagues here, until {date}. They ask you to sponsor their out-of-country "
            "membership of <b>{group}</b>. Do you?",
            name=mention(user.id, member_name),
            date=day_text(end),
            group=esc(group.title),
        ),
        buttons,
    )
    if not reached:
        await chat.send_message(
            _(
                "I cannot write to {name}: they have not started a chat with me. Ask them to "
                "send me /start, then name them again — or name someone else.",
                name=esc(target.name),
            )
        )
        return OOC_SPONSOR
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = LifecycleRepository(session)
        repo.ask_sponsor(row_id, target.user_id, end, now)
        row = repo.row(row_id)
    facts_deadline = (row.pending_since or now) + policy.sponsor_grace if row else now
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    await chat.send_message(
        _(
            "I asked {name} to confirm. I will tell you when they answer; without a confirmed "
            "sponsor by {deadline} you leave the group, with thanks.",
            name=esc(target.name),
            deadline=when_text(facts_deadline, policy),
        )
    )
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
    form = {"row": row.id, "chat_id": group.chat_id, "end": end.isoformat()}
    context.user_data[FORM] = form  # type: ignore[index]
    await _ask_for_sponsor(update, context, form)
    return OOC_SPONSOR


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(FORM, None)  # type: ignore[union-attr]
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _("Stopped. You can answer again with the buttons on my question.")
        )
    return ConversationHandler.END
