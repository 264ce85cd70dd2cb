"""The named sponsor's one tap: confirm the out-of-country membership, or decline."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.lifecycle.common import (
    candidate,
    day_text,
    language_of,
    name_of,
    write_privately,
)
from handlers.render import esc
from i18n import _, use_locale
from moderation.sponsorship import (
    confirmation_problem,
    may_answer_request,
    sponsorship_cause,
)
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def sponsor_answer(update: Update, context: BotContext) -> None:
    """The named sponsor confirms (one tap) or declines."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, _kind, raw_id, answer = query.data.split(":")
    services = context.services
    sponsor = query.from_user
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(int(raw_id))
    group = services.settings.group(row.chat_id) if row else None
    if row is None or group is None or not may_answer_request(row.pending_sponsor_id, sponsor.id):
        await query.answer(_("This request is not for you, or no longer open."), show_alert=True)
        return
    member_id = row.user_id
    if answer == "n":
        with services.db.transaction() as session:
            LifecycleRepository(session).decline_sponsor(row.id, sponsor.id, services.clock.now())
        await query.answer()
        await query.edit_message_text(_("Understood; I will tell them."))
        with use_locale(language_of(services, member_id)):
            button = InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Name another sponsor"), callback_data=f"lc:ns:{row.id}")]]
            )
        await write_privately(
            context,
            member_id,
            lambda: _(
                "{name} cannot sponsor you. Please name another member who works in the country.",
                name=esc(sponsor.full_name),
            ),
            button,
        )
        return
    who = candidate(services, group.chat_id, sponsor.id)
    now = services.clock.now()
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, member_id)
        present = membership is not None and membership.present
        problem = confirmation_problem(who, member_id, present)
        end = None
        if problem is None:
            assert membership is not None
            repo = LifecycleRepository(session)
            intro = IntroductionRepository(session).introduction(
                group.chat_id, member_id
            ) or repo.veteran_introduction(group.chat_id, member_id, membership.joined_at, now)
            before, lost = intro.category, row.sponsor_lost_at is not None
            end = repo.confirm_sponsor(row.id, sponsor.id, intro, now)
            if end is not None:
                repo.record(
                    group.chat_id,
                    member_id,
                    now,
                    sponsorship_cause(lost, before, sponsor.id, end),
                    sponsor.id,
                    membership.status.value,
                    membership.status.value,
                )
    if problem is not None or end is None:
        await query.answer(
            _("Sorry, this cannot be done: {why}.", why=problem or _("no longer open")),
            show_alert=True,
        )
        return
    await query.answer()
    with services.db.transaction() as session:
        member = RosterRepository(session).user(member_id)
        intro_now = IntroductionRepository(session).introduction(group.chat_id, member_id)
    await query.edit_message_text(
        _(
            "Thank you! You sponsor {name} as an out-of-country member until {date}.",
            name=esc(name_of(member, intro_now, member_id)),
            date=day_text(end),
        )
    )
    await write_privately(
        context,
        member_id,
        lambda: _(
            "{sponsor} confirmed: you stay in <b>{group}</b> as an out-of-country member until "
            "{date}. Before then you and your sponsor will be asked whether to extend it.",
            sponsor=esc(sponsor.full_name),
            group=esc(group.title),
            date=day_text(end),
        ),
    )
