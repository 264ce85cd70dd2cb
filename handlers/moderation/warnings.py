"""/warn /warns /unwarn: warnings and the escalation ladder they climb."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from telegram import Update

from config.schema import GroupConfig
from handlers.common import send_private
from handlers.moderation.actions import held, mute, removal_outcome, tell_sponsor
from handlers.moderation.common import (
    Outcome,
    ladder,
    language_of,
    names_of,
    penalty_text,
    when,
)
from handlers.moderation.logchat import note_action
from handlers.moderation.orders import announce, prepare, reason_of
from handlers.moderation.render import warned_private, warned_public
from handlers.removal import remove_member
from handlers.render import chunk_lines, esc
from i18n import _, duration_text, ngettext, use_locale
from moderation.audit_details import escalation_detail, still_counting_detail, warning_detail
from moderation.conduct import WarningAction, plan_warning, sponsor_news
from moderation.discipline import next_step
from runtime.context import BotContext
from storage.moderation import ModerationRepository


# --------------------------------------------------------------------------- /warn /warns /unwarn
async def warn_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "warn")
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    reason = await reason_of(order, order.rest, policy, True, "warn")
    if reason is None:
        return
    group, target = order.group, order.target
    warned = await give_warning(
        context, group, target.user_id, target.name, order.moderator.id, reason
    )
    await announce(order, warned.public)
    if not warned.told and not order.in_group:
        await order.message.reply_text(
            _(
                "{name} has not started a chat with me, so I could not tell them privately.",
                name=esc(target.name),
            )
        )


@dataclass(frozen=True)
class Warned:
    public: str  # what the group (or the moderator) is told
    told: bool  # the person was told privately


async def give_warning(
    context: BotContext,
    group: GroupConfig,
    user_id: int,
    name: str,
    moderator_id: int,
    reason: str,
) -> Warned:
    """One more warning and what the ladder brings: carried out, recorded, told privately (the
    person and their sponsor) and mirrored; /warn and a report's Warn button share it."""
    services = context.services
    policy = services.settings.moderation
    now = services.clock.now()
    with services.db.transaction() as session:
        earlier = ModerationRepository(session).warnings(
            group.chat_id, user_id, now - policy.warning_window
        )
    plan = plan_warning(len(earlier), ladder(policy), held(services, group, user_id))
    count, step = plan.count, plan.step
    # Carry out the penalty first, then record: the log says what really happened.
    outcome: Outcome | None = None
    until: datetime | None = None
    if plan.action is WarningAction.ALREADY_HELD:
        outcome = Outcome.DONE  # already read-only until introduced
    elif plan.mute_for is not None:
        outcome, until = await mute(
            context, group, user_id, plan.mute_for, "escalation", moderator_id, reason
        )
    elif plan.action in (WarningAction.REMOVE, WarningAction.BAN):
        removal = await remove_member(
            context,
            group.chat_id,
            user_id,
            reason,
            cause=f"{count} warnings: {reason}"[:255],
            actor_id=moderator_id,
            announce=False,
            keep_banned=plan.action is WarningAction.BAN,
            audited=True,  # recorded below, as the warning's escalation
        )
        outcome = removal_outcome(removal)
    window = policy.warning_window
    stepped = step is not None and outcome is not None
    detail = warning_detail(
        count,
        window,
        step.penalty.value if step is not None and stepped else None,
        step.duration if step is not None and stepped else None,
        outcome.value if outcome is not None and outcome is not Outcome.DONE and stepped else "",
    )
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.add_warning(group.chat_id, user_id, moderator_id, reason, now)
        action = repo.record(
            group.chat_id, "warn", user_id, now, actor_id=moderator_id, reason=reason, detail=detail
        )
        if step is not None and outcome is Outcome.DONE:
            extra = repo.record(
                group.chat_id,
                step.penalty.value,
                user_id,
                now,
                actor_id=moderator_id,
                reason=reason,
                detail=escalation_detail(count),
                until=until,
            )
        else:
            extra = None
    public = warned_public(plan, outcome, user_id, name, reason, window, group)
    with use_locale(language_of(services, user_id)):
        private = warned_private(plan, outcome is Outcome.DONE, group.title, reason, window)
    told = await send_private(context, user_id, private)
    news = sponsor_news(plan, outcome is Outcome.DONE)
    await tell_sponsor(context, group, user_id, news, name, reason, moderator_id)
    await note_action(context, action)
    if extra is not None:
        await note_action(context, extra)
    return Warned(public, told)


async def warns_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "warns", present=False)
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        active = repo.warnings(
            order.group.chat_id, order.target.user_id, now - policy.warning_window
        )
        every = repo.warnings(order.group.chat_id, order.target.user_id)
    names = names_of(services, {w.by_id for w in active})
    window = duration_text(policy.warning_window)
    lines = [
        ngettext(
            "<b>{name}</b>: {n} warning in the last {window}",
            "<b>{name}</b>: {n} warnings in the last {window}",
            len(active),
            name=esc(order.target.name),
            window=window,
        )
    ]
    for warning in active:
        lines.append(
            _(
                "• {at} by {by}: {reason}",
                at=esc(when(services, order.group, warning.at)),
                by=esc(names.get(warning.by_id, str(warning.by_id))),
                reason=esc(warning.reason),
            )
        )
    older = len(every) - len(active)
    if older:
        lines.append(
            ngettext(
                "({n} older warning no longer counts)",
                "({n} older warnings no longer count)",
                older,
            )
        )
    upcoming = next_step(ladder(policy), len(active))
    if upcoming is not None:
        lines.append(
            _("At {n} warnings: {penalty}.", n=upcoming.warnings, penalty=penalty_text(upcoming))
        )
    for chunk in chunk_lines(lines):
        await order.message.reply_text(chunk)


async def unwarn_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "unwarn", present=False)
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    reason = await reason_of(order, order.rest, policy, False, "unwarn")
    if reason is None:
        return
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        withdrawn = repo.revoke_last_warning(
            order.group.chat_id,
            order.target.user_id,
            order.moderator.id,
            now,
            now - policy.warning_window,
        )
        left = len(
            repo.warnings(order.group.chat_id, order.target.user_id, now - policy.warning_window)
        )
        action = (
            repo.record(
                order.group.chat_id,
                "unwarn",
                order.target.user_id,
                now,
                actor_id=order.moderator.id,
                reason=reason or withdrawn.reason,
                detail=still_counting_detail(left),
            )
            if withdrawn is not None
            else None
        )
    if withdrawn is None or action is None:
        await order.message.reply_text(
            _("{name} has no warning that still counts.", name=esc(order.target.name))
        )
        return
    await order.message.reply_text(
        ngettext(
            "Withdrew the warning of {at} ({reason}). {name} has {n} warning left.",
            "Withdrew the warning of {at} ({reason}). {name} has {n} warnings left.",
            left,
            at=esc(when(services, order.group, withdrawn.at)),
            reason=esc(withdrawn.reason),
            name=esc(order.target.name),
        )
    )
    with use_locale(language_of(services, order.target.user_id)):
        text = _(
            "The moderators of {group} withdrew your warning of {at}.",
            group=esc(order.group.title),
            at=esc(when(services, order.group, withdrawn.at)),
        )
    await send_private(context, order.target.user_id, text)
    await note_action(context, action)
