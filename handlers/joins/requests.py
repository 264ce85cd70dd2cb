"""Join requests: a member vouches for the person, or a moderator decides."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers.common import (
    group_label,
    in_group,
    personal_language,
    send_private,
    tell_moderators,
    user_info,
)
from handlers.introductions import deep_link, sponsor_problem
from handlers.render import esc, mention
from handlers.topics import send_to_group
from i18n import _, duration_text, use_locale
from moderation.introductions import Category
from moderation.topics import Purpose
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.models import JoinRequest
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def on_join_request(update: Update, context: BotContext) -> None:
    request = update.chat_join_request
    services = context.services
    if request is None:
        return
    group = services.settings.group(request.chat.id)
    if group is None:
        return
    with services.db.transaction() as session:
        RosterRepository(session).upsert_user(user_info(request.from_user), services.clock.now())
        row = IntroductionRepository(session).add_join_request(
            group.chat_id, request.from_user.id, services.clock.now()
        )
        row_id = row.id
    name = mention(request.from_user.id, request.from_user.full_name)

    def buttons(label: Callable[[Callable[[], str]], str]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        label(lambda: _("I sponsor them")), callback_data=f"jr:{row_id}:s"
                    )
                ],
                [
                    InlineKeyboardButton(
                        label(lambda: _("Approve (moderators)")), callback_data=f"jr:{row_id}:a"
                    ),
                    InlineKeyboardButton(
                        label(lambda: _("Decline (moderators)")), callback_data=f"jr:{row_id}:d"
                    ),
                ],
            ]
        )

    def text() -> str:
        return _(
            "{name} asks to join. Who sponsors them? A member who knows them can vouch and "
            "introduce them; without a sponsor within {wait} the request is declined.",
            name=name,
            wait=duration_text(group.membership.join_request_timeout),
        )

    if group.membership.join_requests_to == "group":
        notice = await send_to_group(
            context.bot,
            services,
            group.chat_id,
            in_group(services, group.chat_id, text),
            purpose=Purpose.INTRODUCTIONS,
            reply_markup=buttons(lambda render: group_label(services, group.chat_id, render)),
        )
        with services.db.transaction() as session:
            stored = IntroductionRepository(session).join_request(row_id)
            if stored is not None:
                stored.notice_message_id = notice.message_id
    else:
        await tell_moderators(context, text, reply_markup=lambda: buttons(lambda render: render()))
    # Telegram lets a bot write to a join requester for a few minutes.
    with use_locale(personal_language(services, request.from_user.id)):
        await send_private(
            context,
            request.user_chat_id,
            _(
                "Your request to join <b>{group}</b> was received. A member "
                "must sponsor you; you will hear from me when it is decided.",
                group=esc(group.title),
            ),
        )


@dataclass(frozen=True)
class Sponsorship:
    """A vouch for a join request: ``link`` (``/start jr_<id>``, the introduction) when the
    sponsor won it; else ``refusal`` (already decided, not entitled, someone was faster)."""

    request: JoinRequest | None
    link: str | None
    refusal: str | None
    decided: bool = False  # refused because the request is no longer open


async def sponsor_request(context: BotContext, request_id: int, sponsor_id: int) -> Sponsorship:
    """A member vouches for a join request ("I sponsor them": the chat's button and the Mini
    App): the request still open, the sponsor entitled (``sponsor_problem``), claimed once in
    the database (the first wins)."""
    services = context.services
    with services.db.transaction() as session:
        request = IntroductionRepository(session).join_request(request_id)
    if request is None or request.status not in ("open", "sponsored"):
        return Sponsorship(request, None, _("This request is already decided."), decided=True)
    # Where the requester is based is asked in the introduction, which checks it again.
    problem = sponsor_problem(services, request.chat_id, sponsor_id, Category.IN_COUNTRY)
    if problem:
        return Sponsorship(request, None, _("Sorry, {problem}.", problem=problem))
    with services.db.transaction() as session:
        won = IntroductionRepository(session).claim_sponsorship(request.id, sponsor_id)
    if not won:
        return Sponsorship(request, None, _("Someone else already sponsors them. Thank you!"))
    return Sponsorship(request, deep_link(context, f"jr_{request.id}"), None)


def sponsored_notice(
    context: BotContext, chat_id: int, sponsor: str, link: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The notice once sponsored (``sponsor`` a mention, HTML): who introduces the person, and
    a "Sponsor: introduce" button in case a client does not follow the link."""
    services = context.services
    text = in_group(
        services,
        chat_id,
        lambda: _(
            "{sponsor} sponsors this request and is introducing the person; it is approved "
            "once the introduction is given.",
            sponsor=sponsor,
        ),
    )
    label = group_label(services, chat_id, lambda: _("Sponsor: introduce"))
    return text, InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]])


