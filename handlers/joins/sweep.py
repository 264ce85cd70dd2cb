"""The introductions sweep: remind incomplete introductions, remove newcomers past the
deadline, expire join requests and links. Safe to re-run."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from telegram.error import BadRequest, Forbidden, TelegramError

from config.schema import GroupConfig
from handlers.common import in_group, personal_language, send_private, tell_moderators
from handlers.introductions import deep_link
from handlers.joins.render import (
    Reminder,
    confirm_keyboard,
    group_reminder_text,
    held_reminder_text,
    introduce_keyboard,
    reminder_text,
)
from handlers.removal import Removal, remove_member
from handlers.render import esc
from handlers.topics import send_to_group
from i18n import _, duration_text, use_locale
from moderation.introductions import (
    Action,
    IntroStatus,
    introduction_due,
    introduction_next_at,
)
from moderation.topics import Purpose
from runtime.context import App, BotContext, Services, services_of
from storage.introductions import IntroductionRepository
from storage.models import Introduction, JoinRequest
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


async def sweep(app: App) -> None:
    """Remind, remove past the deadline, expire join requests and links. Safe to re-run."""
    services = services_of(app)
    context = BotContext(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        repo.expire_invitations(now)
        incomplete = list(repo.incomplete())
        requests = list(repo.open_join_requests())
    for intro in incomplete:
        group = services.settings.group(intro.chat_id)
        if group is None or intro.joined_at is None:
            continue
        policy = group.membership
        due = introduction_due(
            intro.joined_at,
            intro.reminders_sent,
            now,
            policy.introduction_reminders,
            policy.introduction_deadline,
        )
        if due.action is Action.REMIND:
            with services.db.transaction() as session:
                claimed = IntroductionRepository(session).claim_reminder(
                    intro.id, intro.reminders_sent, due.reminder_number
                )
            if claimed:
                await _remind(context, group, intro)
        elif due.action is Action.REMOVE:
            with services.db.transaction() as session:
                claimed = IntroductionRepository(session).claim_status(
                    intro.id, intro.status, IntroStatus.REMOVED, now
                )
            if claimed:
                await _remove_late(context, group, intro)
    for request in requests:
        group = services.settings.group(request.chat_id)
        if group is None or now < request.requested_at + group.membership.join_request_timeout:
            continue
        await _expire_request(context, group, request)


def next_introduction_step(services: Services, now: datetime) -> datetime | None:
    """For stepping virtual time: the next reminder or deadline of an unfinished introduction,
    or the end of an open join request's wait."""
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        incomplete = list(repo.incomplete())
        requests = list(repo.open_join_requests())
    moments: list[datetime | None] = []
    for intro in incomplete:
        group = services.settings.group(intro.chat_id)
        if group is not None and intro.joined_at is not None:
            policy = group.membership
            moments.append(
                introduction_next_at(
                    intro.joined_at,
                    now,
                    policy.introduction_reminders,
                    policy.introduction_deadline,
                )
            )
    for request in requests:
        group = services.settings.group(request.chat_id)
        if group is not None:
            moments.append(request.requested_at + group.membership.join_request_timeout)
    return min((m for m in moments if m is not None and m > now), default=None)


