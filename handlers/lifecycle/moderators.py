"""Moderators' views and actions: ``/expiring``, ``/stale``, ``/readmit``."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

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
    when_text,
    write_privately,
)
from handlers.render import chunk_lines, esc, esc_attr, mention
from handlers.targets import TargetError, resolve_target
from i18n import _, weekday_date_text
from moderation.durations import DurationError, parse_duration
from moderation.introductions import Category, InputError
from moderation.lifecycle import (
    Outcome,
    act_time,
    departure_deadline,
    expiry_at,
    sponsor_deadline,
    stale_since,
)
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
        items: list[tuple[datetime, str]] = []
        for e in entries:
            f, who = e.facts, mention(e.user.id, name_of(e.user, e.intro))
            deadline = departure_deadline(f, policy)
            if f.removal_outcome in (Outcome.PROTECTED, Outcome.FAILED):
                items.append(
                    (
                        now,
                        _(
                            "⚠ {who}: removal ({cause}) refused by Telegram ({outcome}) — "
                            "needs you",
                            who=who,
                            cause=esc(f.removal_cause.value if f.removal_cause else "?"),
                            outcome=esc(f.removal_outcome.value),
                        ),
                    )
                )
            elif deadline is not None:
                waiting = (
                    _("waiting for sponsor confirmation")
                    if f.pending_sponsor_id
                    else _("waiting for their answer")
                )
                items.append(
                    (
                        deadline,
                        _(
                            "{who}: departed; {waiting}; leaves {when} otherwise",
                            who=who,
                            waiting=waiting,
                            when=when_text(deadline, policy),
                        ),
                    )
                )
            elif f.departure_date is not None and f.departure_date <= today + timedelta(
                days=window.days
            ):
                items.append(
                    (
                        act_time(f.departure_date, policy),
                        _(
                            "{who}: leaves the country {date}",
                            who=who,
                            date=weekday_date_text(f.departure_date),
                        ),
                    )
                )
            if f.category is Category.OUT_OF_COUNTRY and not f.sponsor_ok:
                lost = sponsor_deadline(f, policy) or now
                items.append(
                    (
                        lost,
                        _(
                            "{who}: outside the country without a sponsor; removed {when} "
                            "unless a new sponsor confirms",
                            who=who,
                            when=when_text(lost, policy),
                        ),
                    )
                )
            ends = expiry_at(f, policy)
            if ends is not None and f.end_date is not None and ends <= now + window:
                items.append(
                    (
                        ends,
                        _(
                            "{who}: {category} until {date}; sponsor {sponsor}",
                            who=who,
                            category=esc(f.category.label if f.category else ""),
                            date=weekday_date_text(f.end_date),
                            sponsor=esc(names.get(f.sponsor_id or 0, "—")),
                        ),
                    )
                )
        lines.append(
            _(
                "<b>{group}</b>: departures and expiries in the next {days} days",
                group=esc(group.title),
                days=window.days,
            )
        )
        lines.extend(f"• {text}" for _when, text in sorted(items, key=lambda i: i[0]))
        if not items:
            lines.append(_("nothing coming up"))
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
        lines.append(
            _(
                "<b>{group}</b>: members who did not answer the check-in within {days} days",
                group=esc(group.title),
                days=policy.checkin_grace.days,
            )
        )
        for _since, e in sorted(found, key=lambda i: i[0]):
            asked = e.row.checkin_asked_at
            assert asked is not None
            lines.append(
                _(
                    "• {who} — asked {date}{unreachable}",
                    who=mention(e.user.id, name_of(e.user, e.intro)),
                    date=weekday_date_text(asked.astimezone(policy.timezone).date()),
                    unreachable="" if e.user.reachable else _(" (cannot be written to privately)"),
                )
            )
        if not found:
            lines.append(_("everyone answered"))
        lines.append(
            _("They are removed automatically.")
            if policy.checkin_removes
            else _("They are not removed automatically (checkin_removes is off).")
        )
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
