"""Arrivals: each new member attributed to a sponsor, admitted, or held for the moderators."""

from __future__ import annotations

from telegram import (
    ChatMemberUpdated,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError

from config.schema import GroupConfig
from handlers.common import report_missing_right, send_private, tell_moderators
from handlers.introductions import deep_link, post_or_update_card
from handlers.render import esc, mention
from handlers.roster import observed
from i18n import N_, _
from moderation.introductions import (
    Arrival,
    IntroStatus,
    attribute_arrival,
    invitation_id_from_link_name,
)
from moderation.roster import MemberStatus
from runtime.context import BotContext
from storage.introductions import IntroductionRepository
from storage.models import Invitation, JoinRequest
from storage.roster import RosterRepository


async def on_member_change(update: Update, context: BotContext) -> None:
    change = update.chat_member
    services = context.services
    if change is None:
        return
    group = services.settings.group(change.chat.id)
    if group is None or change.new_chat_member.user.is_bot:
        return
    seen = observed(change)
    was_present = seen.old_status is not None and seen.old_status.present
    if seen.new_status.present and not was_present:
        await admit(context, group, change)
    elif was_present and not seen.new_status.present:
        with services.db.transaction() as session:
            intro = IntroductionRepository(session).introduction(group.chat_id, seen.user_id)
            if intro is not None and intro.status is not IntroStatus.REMOVED:
                intro.status = IntroStatus.LEFT
                intro.updated_at = services.clock.now()


async def admit(context: BotContext, group: GroupConfig, change: ChatMemberUpdated) -> None:
    """Attribute a newcomer to a sponsor (or hold them), hold them read-only, post the card."""
    services = context.services
    now = services.clock.now()
    seen = observed(change)
    user_id = seen.user_id
    link_url = change.invite_link.invite_link if change.invite_link else None
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        roster = RosterRepository(session)
        # Gather the facts; moderation.attribute_arrival decides.
        invitation: Invitation | None = None
        request: JoinRequest | None = None
        via_link = link_url is not None or seen.invite_link_name is not None
        if via_link:
            invitation = repo.invitation_by_link(link_url) or repo.invitation(
                invitation_id_from_link_name(seen.invite_link_name) or 0
            )
            if invitation is not None and invitation.chat_id != group.chat_id:
                invitation = None
        elif seen.via_join_request:
            request = repo.open_join_request(group.chat_id, user_id) or (
                repo.approved_join_request(group.chat_id, user_id)
            )
            if request is not None and request.sponsor_id is not None:
                invitation = repo.invitation(request.invitation_id or 0)
        adder = seen.actor_id if seen.actor_id not in (None, user_id) else None
        candidates = {uid for uid in (invitation.sponsor_id if invitation else None, adder) if uid}
        decision = attribute_arrival(
            Arrival(
                joined_as_admin=seen.new_status in (MemberStatus.ADMIN, MemberStatus.OWNER),
                via_link=via_link,
                invitation_sponsor_id=invitation.sponsor_id if invitation else None,
                invitation_was_unused=(
                    via_link
                    and invitation is not None
                    and repo.use_invitation(invitation.id, user_id)
                ),
                via_join_request=seen.via_join_request,
                request_sponsor_id=request.sponsor_id if request else None,
                request_moderator_id=request.decided_by_id if request else None,
                adder_id=adder,
                present_ids=frozenset(
                    uid
                    for uid in candidates
                    if (m := roster.membership(group.chat_id, uid)) is not None and m.present
                ),
            )
        )
        status = decision.status
        intro = repo.start_admission(
            group.chat_id, user_id, now, status, decision.sponsor_id, decision.note
        )
        if invitation is not None and decision.prefill_from_invitation:
            intro.first_name, intro.last_name = invitation.first_name, invitation.last_name
            intro.organisation, intro.role = invitation.organisation, invitation.role
            intro.category, intro.end_date = invitation.category, invitation.end_date
            intro.reason = invitation.reason
            intro.cluster, intro.location = invitation.cluster, invitation.location
            intro.sponsor_done_at = now
        intro_id = intro.id
    if status is IntroStatus.COMPLETE:
        return
    if group.membership.restrict_until_introduced:
        try:
            await context.bot.restrict_chat_member(
                group.chat_id, user_id, ChatPermissions.no_permissions()
            )
        except TelegramError as exc:
            await report_missing_right(context, group, N_("restrict members"), exc)
    await post_or_update_card(context, intro_id)
    await _notify_after_arrival(context, group, intro_id)


async def _notify_after_arrival(context: BotContext, group: GroupConfig, intro_id: int) -> None:
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction_by_id(intro_id)
        newcomer = RosterRepository(session).user(intro.user_id) if intro else None
    if intro is None or newcomer is None:
        return
    name = esc(newcomer.display_name)
    if intro.status is IntroStatus.HELD:
        held_id, note = intro.id, intro.sponsor_note or ""

        def held_buttons() -> InlineKeyboardMarkup:
            return InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("I sponsor them"), callback_data=f"held:{held_id}:s"
                        ),
                        InlineKeyboardButton(_("Remove"), callback_data=f"held:{held_id}:r"),
                    ]
                ]
            )

        await tell_moderators(
            context,
            lambda: _(
                "{newcomer} joined <b>{group}</b> without a known sponsor: {why}. "
                "They can only read until you decide.",
                newcomer=mention(newcomer.id, newcomer.display_name),
                group=esc(group.title),
                why=esc(_(note)),
            ),
            reply_markup=held_buttons,
        )
        return
    if intro.sponsor_done_at is None and intro.sponsor_id is not None:
        link = deep_link(context, f"intro_{intro.id}")
        await send_private(
            context,
            intro.sponsor_id,
            lambda: _(
                "You brought {name} into <b>{group}</b>. Please introduce them: name, "
                "organisation and role.",
                name=name,
                group=esc(group.title),
            ),
            reply_markup=lambda: InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Introduce {name}", name=newcomer.first_name)[:60], url=link
                        )
                    ]
                ]
            ),
        )
