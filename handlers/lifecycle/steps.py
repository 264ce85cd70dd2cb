"""The steps the sweep takes for one member: ask, notify, report a lost sponsor, remove."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from config.schema import GroupConfig
from handlers.common import (
    send_private,
    tell_moderators,
)
from handlers.introductions import deep_link
from handlers.lifecycle.common import (
    language_of,
    name_of,
    policy_of,
    trusted,
    when_text,
    write_privately,
)
from handlers.lifecycle.removal import (
    end_membership,
)
from handlers.lifecycle.render import (
    checkin_buttons,
    checkin_question,
    departure_buttons,
    departure_question,
    expiry_buttons,
    expiry_notice,
    expiry_question,
    expiry_question_to_moderators,
    sponsor_lost_notice,
    sponsor_lost_report,
)
from handlers.render import mention
from i18n import _, use_locale
from moderation.lifecycle import (
    Kind,
    Policy,
    Step,
    next_step,
)
from moderation.lifecycle_notices import ExpiryReader, expiry_readers
from runtime.context import BotContext
from storage.lifecycle import Entry, LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def ask_departure(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_departure_question(entry.row.id, now):
            return
        row = LifecycleRepository(session).row(entry.row.id)
    assert row is not None
    user_id = entry.user.id
    with use_locale(language_of(services, entry.user.id)):
        text, buttons = departure_question(group, row, policy), departure_buttons(row.id)
    if await send_private(context, user_id, text, reply_markup=buttons):
        return
    # Never started the bot: a neutral mention in the group (no dates), with a deep link.
    await context.bot.send_message(
        group.chat_id,
        _(
            "{who}, I have a question for you about your membership. Please tap the button "
            "to answer privately.",
            who=mention(user_id, name_of(entry.user, entry.intro)),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Answer privately"), url=deep_link(context, f"departure_{row.id}")
                    )
                ]
            ]
        ),
    )


async def notify_expiry(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    intro, end = entry.intro, entry.facts.end_date
    if intro is None or end is None:
        return
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_expiry_notice(
            entry.row.id, end, services.clock.now()
        ):
            return
        sponsor = RosterRepository(session).user(intro.sponsor_id) if intro.sponsor_id else None
    name = name_of(entry.user, intro)
    sponsor_name = sponsor.display_name if sponsor else None
    await write_privately(
        context, entry.user.id, lambda: expiry_notice(group.title, end, sponsor_name)
    )
    handle = f"@{entry.user.username}" if entry.user.username else name
    max_days = policy.out_of_country_max.days

    def ask() -> str:
        return expiry_question(name, group.title, end, handle, max_days)

    def buttons() -> InlineKeyboardMarkup:
        return expiry_buttons(entry.row.id)

    # Each reader gets the question and the buttons in their own language.
    for reader in expiry_readers(sponsor is not None):
        if reader is ExpiryReader.SPONSOR:
            assert sponsor is not None
            if await send_private(context, sponsor.id, ask, reply_markup=buttons):
                return
        else:
            await tell_moderators(
                context, lambda: expiry_question_to_moderators(ask(), sponsor_name), buttons
            )


async def sponsor_lost(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> None:
    services = context.services
    now = services.clock.now()
    intro = entry.intro
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_sponsor_lost(
            entry.row.id, now, intro.end_date if intro else None
        ):
            return
        old = (
            RosterRepository(session).user(intro.sponsor_id) if intro and intro.sponsor_id else None
        )
    deadline = when_text(now + policy.sponsor_grace, policy)
    old_name = old.display_name if old else _("unknown")
    row_id = entry.row.id
    with use_locale(language_of(services, entry.user.id)):
        button = InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Name a new sponsor"), callback_data=f"lc:ns:{row_id}")]]
        )
    reached = await write_privately(
        context,
        entry.user.id,
        lambda: sponsor_lost_notice(old_name, group.title, deadline),
        button,
    )
    name = name_of(entry.user, intro)
    await tell_moderators(
        context, sponsor_lost_report(name, old_name, group.title, deadline, reached)
    )


async def ask_checkin(
    context: BotContext, group: GroupConfig, entry: Entry, policy: Policy
) -> bool:
    """Ask privately; False when the member cannot be written to (mentioned in the group)."""
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        if not LifecycleRepository(session).claim_checkin(
            entry.row.id, entry.row.checkin_asked_at, now
        ):
            return True
    with use_locale(language_of(services, entry.user.id)):
        text, buttons = checkin_question(group, policy, now), checkin_buttons(entry.row.id)
    return await send_private(context, entry.user.id, text, reply_markup=buttons)


async def act(
    context: BotContext, group: GroupConfig, policy: Policy, entry: Entry, step: Step
) -> bool:
    """Carry out one step; False when a check-in could not be delivered privately."""
    match step.kind:
        case Kind.REMOVE:
            assert step.cause is not None
            await end_membership(context, group, entry.row.id, entry.user.id, step.cause)
        case Kind.ASK_DEPARTURE:
            await ask_departure(context, group, entry, policy)
        case Kind.NOTIFY_EXPIRY:
            await notify_expiry(context, group, entry, policy)
        case Kind.SPONSOR_LOST:
            await sponsor_lost(context, group, entry, policy)
        case Kind.SPONSOR_BACK:
            with context.services.db.transaction() as session:
                LifecycleRepository(session).clear_sponsor_lost(
                    entry.row.id, context.services.clock.now()
                )
        case Kind.ASK_CHECKIN:
            return await ask_checkin(context, group, entry, policy)
        case Kind.NOTHING:
            pass
    return True


async def run_member(context: BotContext, group: GroupConfig, user_id: int) -> None:
    """Do at once whatever is due for one member (after they or a moderator changed something)."""
    services = context.services
    policy = policy_of(services, group)
    now = services.clock.now()
    with services.db.transaction() as session:
        entry = LifecycleRepository(session).entry(group.chat_id, user_id, now, trusted(services))
    if entry is not None:
        await act(context, group, policy, entry, next_step(entry.facts, policy, now))
