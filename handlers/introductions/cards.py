"""The introduction card in the group, and completing an introduction when both halves exist."""

from __future__ import annotations

import logging
from datetime import date, datetime

from telegram import ChatPermissions, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from handlers.common import group_label, in_group, send_private
from handlers.contacts.optin import ask_listing_at_arrival
from handlers.introductions.render import card_text
from handlers.topics import send_to_group
from i18n import _
from moderation.introductions import Category, IntroStatus, may_sponsor
from moderation.topics import Purpose
from runtime.context import BotContext, Services
from storage.contacts import ContactRepository
from storage.introductions import IntroductionRepository
from storage.models import Introduction
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


def deep_link(context: BotContext, payload: str) -> str:
    return f"https://t.me/{context.bot.username}?start={payload}"


def today_in(services: Services, chat_id: int) -> date:
    group = services.settings.group(chat_id)
    assert group is not None
    return services.clock.now().astimezone(services.settings.group_timezone(group)).date()


def sponsor_problem(
    services: Services, chat_id: int, user_id: int, newcomer_category: Category
) -> str | None:
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        own = IntroductionRepository(session).introduction(chat_id, user_id)
    present = membership is not None and membership.present
    return may_sponsor(
        present,
        own.category if own else None,
        newcomer_category,
        own.status if own else None,
    )


def card_buttons(context: BotContext, intro: Introduction) -> InlineKeyboardMarkup | None:
    """The card's buttons, labelled in the group's language(s)."""
    if intro.status is IntroStatus.COMPLETE:
        return None
    services = context.services
    rows = []
    if intro.sponsor_id is not None and intro.sponsor_done_at is None:
        rows.append(
            [
                InlineKeyboardButton(
                    group_label(services, intro.chat_id, lambda: _("Sponsor: introduce")),
                    url=deep_link(context, f"intro_{intro.id}"),
                )
            ]
        )
    if intro.confirmed_at is None:
        rows.append(
            [
                InlineKeyboardButton(
                    group_label(services, intro.chat_id, lambda: _("Newcomer: confirm my details")),
                    url=deep_link(context, f"confirm_{intro.id}"),
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None


async def post_or_update_card(context: BotContext, intro_id: int) -> None:
    """One introduction card per newcomer in the group, edited as it progresses."""
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
    if intro is None:
        return
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        newcomer = roster.user(intro.user_id)
        sponsor = roster.user(intro.sponsor_id) if intro.sponsor_id else None
        sponsor_intro = (
            IntroductionRepository(session).introduction(intro.chat_id, sponsor.id)
            if sponsor
            else None
        )
    assert newcomer is not None
    text = in_group(
        services, intro.chat_id, lambda: card_text(intro, newcomer, sponsor, sponsor_intro)
    )
    markup = card_buttons(context, intro)
    if intro.card_message_id is not None:
        try:
            await context.bot.edit_message_text(
                text, intro.chat_id, intro.card_message_id, reply_markup=markup
            )
            return
        except TelegramError as exc:  # deleted by someone: post a fresh one
            log.info("could not edit introduction card %s: %s", intro.card_message_id, exc)
    message = await send_to_group(
        context.bot,
        services,
        intro.chat_id,
        text,
        purpose=Purpose.INTRODUCTIONS,
        reply_markup=markup,
    )
    with services.db.transaction() as session:
        stored = IntroductionRepository(session).introduction_by_id(intro_id)
        if stored is not None:
            stored.card_message_id = message.message_id


def prefill_contact(contacts: ContactRepository, intro: Introduction, now: datetime) -> None:
    """A completed introduction pre-fills the directory entry once; it stays opt-in (not
    findable until the person consents) and never overwrites what the person wrote."""
    if contacts.by_user(intro.user_id) is not None or not intro.first_name:
        return
    contacts.upsert_from_introduction(
        intro.user_id,
        intro.first_name,
        intro.last_name,
        intro.organisation or "",
        intro.role or "",
        intro.cluster,
        intro.location,
        now,
    )


async def complete_if_ready(context: BotContext, intro_id: int) -> None:
    """When both halves exist: mark complete, lift the read-only hold, update the card."""
    services = context.services
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intro = repo.introduction_by_id(intro_id)
        done = (
            intro is not None
            and intro.complete
            and repo.claim_status(
                intro_id, IntroStatus.PENDING, IntroStatus.COMPLETE, services.clock.now()
            )
        )
        if intro is not None and done:
            prefill_contact(ContactRepository(session), intro, services.clock.now())
    if intro is not None and done:
        group = services.settings.group(intro.chat_id)
        if group is not None and group.membership.restrict_until_introduced:
            try:
                await context.bot.restrict_chat_member(
                    intro.chat_id, intro.user_id, ChatPermissions.all_permissions()
                )
            except TelegramError as exc:
                log.warning("could not lift the hold on %s: %s", intro.user_id, exc)
        await send_private(
            context,
            intro.user_id,
            lambda: _(
                "Thank you! Your introduction is complete and you can now write in the group."
            ),
        )
        # The directory entry the introduction pre-filled: asked here, at arrival, once.
        await ask_listing_at_arrival(context, intro.user_id)
    if intro is not None:
        await post_or_update_card(context, intro_id)
