"""Moderators' views and actions: ``/expiring``, ``/stale``, ``/readmit``."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError

from handlers.introductions import _create_invitation
from handlers.lifecycle.common import (
    group_for,
    name_of,
    policy_of,
    record_event,
    today_of,
    trusted,
    write_privately,
)
from handlers.lifecycle.render import coming_text, expiring_lines, stale_lines
from handlers.render import chunk_lines, esc, esc_attr, mention
from handlers.targets import TargetError, resolve_target
from i18n import _
from moderation.durations import DurationError, parse_duration
from moderation.introductions import Category, InputError
from moderation.lifecycle import coming_up, stale_since
from moderation.lifecycle_input import readmission_terms
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def expiring(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    try:
        window = parse_duration(context.args[0]) if context.args else timedelta(days=30)
    except DurationError as error:
        await message.reply_text(esc(error))
        return
    now = services.clock.now()
    lines: list[str] = []
    for group in services.settings.groups:
        policy = policy_of(services, group)
        today = today_of(services, group)
        with services.db.transaction() as session:
            entries = LifecycleRepository(session).entries(group.chat_id, now, trusted(services))
            roster = RosterRepository(session)
            names = {
                e.intro.sponsor_id: u.display_name
                for e in entries
                if e.intro and e.intro.sponsor_id and (u := roster.user(e.intro.sponsor_id))
            }
        items = [
            (
                at,
                coming_text(
                    coming,
                    at,
                    e.facts,
                    mention(e.user.id, name_of(e.user, e.intro)),
                    policy,
                    names.get(e.facts.sponsor_id or 0, "—"),
                ),
            )
            for e in entries
            for coming, at in coming_up(e.facts, policy, now, today, window)
        ]
        lines += expiring_lines(group.title, window.days, items)
    for chunk in chunk_lines(lines):
        await message.reply_text(chunk)


async def stale(update: Update, context: BotContext) -> None:
    message = update.effective_message
    assert message is not None
    services = context.services
    now = services.clock.now()
    lines: list[str] = []
    for group in services.settings.groups:
        policy = policy_of(services, group)
        with services.db.transaction() as session:
            entries = LifecycleRepository(session).entries(group.chat_id, now, trusted(services))
        found = [
            (since, e) for e in entries if (since := stale_since(e.facts, policy, now)) is not None
        ]
        lines += stale_lines(group.title, policy, found)
    for chunk in chunk_lines(lines):
        await message.reply_text(chunk)


async def readmit(update: Update, context: BotContext) -> None:
    """Undo a removal: lift any ban and make a fresh sponsored link, pre-filled as before."""
    message, moderator = update.effective_message, update.effective_user
    assert message is not None and moderator is not None
    services = context.services
    group = group_for(services, update, moderator.id)
    try:
        target = resolve_target(services, group.chat_id, message, list(context.args or []))
    except TargetError as error:
        await message.reply_text(str(error))
        return
    today = today_of(services, group)
    policy = policy_of(services, group)
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        membership = roster.membership(group.chat_id, target.user_id)
        user = roster.user(target.user_id)
        intro = IntroductionRepository(session).introduction(group.chat_id, target.user_id)
        mine = roster.membership(group.chat_id, moderator.id)
    if membership is not None and membership.present:
        await message.reply_text(
            _("{name} is still a member of {group}.", name=esc(target.name), group=esc(group.title))
        )
        return
    if user is None:
        await message.reply_text(_("I know nothing about that person any more."))
        return
    try:
        terms = readmission_terms(
            target.rest, intro.category if intro else None, today, policy.out_of_country_max
        )
    except InputError as error:
        await message.reply_text(esc(error))
        return
    category, end = terms.category, terms.end
    try:
        await context.bot.unban_chat_member(group.chat_id, target.user_id, only_if_banned=True)
    except TelegramError as exc:
        log.info("could not lift a ban on %s: %s", target.user_id, exc)
    first = (intro.first_name if intro and intro.first_name else user.first_name)[:64]
    last = (intro.last_name if intro and intro.last_name else user.last_name or "")[:64]
    form = {
        "mode": "invite",
        "chat_id": group.chat_id,
        "first_name": first,
        "last_name": last,
        "organisation": (intro.organisation if intro and intro.organisation else "")[:100],
        "role": (intro.role if intro and intro.role else "")[:100],
        "cluster": intro.cluster if intro else None,
        "location": intro.location if intro else None,
        "category": category,
        "end_date": end,
        "reason": intro.reason if intro and category is Category.OUT_OF_COUNTRY else None,
    }
    await _create_invitation(update, context, form)
    with services.db.transaction() as session:
        invitation = next(
            (
                i
                for i in IntroductionRepository(session).open_invitations(moderator.id)
                if i.chat_id == group.chat_id
                and i.link_url
                and (i.first_name, i.last_name) == (first, last)
            ),
            None,
        )
    if invitation is None or invitation.link_url is None:
        return  # _create_invitation has explained what went wrong
    record_event(
        services,
        group.chat_id,
        target.user_id,
        "moderator: readmission offered with a fresh sponsored link",
        moderator.id,
    )
    sent = user.reachable and await write_privately(
        context,
        target.user_id,
        lambda: _(
            "A moderator invites you back to <b>{group}</b>. This link works once: {link}",
            group=esc(group.title),
            link=esc_attr(invitation.link_url),
        ),
    )
    notes = [
        _("I sent the link to {name}.", name=esc(target.name))
        if sent
        else _("I cannot write to {name}: please forward the link.", name=esc(target.name))
    ]
    if mine is None or not mine.present:
        notes.append(
            _(
                "You are not a member of the group yourself, so when they join they are held "
                "until a moderator presses “I sponsor them”."
            )
        )
    await message.reply_text(" ".join(notes))
