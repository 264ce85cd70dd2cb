"""Sponsored joins: every arrival is attributed to a sponsor or held for the moderators.

Ways in: a sponsor's personal link (/invite), a member adding someone directly, a join request
that a member vouches for. Anything else is held (read-only) until a moderator decides.
A sweep reminds incomplete introductions and removes newcomers past the deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from telegram import (
    ChatMemberUpdated,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, ChatJoinRequestHandler, ChatMemberHandler

from config.schema import GroupConfig
from handlers.common import (
    button,
    group_label,
    in_group,
    moderators_only,
    personal_language,
    report_missing_right,
    send_private,
    tell_moderators,
    user_info,
)
from handlers.introductions import deep_link, post_or_update_card, sponsor_problem
from handlers.removal import Removal, remove_member
from handlers.render import esc, mention
from handlers.roster import observed
from i18n import N_, _, duration_text, use_locale
from moderation.introductions import (
    Action,
    Arrival,
    Category,
    IntroStatus,
    attribute_arrival,
    introduction_due,
    invitation_id_from_link_name,
)
from moderation.permissions import Role
from moderation.roster import MemberStatus
from runtime.context import App, BotContext, Sweep, services_of
from storage.introductions import IntroductionRepository
from storage.models import Introduction, Invitation, JoinRequest
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

# Runs after the roster (group -1) has recorded the change.
MEMBERSHIP_GROUP = 1


# --------------------------------------------------------------------------- arrivals
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


# --------------------------------------------------------------------------- held newcomers
async def decide_held(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, decision = query.data.split(":")
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        intro = repo.introduction_by_id(int(raw_id))
        if intro is None or intro.status is not IntroStatus.HELD:
            intro = None
        elif decision == "s":
            intro.status, intro.sponsor_id = IntroStatus.PENDING, query.from_user.id
            intro.sponsor_note = N_("a moderator decided to sponsor them")
            intro.updated_at = now
        else:
            repo.claim_status(intro.id, IntroStatus.HELD, IntroStatus.REMOVED, now)
    if intro is None:
        await query.answer(_("Already decided by someone else."), show_alert=True)
        return
    await query.answer()
    if decision == "s":
        await query.edit_message_text(
            _("You sponsor them now. Please introduce them:"),
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Introduce"), url=deep_link(context, f"intro_{intro.id}")
                        )
                    ]
                ]
            ),
        )
        await post_or_update_card(context, intro.id)
    else:
        await query.edit_message_text(_("Removed. They can come back through a sponsor."))
        await remove_member(
            context,
            intro.chat_id,
            intro.user_id,
            N_("a moderator decided to remove them"),
            cause="held newcomer removed by a moderator",
            actor_id=update.effective_user.id if update.effective_user else None,
        )


# --------------------------------------------------------------------------- join requests
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
        notice = await context.bot.send_message(
            group.chat_id,
            in_group(services, group.chat_id, text),
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


async def on_join_request_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, action = query.data.split(":")
    if action in ("a", "d"):
        await decide_join_request(update, context)
        return
    services = context.services
    presser = query.from_user
    with services.db.transaction() as session:
        request = IntroductionRepository(session).join_request(int(raw_id))
    if request is None or request.status not in ("open", "sponsored"):
        await query.answer(_("This request is already decided."), show_alert=True)
        return
    # Where the requester is based is asked in the introduction, which checks it again.
    problem = sponsor_problem(services, request.chat_id, presser.id, Category.IN_COUNTRY)
    if problem:
        await query.answer(_("Sorry, {problem}.", problem=problem), show_alert=True)
        return
    with services.db.transaction() as session:
        won = IntroductionRepository(session).claim_sponsorship(request.id, presser.id)
    if not won:
        await query.answer(_("Someone else already sponsors them. Thank you!"), show_alert=True)
        return
    await query.answer(_("Thank you! Tap the new button to introduce them."))
    chat_id = query.message.chat.id if query.message is not None else presser.id
    link = deep_link(context, f"jr_{request.id}")
    await query.edit_message_text(
        in_group(
            services,
            chat_id,
            lambda: _(
                "{sponsor} sponsors this request and is introducing the person; it is approved "
                "once the introduction is given.",
                sponsor=mention(presser.id, presser.full_name),
            ),
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        group_label(services, chat_id, lambda: _("Sponsor: introduce")), url=link
                    )
                ]
            ]
        ),
    )
    await send_private(
        context,
        presser.id,
        lambda: _("Thank you for sponsoring. Please introduce them:"),
        reply_markup=lambda: InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Sponsor: introduce"), url=link)]]
        ),
    )


@moderators_only
async def decide_join_request(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _prefix, raw_id, action = query.data.split(":")
    services = context.services
    now = services.clock.now()
    status = "approved" if action == "a" else "declined"
    with services.db.transaction() as session:
        repo = IntroductionRepository(session)
        request = repo.join_request(int(raw_id))
        decided = request is not None and repo.decide_join_request(
            request.id, status, query.from_user.id, now
        )
    if request is None or not decided:
        await query.answer(_("This request is already decided."), show_alert=True)
        return
    await query.answer()
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    try:
        if status == "approved":
            await context.bot.approve_chat_join_request(request.chat_id, request.user_id)
        else:
            await context.bot.decline_chat_join_request(request.chat_id, request.user_id)
    except TelegramError as exc:
        error = esc(exc.message)
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Telegram refused: {error}", error=error))
        )
        return
    moderator = esc(query.from_user.full_name)
    if status == "approved":
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Request approved by {name}.", name=moderator))
        )
    else:
        await query.edit_message_text(
            in_group(services, chat_id, lambda: _("Request declined by {name}.", name=moderator))
        )


# --------------------------------------------------------------------------- the sweep


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


async def _remind(context: BotContext, group: GroupConfig, intro: Introduction) -> None:
    with context.services.db.transaction() as session:
        newcomer = RosterRepository(session).user(intro.user_id)
    named = esc(newcomer.display_name) if newcomer else None

    def text() -> str:
        return _(
            "Reminder: the introduction for {name} in <b>{group}</b> is not complete. "
            "Newcomers who are not introduced within {deadline} of joining are removed.",
            name=named or _("a newcomer"),
            group=esc(group.title),
            deadline=duration_text(group.membership.introduction_deadline),
        )

    confirm_link = deep_link(context, f"confirm_{intro.id}")
    introduce_link = deep_link(context, f"intro_{intro.id}")
    unreached: list[int] = []
    if intro.confirmed_at is None and not await send_private(
        context,
        intro.user_id,
        text,
        reply_markup=lambda: InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Confirm my details"), url=confirm_link)]]
        ),
    ):
        unreached.append(intro.user_id)
    if (
        intro.sponsor_id is not None
        and intro.sponsor_done_at is None
        and not await send_private(
            context,
            intro.sponsor_id,
            text,
            reply_markup=lambda: InlineKeyboardMarkup(
                [[InlineKeyboardButton(_("Introduce"), url=introduce_link)]]
            ),
        )
    ):
        unreached.append(intro.sponsor_id)
    if intro.status is IntroStatus.HELD:
        await tell_moderators(
            context,
            lambda: _(
                "Still waiting for your decision: {name} in <b>{group}</b> has no sponsor.",
                name=named or _("a newcomer"),
                group=esc(group.title),
            ),
        )
    if unreached:
        # People who never started the bot: one short mention in the group, with the buttons.
        with context.services.db.transaction() as session:
            roster = RosterRepository(session)
            people = [roster.user(uid) for uid in unreached]
        mentions = ", ".join(mention(p.id, p.display_name) for p in people if p)
        await context.bot.send_message(
            group.chat_id,
            in_group(
                context.services,
                group.chat_id,
                lambda: _("{people}: {reminder}", people=mentions, reminder=text()),
            ),
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


SWEEPS = [Sweep("introductions", timedelta(minutes=5), sweep)]


def register(app: App) -> None:
    app.add_handler(
        ChatMemberHandler(on_member_change, ChatMemberHandler.CHAT_MEMBER), group=MEMBERSHIP_GROUP
    )
    app.add_handler(ChatJoinRequestHandler(on_join_request))
    app.add_handler(CallbackQueryHandler(on_join_request_button, pattern=r"^jr:\d{1,12}:[sad]$"))
    app.add_handler(button(decide_held, r"^held:\d{1,12}:[sr]$", Role.MODERATOR))
