"""What the sponsor's form stores when confirmed: an invitation with a personal link, an
introduction of someone already in the group, or an approved join request."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session
from telegram import Update
from telegram.error import TelegramError

from handlers.common import tell_moderators
from handlers.introductions import render
from handlers.introductions.organisation import OrganisationAnswers
from handlers.render import esc
from handlers.topics import answer_in_topic
from i18n import _
from moderation.introductions import Category, IntroStatus, invite_link_name
from runtime.context import BotContext, Services
from storage.introductions import IntroductionRepository
from storage.models import Introduction, Invitation

log = logging.getLogger(__name__)


class SponsorAnswers(OrganisationAnswers):
    """The sponsor's form: /invite (mode invite), the card's "introduce" button (intro, target
    = the introduction) or a vouched join request (jr, target = the request)."""

    mode: Literal["invite", "intro", "jr"]
    target: int | None = None
    chat_id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    cluster: str | None = None
    location: str | None = None
    category: Category | None = None
    end_date: date | None = None
    reason: str | None = None


async def _tell(update: Update, text: str) -> None:
    """A reply after the form's turn (its button, if any, was answered already)."""
    await answer_in_topic(update, text)


def invitation_of(answers: SponsorAnswers, sponsor_id: int, services: Services) -> Invitation:
    assert answers.chat_id is not None
    group = services.settings.group(answers.chat_id)
    assert group is not None
    now = services.clock.now()
    return Invitation(
        chat_id=answers.chat_id,
        sponsor_id=sponsor_id,
        first_name=answers.first_name,
        last_name=answers.last_name,
        organisation=answers.organisation,
        role=answers.role,
        category=answers.category,
        end_date=answers.end_date,
        reason=answers.reason,
        cluster=answers.cluster,
        location=answers.location,
        status="open",
        created_at=now,
        expires_at=now + group.membership.invite_link_valid,
    )


@dataclass(frozen=True)
class PreparedInvitation:
    """An invitation row written (or an open twin found) before asking Telegram for a link."""

    twin: Invitation | None
    invitation_id: int
    expires: datetime


def prepare_invitation(
    session: Session, answers: SponsorAnswers, sponsor_id: int, services: Services
) -> PreparedInvitation:
    full = f"{answers.first_name} {answers.last_name}".casefold()
    repo = IntroductionRepository(session)
    twin = next(
        (
            i
            for i in repo.open_invitations(sponsor_id)
            if f"{i.first_name} {i.last_name}".casefold() == full
            and i.chat_id == answers.chat_id
            and i.link_url
        ),
        None,
    )
    if twin is not None:
        return PreparedInvitation(twin, twin.id, twin.expires_at)
    invitation = repo.add_invitation(invitation_of(answers, sponsor_id, services))
    return PreparedInvitation(None, invitation.id, invitation.expires_at)


async def publish_invitation(
    update: Update, context: BotContext, answers: SponsorAnswers, prepared: PreparedInvitation
) -> None:
    """Create the one-use link (or point at the open one) and tell the sponsor."""
    sponsor = update.effective_user
    assert sponsor is not None and answers.chat_id is not None
    services = context.services
    group = services.settings.group(answers.chat_id)
    assert group is not None
    zone = services.settings.group_timezone(group)
    if prepared.twin is not None:
        full = f"{answers.first_name} {answers.last_name}".casefold()
        await _tell(
            update,
            render.open_link(full.title(), prepared.twin.link_url or "", prepared.expires, zone),
        )
        return
    name = invite_link_name(prepared.invitation_id, sponsor.first_name)
    try:
        link = await context.bot.create_chat_invite_link(
            answers.chat_id, name=name, member_limit=1, expire_date=prepared.expires
        )
    except TelegramError as exc:
        with services.db.transaction() as session:
            stale = IntroductionRepository(session).invitation(prepared.invitation_id)
            if stale is not None:
                session.delete(stale)
        log.warning("could not create an invite link: %s", exc)
        error = esc(exc)
        await _tell(
            update,
            _(
                "Sorry, I could not create the link: I need the right to invite "
                "users in the group. The moderators have been told."
            ),
        )
        await tell_moderators(
            context,
            lambda: _(
                "I could not create a sponsor's invite link: {error}. "
                "Please give me the right to invite users.",
                error=error,
            ),
        )
        return
    with services.db.transaction() as session:
        stored = IntroductionRepository(session).invitation(prepared.invitation_id)
        assert stored is not None
        stored.link_url, stored.link_name = link.invite_link, name
    await _tell(
        update,
        render.personal_link(
            answers.first_name or "",
            answers.last_name or "",
            link.invite_link,
            prepared.expires,
            zone,
        ),
    )


async def _create_invitation(update: Update, context: BotContext, form: dict[str, Any]) -> None:
    """An invitation from answers gathered elsewhere (a returning member's new link)."""
    answers = SponsorAnswers.model_validate(form)
    sponsor = update.effective_user
    assert sponsor is not None
    services = context.services
    with services.db.transaction() as session:
        prepared = prepare_invitation(session, answers, sponsor.id, services)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await publish_invitation(update, context, answers, prepared)


def apply_answers(intro: Introduction, answers: SponsorAnswers | Invitation) -> None:
    if intro.confirmed_at is None:  # the newcomer's own answer wins over the sponsor's
        intro.first_name, intro.last_name = answers.first_name, answers.last_name
        intro.organisation = answers.organisation
    intro.role, intro.category = answers.role, answers.category
    intro.end_date, intro.reason = answers.end_date, answers.reason
    intro.cluster, intro.location = answers.cluster, answers.location


def save_introduction(
    session: Session, answers: SponsorAnswers, sponsor_id: int, now: datetime
) -> bool:
    """The sponsor's half of an introduction; False when it is no longer theirs to give."""
    intro = IntroductionRepository(session).introduction_by_id(answers.target or 0)
    if intro is None or intro.status is not IntroStatus.PENDING or intro.sponsor_id != sponsor_id:
        return False
    apply_answers(intro, answers)
    intro.sponsor_done_at = now
    return True


@dataclass(frozen=True)
class VouchedRequest:
    chat_id: int
    user_id: int
    request_id: int


def save_join_request_introduction(
    session: Session, answers: SponsorAnswers, sponsor_id: int, services: Services
) -> VouchedRequest | None:
    """The introduction of someone who asked to join: stored with the request, which the
    caller then approves; None when the request is no longer open to this sponsor."""
    repo = IntroductionRepository(session)
    request = repo.join_request(answers.target or 0)
    if request is None or request.status != "sponsored" or request.sponsor_id != sponsor_id:
        return None
    invitation = repo.add_invitation(invitation_of(answers, sponsor_id, services))
    invitation.status = "request"
    request.invitation_id = invitation.id
    return VouchedRequest(request.chat_id, request.user_id, request.id)


async def approve_vouched(update: Update, context: BotContext, vouched: VouchedRequest) -> None:
    services = context.services
    sponsor_id = update.effective_user.id if update.effective_user else 0
    try:
        await context.bot.approve_chat_join_request(vouched.chat_id, vouched.user_id)
    except TelegramError as exc:
        await _tell(update, _("I could not approve the request: {error}.", error=esc(exc)))
        return
    with services.db.transaction() as session:
        IntroductionRepository(session).decide_join_request(
            vouched.request_id, "approved", sponsor_id, services.clock.now()
        )
    await _tell(
        update,
        _("Thank you! The request is approved; I will post your introduction when they join."),
    )
