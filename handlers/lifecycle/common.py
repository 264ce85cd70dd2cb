"""Shared by the lifecycle handlers: the group's policy, local days, names, private writes."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session
from telegram import InlineKeyboardMarkup, Update

from config.schema import GroupConfig
from handlers.common import (
    personal_language,
    send_private,
)
from handlers.targets import roster_name
from i18n import long_date_text, use_locale
from moderation.deadlines import format_local
from moderation.lifecycle import (
    Policy,
    local_day,
)
from moderation.sponsorship import Candidate
from moderation.sponsorship import sponsor_problem as rule_sponsor_problem
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository
from storage.lifecycle import LifecycleRepository
from storage.models import Introduction, MemberLifecycle, User
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

EXTEND_BUTTON_DAYS = 30
MENTIONS_PER_MESSAGE = 50


def policy_of(services: Services, group: GroupConfig) -> Policy:
    m = group.membership
    return Policy(
        timezone=services.settings.group_timezone(group),
        daily_at=m.daily_at,
        out_of_country_max=m.out_of_country_max,
        expiry_notice=m.expiry_notice,
        departure_grace=m.departure_grace,
        sponsor_grace=m.sponsor_grace,
        checkin_every=m.checkin_every,
        checkin_grace=m.checkin_grace,
        checkin_removes=m.checkin_removes,
        retention=m.retention,
    )


def trusted(services: Services) -> frozenset[int]:
    """Configured moderators count as sponsors in the country even when not group members."""
    return frozenset(services.settings.moderators)


def today_of(services: Services, group: GroupConfig) -> date:
    return local_day(services.clock.now(), services.settings.group_timezone(group))


def day_text(day: date) -> str:
    return long_date_text(day)


def when_text(instant: datetime, policy: Policy) -> str:
    return format_local(instant, policy.timezone)


def name_of(user: User | None, intro: Introduction | None, fallback: int = 0) -> str:
    return roster_name(user, intro) if user is not None else str(fallback)


def present_groups(services: Services, user_id: int) -> list[GroupConfig]:
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        return [
            g
            for g in services.settings.groups
            if (m := roster.membership(g.chat_id, user_id)) is not None and m.present
        ]


def group_for(services: Services, update: Update, user_id: int) -> GroupConfig:
    """The group a command is about: the one it is sent in, else where the person is a member."""
    chat = update.effective_chat
    if chat is not None and (group := services.settings.group(chat.id)) is not None:
        return group
    groups = present_groups(services, user_id)
    return groups[0] if groups else services.settings.groups[0]


def language_of(services: Services, user_id: int) -> str:
    """What the person reads privately: their /language choice, Telegram's, the group's."""
    return personal_language(services, user_id)


async def write_privately(
    context: BotContext, user_id: int, build: Any, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Write privately to ``user_id`` in their language; ``build()`` makes the text."""
    with use_locale(language_of(context.services, user_id)):
        text = build()
    return await send_private(context, user_id, text, reply_markup=markup)


def candidate_in(session: Session, services: Services, chat_id: int, sponsor_id: int) -> Candidate:
    """What the sponsor rule needs to know about someone named as a sponsor."""
    roster = RosterRepository(session)
    membership, user = roster.membership(chat_id, sponsor_id), roster.user(sponsor_id)
    own = IntroductionRepository(session).introduction(chat_id, sponsor_id)
    return Candidate(
        user_id=sponsor_id,
        is_bot=user is not None and user.is_bot,
        present=membership is not None and membership.present,
        category=own.category if own else None,
        intro_status=own.status if own else None,
        trusted=sponsor_id in services.settings.moderators,
    )


def candidate(services: Services, chat_id: int, sponsor_id: int) -> Candidate:
    with services.db.transaction() as session:
        return candidate_in(session, services, chat_id, sponsor_id)


def sponsor_problem(
    services: Services, chat_id: int, sponsor_id: int, member_id: int
) -> str | None:
    """None when ``sponsor_id`` may sponsor an out-of-country member, else why not."""
    return rule_sponsor_problem(candidate(services, chat_id, sponsor_id), member_id)


def record_event(
    services: Services, chat_id: int, user_id: int, cause: str, actor_id: int | None
) -> None:
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(chat_id, user_id)
        status = membership.status.value if membership else "unknown"
        LifecycleRepository(session).record(
            chat_id, user_id, services.clock.now(), cause, actor_id, status, status
        )


def own_row(services: Services, row_id: int, user_id: int) -> MemberLifecycle | None:
    with services.db.transaction() as session:
        row = LifecycleRepository(session).row(row_id)
    return row if row is not None and row.user_id == user_id else None