async def on_join_request_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, _sponsor = query.data.split(
        ":"
    )  # jr:<id>:s (Approve/Decline: a guarded pattern)
    presser = query.from_user
    sponsored = await sponsor_request(context, int(raw_id), presser.id)
    if sponsored.link is None:
        await query.answer(sponsored.refusal, show_alert=True)
        return
    # Answering the press with a link to the bot takes the sponsor straight to the private
    # chat, where /start jr_<id> opens the introduction: no second button to find and tap.
    await query.answer(url=sponsored.link)
    chat_id = query.message.chat.id if query.message is not None else presser.id
    text, markup = sponsored_notice(
        context, chat_id, mention(presser.id, presser.full_name), sponsored.link
    )
    await query.edit_message_text(text, reply_markup=markup)


async def mark_sponsored(
    context: BotContext, request: JoinRequest, sponsor_id: int, name: str, link: str
) -> None:
    """A request sponsored elsewhere (the Mini App): its notice in the group says who sponsors
    it, as a press on its button would have made it say, with the same button."""
    if request.notice_message_id is None:
        return
    text, markup = sponsored_notice(context, request.chat_id, mention(sponsor_id, name), link)
    try:
        await context.bot.edit_message_text(
            text, chat_id=request.chat_id, message_id=request.notice_message_id, reply_markup=markup
        )
    except TelegramError as exc:
        log.info("join request %s: notice not updated: %s", request.id, exc)


async def decide_request(
    context: BotContext, request_id: int, approve: bool, moderator_id: int
) -> tuple[JoinRequest | None, str | None]:
    """A moderator's decision on a join request (the chat's Approve/Decline buttons and the
    Mini App): recorded once (who, when) and carried out in Telegram. Returns the request, or
    None when it was already decided or does not exist, and Telegram's refusal if any."""
    services = context.services
    status = "approved" if approve else "declined"
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        request = repo.join_request(request_id)
        decided = request is not None and repo.decide_join_request(
            request.id, status, moderator_id, services.clock.now()
        )
    if request is None or not decided:
        return None, None
    try:
        if approve:
            await context.bot.approve_chat_join_request(request.chat_id, request.user_id)
        else:
            await context.bot.decline_chat_join_request(request.chat_id, request.user_id)
    except TelegramError as exc:
        return request, exc.message
    return request, None


async def mark_notice(context: BotContext, request: JoinRequest, approve: bool, name: str) -> None:
    """A request decided elsewhere (the Mini App): its notice in the group says who decided,
    as a press on its button would have made it say, and loses its buttons."""
    if request.notice_message_id is None:
        return
    services, moderator = context.services, esc(name)
    if approve:
        text = in_group(
            services, request.chat_id, lambda: _("Request approved by {name}.", name=moderator)
        )
    else:
        text = in_group(
            services, request.chat_id, lambda: _("Request declined by {name}.", name=moderator)
        )
    try:
        await context.bot.edit_message_text(
            text, chat_id=request.chat_id, message_id=request.notice_message_id
        )
    except TelegramError as exc:
        log.info("join request %s: notice not updated: %s", request.id, exc)


async def decide_join_request(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, action = query.data.split(":")
    services = context.services
    request, refused = await decide_request(context, int(raw_id), action == "a", query.from_user.id)
    if request is None:
        await query.answer(_("This request is already decided."), show_alert=True)
        return
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    if refused is not None:
        error = esc(refused)
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Telegram refused: {error}", error=error))
        )
        return
    moderator = esc(query.from_user.full_name)
    if action == "a":
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Request approved by {name}.", name=moderator))
        )
    else:
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Request declined by {name}.", name=moderator))
        )