async def _remind(context: BotContext, group: GroupConfig, intro: Introduction) -> None:
    with context.services.db.transaction() as session:
        newcomer = RosterRepository(session).user(intro.user_id)
    reminder = Reminder(
        newcomer=newcomer.display_name if newcomer else None,
        group=group.title,
        deadline=group.membership.introduction_deadline,
    )
    confirm_link = deep_link(context, f"confirm_{intro.id}")
    introduce_link = deep_link(context, f"intro_{intro.id}")
    unreached: list[int] = []
    if intro.confirmed_at is None and not await send_private(
        context,
        intro.user_id,
        lambda: reminder_text(reminder),
        reply_markup=lambda: confirm_keyboard(confirm_link),
    ):
        unreached.append(intro.user_id)
    if (
        intro.sponsor_id is not None
        and intro.sponsor_done_at is None
        and not await send_private(
            context,
            intro.sponsor_id,
            lambda: reminder_text(reminder),
            reply_markup=lambda: introduce_keyboard(introduce_link),
        )
    ):
        unreached.append(intro.sponsor_id)
    if intro.status is IntroStatus.HELD:
        await tell_moderators(context, lambda: held_reminder_text(reminder))
    if unreached:
        # People who never started the bot: one short mention in the group, with the buttons.
        with context.services.db.transaction() as session:
            roster = RosterRepository(session)
            people = [roster.user(uid) for uid in unreached]
        named = replace(reminder, unreached=tuple((p.id, p.display_name) for p in people if p))
        await send_to_group(
            context.bot,
            context.services,
            group.chat_id,
            in_group(context.services, group.chat_id, lambda: group_reminder_text(named)),
            purpose=Purpose.INTRODUCTIONS,
        )


async def _remove_late(context: BotContext, group: GroupConfig, intro: Introduction) -> None:
    deadline = group.membership.introduction_deadline
    result = await remove_member(
        context,
        intro.chat_id,
        intro.user_id,
        lambda: _(
            "the introduction was not completed within {deadline}",
            deadline=duration_text(deadline),
        ),
        cause="introduction overdue",
    )
    removed = result in (Removal.REMOVED, Removal.NOT_PRESENT)
    with context.services.db.transaction() as session:
        newcomer = RosterRepository(session).user(intro.user_id)
    name = esc(newcomer.display_name if newcomer else intro.user_id)
    title = esc(group.title)
    if intro.sponsor_id is not None:
        await send_private(
            context,
            intro.sponsor_id,
            lambda: (
                _(
                    "{name}, whom you sponsored, was removed from <b>{group}</b>: the introduction "
                    "was not completed in time. You can invite them again with /invite.",
                    name=name,
                    group=title,
                )
                if removed
                else _(
                    "{name}, whom you sponsored, could not be removed from <b>{group}</b> (the "
                    "moderators were told why): the introduction was not completed in time.",
                    name=name,
                    group=title,
                )
            ),
        )
    await tell_moderators(
        context,
        lambda: (
            _(
                "{name} was removed from <b>{group}</b>: introduction not completed in time.",
                name=name,
                group=title,
            )
            if removed
            else _(
                "{name} could not be removed from <b>{group}</b> (see above): introduction not "
                "completed in time.",
                name=name,
                group=title,
            )
        ),
    )
    await send_private(
        context,
        intro.user_id,
        lambda: _(
            "You were removed from <b>{group}</b> because your introduction was not completed "
            "in time. You are welcome back: ask a member to sponsor you again.",
            group=title,
        ),
    )


async def _expire_request(context: BotContext, group: GroupConfig, request: JoinRequest) -> None:
    services = context.services
    with services.db.transaction() as session:
        decided = IntroductionRepository(session).decide_join_request(
            request.id, "expired", None, services.clock.now()
        )
    if not decided:
        return
    try:
        await context.bot.decline_chat_join_request(request.chat_id, request.user_id)
    except BadRequest as exc:
        log.info("join request %s already gone: %s", request.id, exc)
    if request.notice_message_id is not None:
        try:
            await context.bot.edit_message_text(
                in_group(
                    services,
                    request.chat_id,
                    lambda: _(
                        "Nobody completed a sponsorship in time, so the request was declined."
                    ),
                ),
                request.chat_id,
                request.notice_message_id,
            )
        except TelegramError as exc:
            log.info("could not edit join request notice: %s", exc)
    try:
        # Not send_private: a join requester never "started" the bot, yet may be written to.
        with use_locale(personal_language(services, request.user_id)):
            await context.bot.send_message(
                request.user_id,
                _(
                    "Your request to join <b>{group}</b> was declined because no member "
                    "sponsored it in time. Members of the group must be sponsored by a "
                    "colleague who works in the country; ask one of them to invite you.",
                    group=esc(group.title),
                ),
            )
    except (Forbidden, BadRequest):
        log.info("could not tell join requester %s", request.user_id)
