"""The moderators' toolkit and automatic noise control.

Commands (guarded by ``moderators_only``): /warn /warns /unwarn /mute /unmute /remove /ban
/unban /offtopic /purge /audit. They name their person the same way everywhere
(``handlers.targets.resolve_target``: reply, @username, user id or roster name), refuse bad
input with one clear reply before doing anything, and record every action in the audit log
(``moderation_actions``), mirrored to ``moderation.log_chat_id`` when set.

Automatic noise control watches group messages in ``WATCH_GROUP`` (after the user tracking of
group -2, sharing group -1 with the roster's handlers, which take only ``chat_member``
updates and join/leave service messages, so the two never compete): flood limits, banned
words, links/media from members whose introduction is incomplete. A message it deletes stops
there (``ApplicationHandlerStop``), so no feature answers a message that is gone; every other
message goes on to the commands and features of groups 0 and up untouched.

The rules (escalation, flood window, patterns, duration bounds) are pure functions in
``moderation.discipline``.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from telegram import (
    Chat,
    ChatMember,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram import User as TgUser
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from config.schema import GroupConfig, ModerationPolicy
from handlers.common import (
    current_role,
    moderators_only,
    personal_language,
    report_missing_right,
    send_private,
)
from handlers.removal import Removal, remove_member
from handlers.render import chunk_lines, esc, mention
from handlers.targets import Target, TargetError, resolve_target
from i18n import _, datetime_text, ngettext, use_locale
from moderation.discipline import (
    TELEGRAM_MIN_RESTRICTION,
    BannedMatcher,
    BoundsError,
    DurationProblem,
    FloodRule,
    Penalty,
    ReasonError,
    ReasonProblem,
    Step,
    bounded_duration,
    clean_reason,
    deletable,
    escalation,
    has_link,
    is_flood,
    next_step,
)
from moderation.durations import format_duration
from moderation.introductions import IntroStatus
from moderation.permissions import CommandSpec, Role, Where, is_fresh
from moderation.roster import MemberStatus, ObservedChange, status_from_telegram
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage.introductions import IntroductionRepository
from storage.models import ModerationAction
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

# See the module docstring: after user tracking (-2), before the commands (0).
WATCH_GROUP = -1
CB_AUDIT = "audit"
AUDIT_PAGE = 25

COMMANDS = [
    CommandSpec(
        "warn", "Warn a member (repeated warnings escalate)", Role.MODERATOR, usage="WHO REASON"
    ),
    CommandSpec("warns", "A member's warnings", Role.MODERATOR, usage="WHO"),
    CommandSpec("unwarn", "Withdraw a member's latest warning", Role.MODERATOR, usage="WHO"),
    CommandSpec("mute", "Mute a member for a while", Role.MODERATOR, usage="WHO DURATION [REASON]"),
    CommandSpec("unmute", "Let a muted member write again", Role.MODERATOR, usage="WHO"),
    CommandSpec(
        "remove",
        "Remove a member (they may come back through a sponsor)",
        Role.MODERATOR,
        usage="WHO REASON",
    ),
    CommandSpec("ban", "Remove a member for good", Role.MODERATOR, usage="WHO REASON"),
    CommandSpec("unban", "Lift a ban", Role.MODERATOR, usage="WHO"),
    CommandSpec(
        "offtopic",
        "Nudge a conversation that drifts off-topic",
        Role.MODERATOR,
        Where.GROUP,
        usage="(reply to a message)",
    ),
    CommandSpec(
        "purge",
        "Delete recent messages of the bot or of a member",
        Role.MODERATOR,
        Where.GROUP,
        usage="N [WHO]",
    ),
    CommandSpec("audit", "The moderation log", Role.MODERATOR, Where.PRIVATE, usage="[WHO]"),
]

WHO_HINT = "WHO: reply to their message, or give @username, a user id or their name."


# --------------------------------------------------------------------------- small helpers
@functools.cache
def _matcher(words: tuple[str, ...], patterns: tuple[str, ...]) -> BannedMatcher:
    return BannedMatcher.build(words, patterns)


def matcher(policy: ModerationPolicy) -> BannedMatcher:
    return _matcher(tuple(policy.banned_words), tuple(policy.banned_patterns))


def ladder(policy: ModerationPolicy) -> list[Step]:
    return policy.ladder()


def when(services: Services, group: GroupConfig, at: datetime) -> str:
    """A time in the group's zone, in the reader's language: ``24 Nov 2026, 09:00``."""
    return datetime_text(at, services.settings.group_timezone(group))


def penalty_text(step: Step) -> str:
    if step.penalty is Penalty.MUTE and step.duration is not None:
        return _("muted for {duration}", duration=format_duration(step.duration))
    if step.penalty is Penalty.BAN:
        return _("banned")
    return _("removed (they may come back through a sponsor)")


def _language(services: Services, user_id: int) -> str | None:
    """The person's own language: /language choice, Telegram's, else the group default."""
    return personal_language(services, user_id)


class Right(enum.Enum):
    RESTRICT = "can_restrict_members"
    DELETE = "can_delete_messages"

    def label(self) -> str:
        if self is Right.RESTRICT:
            return _("restrict and ban members")
        return _("delete messages")


class Outcome(enum.Enum):
    DONE = "done"
    NOT_PRESENT = "not present"
    PROTECTED = "protected"  # an admin or the owner: Telegram refuses
    NO_RIGHT = "no right"
    FAILED = "failed"


def classify(error: TelegramError) -> Outcome:
    """How Telegram's refusal of a restrict/ban/delete reads."""
    text = error.message.lower()
    if "not enough rights" in text or "have no rights" in text or "not an administrator" in text:
        return Outcome.NO_RIGHT
    if isinstance(error, Forbidden):
        return Outcome.NO_RIGHT
    if "administrator" in text or "chat owner" in text or "can't restrict self" in text:
        return Outcome.PROTECTED
    if "not a member" in text or "user not found" in text or "participant_id_invalid" in text:
        return Outcome.NOT_PRESENT
    if text.removeprefix("bad request: ").strip() == "message can't be deleted":
        return Outcome.NO_RIGHT
    return Outcome.FAILED


async def missing_right(
    context: BotContext, group: GroupConfig, right: Right, error: TelegramError
) -> None:
    """Tell the moderators (once per change) which right is missing."""
    await report_missing_right(context, group, right.label(), error, key=right.value)


def missing_right_reply(group: GroupConfig, right: Right) -> str:
    return _(
        "I could not do that: in {group} I lack the admin right to {right}. Please give me "
        "that right and try again.",
        group=esc(group.title),
        right=right.label(),
    )


async def mirror(context: BotContext, text: str) -> None:
    """Copy a note of the action to the moderators' log chat, when one is configured."""
    chat_id = context.services.settings.moderation.log_chat_id
    if chat_id is None:
        return
    try:
        await context.bot.send_message(chat_id, text)
    except TelegramError as exc:
        log.warning("cannot write to the moderation log chat %s: %s", chat_id, exc)


def record(
    services: Services,
    group: GroupConfig,
    kind: str,
    target_id: int | None,
    *,
    actor_id: int | None = None,
    reason: str = "",
    detail: str = "",
    until: datetime | None = None,
) -> ModerationAction:
    with services.db.transaction() as session:
        return ModerationRepository(session).record(
            group.chat_id,
            kind,
            target_id,
            services.clock.now(),
            actor_id=actor_id,
            reason=reason,
            detail=detail,
            until=until,
        )


def kind_label(kind: str) -> str:
    labels = {
        "warn": _("warned"),
        "unwarn": _("withdrew a warning of"),
        "mute": _("muted"),
        "unmute": _("unmuted"),
        "remove": _("removed"),
        "ban": _("banned"),
        "unban": _("lifted the ban on"),
        "offtopic": _("nudged off-topic"),
        "purge": _("purged messages of"),
        "flood": _("muted for flooding"),
        "banned_word": _("deleted a message (banned word) of"),
        "link_blocked": _("deleted a link from"),
        "media_blocked": _("deleted media from"),
        "mute_ended": _("mute ended for"),
    }
    return labels.get(kind, kind)


def describe_action(
    services: Services, action: ModerationAction, names: dict[int, str], group_title: str = ""
) -> str:
    """One line of the audit log: when, who, what, whom, why."""
    group = services.settings.group(action.chat_id)
    at = when(services, group, action.at) if group else f"{action.at:%d %b %H:%M} UTC"
    actor = names.get(action.actor_id or 0, str(action.actor_id)) if action.actor_id else None
    target = (
        names.get(action.target_id, str(action.target_id))
        if action.target_id is not None
        else _("the bot")
    )
    line = _(
        "{at} · {actor} {did} {target}",
        at=esc(at),
        actor=esc(actor) if actor else _("automatic:"),
        did=kind_label(action.kind),
        target=esc(target),
    )
    if action.reason:
        line += " — " + esc(action.reason)
    if action.detail:
        line += f" ({esc(action.detail)})"
    if group_title:
        line = f"[{esc(group_title)}] {line}"
    return line


def _names(services: Services, ids: set[int]) -> dict[int, str]:
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        return {uid: u.display_name for uid in ids if (u := roster.user(uid)) is not None}


async def note_action(context: BotContext, action: ModerationAction) -> None:
    """Mirror a recorded action to the log chat."""
    if context.services.settings.moderation.log_chat_id is None:
        return
    services = context.services
    names = _names(services, {i for i in (action.actor_id, action.target_id) if i})
    group = services.settings.group(action.chat_id)
    await mirror(context, describe_action(services, action, names, group.title if group else ""))


async def tell_sponsor(
    context: BotContext,
    group: GroupConfig,
    user_id: int,
    text_key: str,
    name: str,
    reason: str,
    actor_id: int | None,
    after: tuple[int, str] | None = None,
) -> None:
    """Sponsors are told when someone they sponsored is warned, removed or banned: one message.

    ``text_key`` is ``warn``, ``remove`` or ``ban``; ``after`` (the number of warnings and the
    window) says that the removal or ban was the warning ladder's answer to this warning, so
    the one message names both.
    """
    services = context.services
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
        sponsor = (
            RosterRepository(session).user(intro.sponsor_id)
            if intro is not None and intro.sponsor_id
            else None
        )
    if sponsor is None or sponsor.id in (actor_id, user_id):
        return
    values = {"name": esc(name), "group": esc(group.title), "reason": esc(reason)}
    with use_locale(personal_language(services, sponsor.id)):
        if text_key == "warn":
            text = _(
                "{name}, whom you sponsored in {group}, was warned by the moderators: {reason}",
                **values,
            )
        elif after is not None and text_key == "ban":
            n, window = after
            text = ngettext(
                "{name}, whom you sponsored in {group}, was banned by the moderators after {n} "
                "warning within {window}; they cannot rejoin. The last warning: {reason}",
                "{name}, whom you sponsored in {group}, was banned by the moderators after {n} "
                "warnings within {window}; they cannot rejoin. The last warning: {reason}",
                n,
                window=window,
                **values,
            )
        elif after is not None:
            n, window = after
            text = ngettext(
                "{name}, whom you sponsored in {group}, was removed by the moderators after {n} "
                "warning within {window}; they may come back through a sponsor. The last "
                "warning: {reason}",
                "{name}, whom you sponsored in {group}, was removed by the moderators after {n} "
                "warnings within {window}; they may come back through a sponsor. The last "
                "warning: {reason}",
                n,
                window=window,
                **values,
            )
        elif text_key == "ban":
            text = _(
                "{name}, whom you sponsored in {group}, was banned by the moderators and cannot "
                "rejoin: {reason}",
                **values,
            )
        else:
            text = _(
                "{name}, whom you sponsored in {group}, was removed by the moderators: {reason}",
                **values,
            )
    await send_private(context, sponsor.id, text)


# --------------------------------------------------------------------------- Telegram actions
async def restrict(
    context: BotContext, group: GroupConfig, user_id: int, until: datetime | None
) -> Outcome:
    """Mute until ``until`` (read-only), or lift every restriction when ``until`` is None."""
    permissions = (
        ChatPermissions.no_permissions() if until is not None else ChatPermissions.all_permissions()
    )
    try:
        await context.bot.restrict_chat_member(
            group.chat_id, user_id, permissions, until_date=until
        )
    except (BadRequest, Forbidden) as exc:
        outcome = classify(exc)
        if outcome is Outcome.NO_RIGHT:
            await missing_right(context, group, Right.RESTRICT, exc)
        else:
            log.warning("restrict %s in %s: %s", user_id, group.chat_id, exc)
        return outcome
    return Outcome.DONE


async def delete(
    context: BotContext, group: GroupConfig, message_id: int, own: bool = False
) -> Outcome:
    try:
        await context.bot.delete_message(group.chat_id, message_id)
    except (BadRequest, Forbidden) as exc:
        text = exc.message.lower()
        if "not found" in text:
            return Outcome.NOT_PRESENT
        if "for everyone" in text or own:
            return Outcome.FAILED  # too old (48 h), or a service message
        outcome = classify(exc)
        if outcome is Outcome.NO_RIGHT:
            await missing_right(context, group, Right.DELETE, exc)
        return outcome
    return Outcome.DONE


def _removal_outcome(result: Removal) -> Outcome:
    return {
        Removal.REMOVED: Outcome.DONE,
        Removal.NOT_PRESENT: Outcome.NOT_PRESENT,
        Removal.PROTECTED: Outcome.PROTECTED,
        Removal.FAILED: Outcome.NO_RIGHT,
    }[result]


# --------------------------------------------------------------------------- command set-up
@dataclass
class Order:
    """A moderator's command, checked: the group, the moderator, the person, the rest."""

    group: GroupConfig
    message: Message
    moderator: TgUser
    in_group: bool
    target: Target

    @property
    def rest(self) -> list[str]:
        return self.target.rest


def group_for(services: Services, update: Update) -> tuple[GroupConfig | None, bool]:
    """The group a command is about: this group, or in private the only configured group."""
    chat = update.effective_chat
    if chat is None:
        return None, False
    if chat.type != Chat.PRIVATE:
        return services.settings.group(chat.id), True
    groups = services.settings.groups
    return (groups[0] if len(groups) == 1 else None), False


async def live_status(context: BotContext, chat_id: int, user_id: int) -> MemberStatus | None:
    """The person's status in the group as Telegram says now (the roster's if it cannot)."""
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        with context.services.db.transaction() as session:
            membership = RosterRepository(session).membership(chat_id, user_id)
            return membership.status if membership is not None else None
    return status_from_telegram(member.status, getattr(member, "is_member", None))


async def prepare(
    update: Update, context: BotContext, command: str, *, present: bool = True
) -> Order | None:
    """Everything a targeted command checks before acting; None when it already replied."""
    message, moderator = update.effective_message, update.effective_user
    if message is None or moderator is None:
        return None
    services = context.services
    group, in_group = group_for(services, update)
    if group is None:
        if not in_group:
            await message.reply_text(
                _(
                    "Send /{command} in the group it is about (I run several groups).",
                    command=command,
                )
            )
        return None
    try:
        target = resolve_target(
            services, group.chat_id, message if in_group else None, list(context.args or [])
        )
    except TargetError as exc:
        await message.reply_text(
            str(exc)
            + "\n"
            + _("Usage: /{command} {usage}", command=command, usage=esc(_usage(command)))
        )
        return None
    name = esc(target.name)
    if target.user_id == moderator.id:
        await message.reply_text(_("You cannot use /{command} on yourself.", command=command))
        return None
    if target.user_id == context.bot.id:
        await message.reply_text(_("That is me: I do not moderate myself."))
        return None
    if await current_role(context, target.user_id) is Role.MODERATOR:
        await message.reply_text(
            _(
                "{name} is a moderator; moderators do not use these commands on each other. "
                "Please talk to them directly.",
                name=name,
            )
        )
        return None
    if present:
        status = await live_status(context, group.chat_id, target.user_id)
        if status is None or not status.present:
            await message.reply_text(
                _("{name} is not in {group}.", name=name, group=esc(group.title))
            )
            return None
        if status in (MemberStatus.ADMIN, MemberStatus.OWNER):
            await message.reply_text(
                _(
                    "{name} is an admin of {group}; Telegram does not let me act on admins.",
                    name=name,
                    group=esc(group.title),
                )
            )
            return None
    return Order(group, message, moderator, in_group, target)


def _usage(command: str) -> str:
    spec = next(s for s in COMMANDS if s.name == command)
    return spec.usage


async def reason_of(
    order: Order, words: Sequence[str], policy: ModerationPolicy, required: bool, command: str
) -> str | None:
    try:
        return clean_reason(words, policy.reason_max, required)
    except ReasonError as exc:
        if exc.problem is ReasonProblem.MISSING:
            text = _(
                "Please add the reason, e.g. /{command} @username Shared a private phone number. "
                "The person and the moderation log see it.",
                command=command,
            )
        else:
            text = _(
                "That reason is {length} characters long; please keep it to {limit} or fewer.",
                length=exc.length,
                limit=policy.reason_max,
            )
        await order.message.reply_text(text)
        return None


async def duration_of(order: Order, text: str | None, policy: ModerationPolicy) -> timedelta | None:
    limit = format_duration(policy.max_mute)
    if text is None:
        await order.message.reply_text(
            _(
                "For how long? e.g. /mute @username 2h Too many messages. "
                "Durations: 30m, 2h, 1d, 1w (at most {limit}).",
                limit=limit,
            )
        )
        return None
    try:
        return bounded_duration(text, TELEGRAM_MIN_RESTRICTION * 2, policy.max_mute)
    except BoundsError as exc:
        if exc.problem is DurationProblem.TOO_LONG:
            reply = _(
                "{duration} is too long: a mute lasts at most {limit}. For longer, use /ban.",
                duration=esc(text[:24]),
                limit=limit,
            )
        elif exc.problem is DurationProblem.TOO_SHORT:
            reply = _("A mute lasts at least 1m.")
        else:
            reply = _(
                "“{duration}” is not a duration. Write it like 30m, 2h, 1d or 1w "
                "(at most {limit}).",
                duration=esc(text[:24]),
                limit=limit,
            )
        await order.message.reply_text(reply)
        return None


async def say_outcome(order: Order, outcome: Outcome, right: Right) -> bool:
    """Reply for a refused action; True when it was done."""
    name = esc(order.target.name)
    if outcome is Outcome.DONE:
        return True
    if outcome is Outcome.NO_RIGHT:
        text = missing_right_reply(order.group, right)
    elif outcome is Outcome.NOT_PRESENT:
        text = _("{name} is not in {group}.", name=name, group=esc(order.group.title))
    elif outcome is Outcome.PROTECTED:
        text = _("Telegram does not let me act on {name}: they are an admin.", name=name)
    else:
        text = _("Telegram refused that; nothing was changed. Please try again later.")
    await order.message.reply_text(text)
    return False


async def announce(order: Order, text: str) -> None:
    """Where the command was given: the group sees group notices; in private, the moderator."""
    await order.message.reply_text(text)


# --------------------------------------------------------------------------- penalties
async def mute(
    context: BotContext,
    group: GroupConfig,
    user_id: int,
    duration: timedelta,
    cause: str,
    by_id: int | None,
    reason: str,
) -> tuple[Outcome, datetime]:
    services = context.services
    until = services.clock.now() + duration
    outcome = await restrict(context, group, user_id, until)
    if outcome is Outcome.DONE:
        with services.db.transaction() as session:
            ModerationRepository(session).add_mute(
                group.chat_id, user_id, until, cause, services.clock.now(), by_id, reason
            )
    return outcome, until


def held(services: Services, group: GroupConfig, user_id: int) -> bool:
    """Read-only until the introduction is complete (a mute must not lift that early)."""
    if not group.membership.restrict_until_introduced:
        return False
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
        membership = RosterRepository(session).membership(group.chat_id, user_id)
    return (
        intro is not None
        and intro.status in (IntroStatus.PENDING, IntroStatus.HELD)
        and membership is not None
        and membership.status is MemberStatus.RESTRICTED
    )


# --------------------------------------------------------------------------- /warn /warns /unwarn
@moderators_only
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
    now = services.clock.now()
    with services.db.transaction() as session:
        earlier = ModerationRepository(session).warnings(
            group.chat_id, target.user_id, now - policy.warning_window
        )
        count = len(earlier) + 1
    steps = ladder(policy)
    step = escalation(steps, count)
    # Carry out the penalty first, then record: the log says what really happened.
    outcome: Outcome | None = None
    until: datetime | None = None
    if step is not None:
        if step.penalty is Penalty.MUTE and step.duration is not None:
            if held(services, group, target.user_id):
                outcome = Outcome.DONE  # already read-only until introduced
            else:
                outcome, until = await mute(
                    context,
                    group,
                    target.user_id,
                    step.duration,
                    "escalation",
                    order.moderator.id,
                    reason,
                )
        else:
            removal = await remove_member(
                context,
                group.chat_id,
                target.user_id,
                reason,
                cause=f"{count} warnings: {reason}"[:255],
                actor_id=order.moderator.id,
                announce=False,
                keep_banned=step.penalty is Penalty.BAN,
            )
            outcome = _removal_outcome(removal)
    window = format_duration(policy.warning_window)
    detail = _("warning {n} in {window}", n=count, window=window)
    if step is not None and outcome is not None:
        detail += "; " + (
            penalty_text(step)
            if outcome is Outcome.DONE
            else _("{penalty} failed: {why}", penalty=penalty_text(step), why=outcome.value)
        )
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.add_warning(group.chat_id, target.user_id, order.moderator.id, reason, now)
        action = repo.record(
            group.chat_id,
            "warn",
            target.user_id,
            now,
            actor_id=order.moderator.id,
            reason=reason,
            detail=detail,
        )
        if step is not None and outcome is Outcome.DONE:
            extra = repo.record(
                group.chat_id,
                step.penalty.value,
                target.user_id,
                now,
                actor_id=order.moderator.id,
                reason=reason,
                detail=_("escalation after {n} warnings", n=count),
                until=until,
            )
        else:
            extra = None
    name = mention(target.user_id, target.name)
    lines = [
        _(
            "⚠️ {name} was warned: {reason}",
            name=name,
            reason=esc(reason),
        ),
        _("Warnings in the last {window}: {n}.", n=count, window=window),
    ]
    if step is not None and outcome is Outcome.DONE:
        lines.append(_("By the group's rules they are now {penalty}.", penalty=penalty_text(step)))
    elif step is not None and outcome is Outcome.NO_RIGHT:
        lines.append(missing_right_reply(group, Right.RESTRICT))
    elif step is not None and outcome is not None:
        lines.append(
            _(
                "The rules call for them to be {penalty}, but Telegram refused it.",
                penalty=penalty_text(step),
            )
        )
    await announce(order, "\n".join(lines))
    upcoming = next_step(steps, count)
    with use_locale(_language(services, target.user_id)):
        private = [
            _(
                "You received a warning from the moderators of {group}: {reason}",
                group=esc(group.title),
                reason=esc(reason),
            ),
            _("Your warnings in the last {window}: {n}.", n=count, window=window),
        ]
        if step is not None and outcome is Outcome.DONE:
            private.append(
                _("Under the group's rules you are now {penalty}.", penalty=penalty_text(step))
            )
        if upcoming is not None:
            private.append(
                _(
                    "At {n} warnings within {window} you would be {penalty}.",
                    n=upcoming.warnings,
                    window=window,
                    penalty=penalty_text(upcoming),
                )
            )
    told = await send_private(context, target.user_id, "\n".join(private))
    if not told and not order.in_group:
        await order.message.reply_text(
            _(
                "{name} has not started a chat with me, so I could not tell them privately.",
                name=esc(target.name),
            )
        )
    # One message to the sponsor: the warning, or the removal or ban it led to.
    told_as = "warn"
    if step is not None and outcome is Outcome.DONE and step.penalty is not Penalty.MUTE:
        told_as = "ban" if step.penalty is Penalty.BAN else "remove"
    await tell_sponsor(
        context,
        group,
        target.user_id,
        told_as,
        target.name,
        reason,
        order.moderator.id,
        after=None if told_as == "warn" else (count, window),
    )
    await note_action(context, action)
    if extra is not None:
        await note_action(context, extra)


@moderators_only
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
    names = _names(services, {w.by_id for w in active})
    window = format_duration(policy.warning_window)
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


@moderators_only
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
                detail=_("{n} still counting", n=left),
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
    with use_locale(_language(services, order.target.user_id)):
        text = _(
            "The moderators of {group} withdrew your warning of {at}.",
            group=esc(order.group.title),
            at=esc(when(services, order.group, withdrawn.at)),
        )
    await send_private(context, order.target.user_id, text)
    await note_action(context, action)


# --------------------------------------------------------------------------- /mute /unmute
@moderators_only
async def mute_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "mute")
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    duration = await duration_of(order, order.rest[0] if order.rest else None, policy)
    if duration is None:
        return
    reason = await reason_of(order, order.rest[1:], policy, False, "mute")
    if reason is None:
        return
    group, target = order.group, order.target
    if held(services, group, target.user_id):
        await order.message.reply_text(
            _(
                "{name} is already read-only until their introduction is complete.",
                name=esc(target.name),
            )
        )
        return
    outcome, until = await mute(
        context, group, target.user_id, duration, "manual", order.moderator.id, reason
    )
    if not await say_outcome(order, outcome, Right.RESTRICT):
        return
    action = record(
        services,
        group,
        "mute",
        target.user_id,
        actor_id=order.moderator.id,
        reason=reason,
        detail=format_duration(duration),
        until=until,
    )
    text = _(
        "🔇 {name} is muted for {duration}, until {until}.",
        name=mention(target.user_id, target.name),
        duration=format_duration(duration),
        until=esc(when(services, group, until)),
    )
    if reason:
        text += "\n" + _("Reason: {reason}", reason=esc(reason))
    await announce(order, text)
    with use_locale(_language(services, target.user_id)):
        private = _(
            "The moderators of {group} muted you for {duration}, until {until}. You can read "
            "the group meanwhile.",
            group=esc(group.title),
            duration=format_duration(duration),
            until=esc(when(services, group, until)),
        )
        if reason:
            private += "\n" + _("Reason: {reason}", reason=esc(reason))
    await send_private(context, target.user_id, private)
    await note_action(context, action)


@moderators_only
async def unmute_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "unmute")
    if order is None:
        return
    services = context.services
    group, target = order.group, order.target
    now = services.clock.now()
    if held(services, group, target.user_id):
        await order.message.reply_text(
            _(
                "{name} is read-only until their introduction is complete; that lifts by "
                "itself when it is done.",
                name=esc(target.name),
            )
        )
        return
    with services.db.transaction() as session:
        active = ModerationRepository(session).active_mute(group.chat_id, target.user_id, now)
    status = await live_status(context, group.chat_id, target.user_id)
    if active is None and status is not MemberStatus.RESTRICTED:
        await order.message.reply_text(_("{name} is not muted.", name=esc(target.name)))
        return
    outcome = await restrict(context, group, target.user_id, None)
    if not await say_outcome(order, outcome, Right.RESTRICT):
        return
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.end_mutes(group.chat_id, target.user_id, now)
        action = repo.record(
            group.chat_id, "unmute", target.user_id, now, actor_id=order.moderator.id
        )
    await announce(
        order, _("🔈 {name} can write again.", name=mention(target.user_id, target.name))
    )
    with use_locale(_language(services, target.user_id)):
        text = _("You can write in {group} again.", group=esc(group.title))
    await send_private(context, target.user_id, text)
    await note_action(context, action)


# --------------------------------------------------------------------------- /remove /ban /unban
async def _remove_or_ban(update: Update, context: BotContext, command: str) -> None:
    ban = command == "ban"
    order = await prepare(update, context, command, present=not ban)
    if order is None:
        return
    services = context.services
    policy = services.settings.moderation
    reason = await reason_of(order, order.rest, policy, True, command)
    if reason is None:
        return
    group, target = order.group, order.target
    status = await live_status(context, group.chat_id, target.user_id) if ban else None
    if status in (MemberStatus.ADMIN, MemberStatus.OWNER):
        await say_outcome(order, Outcome.PROTECTED, Right.RESTRICT)
        return
    present = not ban or (status is not None and status.present)
    # Their private note is written in their language (sent once the removal is done).
    with use_locale(_language(services, target.user_id)):
        if ban:
            private = _(
                "The moderators removed you from {group} and you cannot rejoin: {reason}",
                group=esc(group.title),
                reason=esc(reason),
            )
        else:
            private = _(
                "The moderators removed you from {group}: {reason}\nYou are welcome back later "
                "through a sponsor (a member who invites you).",
                group=esc(group.title),
                reason=esc(reason),
            )
    if present:
        result = await remove_member(
            context,
            group.chat_id,
            target.user_id,
            reason,
            cause=f"{command} by a moderator: {reason}"[:255],
            actor_id=order.moderator.id,
            announce=False,
            keep_banned=ban,
        )
        if not await say_outcome(order, _removal_outcome(result), Right.RESTRICT):
            return
    else:  # a ban of someone already gone keeps them from coming back
        try:
            await context.bot.ban_chat_member(group.chat_id, target.user_id)
        except (BadRequest, Forbidden) as exc:
            outcome = classify(exc)
            if outcome is Outcome.NO_RIGHT:
                await missing_right(context, group, Right.RESTRICT, exc)
            if not await say_outcome(order, outcome, Right.RESTRICT):
                return
    with services.db.transaction() as session:
        ModerationRepository(session).end_mutes(group.chat_id, target.user_id, services.clock.now())
    action = record(
        services, group, command, target.user_id, actor_id=order.moderator.id, reason=reason
    )
    name = esc(target.name)
    if ban:
        text = _("⛔ {name} was banned: {reason}", name=name, reason=esc(reason))
    else:
        text = _(
            "{name} was removed: {reason}. They are welcome back through a sponsor.",
            name=name,
            reason=esc(reason),
        )
    await announce(order, text)
    told = await send_private(context, target.user_id, private)
    if not told and not order.in_group:
        await order.message.reply_text(
            _(
                "{name} has not started a chat with me, so I could not tell them privately.",
                name=name,
            )
        )
    await tell_sponsor(
        context, group, target.user_id, command, target.name, reason, order.moderator.id
    )
    await note_action(context, action)


@moderators_only
async def remove_command(update: Update, context: BotContext) -> None:
    await _remove_or_ban(update, context, "remove")


@moderators_only
async def ban_command(update: Update, context: BotContext) -> None:
    await _remove_or_ban(update, context, "ban")


@moderators_only
async def unban_command(update: Update, context: BotContext) -> None:
    order = await prepare(update, context, "unban", present=False)
    if order is None:
        return
    services = context.services
    group, target = order.group, order.target
    try:
        member = await context.bot.get_chat_member(group.chat_id, target.user_id)
    except TelegramError as exc:
        await order.message.reply_text(
            _(
                "Telegram could not tell me about {name}: {error}",
                name=esc(target.name),
                error=esc(exc.message),
            )
        )
        return
    if member.status != ChatMember.BANNED:
        await order.message.reply_text(_("{name} is not banned.", name=esc(target.name)))
        return
    try:
        await context.bot.unban_chat_member(group.chat_id, target.user_id, only_if_banned=True)
    except (BadRequest, Forbidden) as exc:
        outcome = classify(exc)
        if outcome is Outcome.NO_RIGHT:
            await missing_right(context, group, Right.RESTRICT, exc)
        await say_outcome(order, outcome, Right.RESTRICT)
        return
    action = record(services, group, "unban", target.user_id, actor_id=order.moderator.id)
    await order.message.reply_text(
        _(
            "{name} may join {group} again, through a sponsor like everyone else.",
            name=esc(target.name),
            group=esc(group.title),
        )
    )
    await note_action(context, action)


# --------------------------------------------------------------------------- /offtopic
@moderators_only
async def offtopic_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id == context.bot.id:
        await message.reply_text(_("Reply with /offtopic to the message that drifts off-topic."))
        return
    link = services.settings.moderation.offtopic_link
    if link:
        # The link is built outside _(): in Arabic a placeholder value is wrapped in
        # isolates, which must not end up inside href.
        label = _("the off-topic chat")
        chat = f'<a href="{esc(link)}">{label}</a>'
        text = _(
            "🙂 A friendly nudge from the moderators: this is drifting off-topic for {group}. "
            "Please carry on in {chat}, thank you!",
            group=esc(group.title),
            chat=chat,
        )
    else:
        text = _(
            "🙂 A friendly nudge from the moderators: this is drifting off-topic for {group}. "
            "Please carry on privately, thank you!",
            group=esc(group.title),
        )
    await replied.reply_text(text)
    user = update.effective_user
    action = record(
        services, group, "offtopic", replied.from_user.id, actor_id=user.id if user else None
    )
    await note_action(context, action)


# --------------------------------------------------------------------------- /purge
@moderators_only
async def purge_command(update: Update, context: BotContext) -> None:
    message, moderator = update.effective_message, update.effective_user
    if message is None or moderator is None:
        return
    services = context.services
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    policy = services.settings.moderation
    args = list(context.args or [])
    usage = _(
        "Usage: /purge N — the bot's last N messages here; /purge N @username (or as a reply) "
        "— that member's. N from 1 to {max}. I can only delete messages I saw, under 48 h old.",
        max=policy.purge_max,
    )
    if not args or not args[0].isdigit() or not 1 <= int(args[0][:4]) <= policy.purge_max:
        await message.reply_text(usage)
        return
    count = int(args[0])
    if message.reply_to_message is not None or len(args) > 1:
        context.args = args[1:]
        order = await prepare(update, context, "purge", present=False)
        if order is None:
            return
        who: int | None = order.target.user_id
        name = order.target.name
    else:
        who, name = None, _("the bot")
    author = who if who is not None else context.bot.id
    now = services.clock.now()
    services.journal.flush()  # the messages noted in the last second too
    with services.db.transaction() as session:
        rows = ModerationRepository(session).latest_messages(group.chat_id, author, count + 1)
    # Not the /purge command itself.
    candidates = [r for r in rows if r.message_id != message.message_id][:count]
    deleted, too_old, gone = [], 0, 0
    for row in candidates:
        if not deletable(row.at, now):
            too_old += 1
            continue
        outcome = await delete(context, group, row.message_id, own=who is None)
        if outcome is Outcome.DONE:
            deleted.append(row.message_id)
        elif outcome is Outcome.NOT_PRESENT:
            gone += 1
            deleted.append(row.message_id)  # forget it too
        elif outcome is Outcome.NO_RIGHT:
            await message.reply_text(missing_right_reply(group, Right.DELETE))
            break
        else:
            too_old += 1
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        repo.forget_messages(group.chat_id, deleted)
        done = len(deleted) - gone
        action = repo.record(
            group.chat_id,
            "purge",
            who,
            now,
            actor_id=moderator.id,
            detail=_("{done} deleted of {asked} asked", done=done, asked=count),
        )
    lines = [
        ngettext(
            "Deleted {n} message of {name}.",
            "Deleted {n} messages of {name}.",
            done,
            name=esc(name),
        )
    ]
    if len(candidates) < count:
        lines.append(
            ngettext(
                "I only knew of {n} recent message.",
                "I only knew of {n} recent messages.",
                len(candidates),
            )
        )
    if too_old:
        lines.append(
            ngettext(
                "{n} was too old to delete (Telegram allows 48 h).",
                "{n} were too old to delete (Telegram allows 48 h).",
                too_old,
            )
        )
    await message.reply_text(" ".join(lines))
    await note_action(context, action)


# --------------------------------------------------------------------------- /audit
def audit_page(
    services: Services, target_id: int | None, offset: int
) -> tuple[list[str], InlineKeyboardMarkup | None]:
    chat_ids = [g.chat_id for g in services.settings.groups]
    with services.db.transaction() as session:
        actions, total = ModerationRepository(session).actions(
            chat_ids, target_id, offset, AUDIT_PAGE
        )
    ids = {i for a in actions for i in (a.actor_id, a.target_id) if i}
    names = _names(services, ids)
    several = len(chat_ids) > 1
    lines = [
        _(
            "<b>Moderation log</b> ({first}–{last} of {total}, newest first)",
            first=offset + 1 if actions else 0,
            last=offset + len(actions),
            total=total,
        )
    ]
    for action in actions:
        group = services.settings.group(action.chat_id)
        lines.append(
            describe_action(services, action, names, group.title if several and group else "")
        )
    if not actions:
        lines.append(_("Nothing recorded."))
    markup = None
    if offset + len(actions) < total:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Older"),
                        callback_data=f"{CB_AUDIT}:{target_id or 0}:{offset + AUDIT_PAGE}",
                    )
                ]
            ]
        )
    return lines, markup


async def _send_audit(
    message: Message, lines: list[str], markup: InlineKeyboardMarkup | None
) -> None:
    chunks = chunk_lines(lines)
    for index, chunk in enumerate(chunks):
        await message.reply_text(chunk, reply_markup=markup if index == len(chunks) - 1 else None)


@moderators_only
async def audit_command(update: Update, context: BotContext) -> None:
    message = update.effective_message
    if message is None:
        return
    if message.chat.type != Chat.PRIVATE:
        await message.reply_text(_("Send /audit to me privately: the log is for moderators."))
        return
    services = context.services
    target_id: int | None = None
    if context.args:
        try:
            target = resolve_target(
                services, services.settings.groups[0].chat_id, None, list(context.args)
            )
        except TargetError as exc:
            await message.reply_text(str(exc))
            return
        target_id = target.user_id
    lines, markup = audit_page(services, target_id, 0)
    await _send_audit(message, lines, markup)


@moderators_only
async def audit_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    parts = query.data.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        await query.answer()
        return
    await query.answer()
    target_id = int(parts[1]) or None
    lines, markup = audit_page(context.services, target_id, int(parts[2]))
    if isinstance(query.message, Message):
        await _send_audit(query.message, lines, markup)


# --------------------------------------------------------------------------- noise control
async def tell_member(
    context: BotContext, group: GroupConfig, user: TgUser, private: str, public: str
) -> None:
    """Tell the member privately; if they never started the bot, one short group note."""
    if not await send_private(context, user.id, private):
        await context.bot.send_message(group.chat_id, public)


def _recently_told(services: Services, group: GroupConfig, user_id: int, kind: str) -> bool:
    since = services.clock.now() - services.settings.moderation.notice_cooldown
    with services.db.transaction() as session:
        return (
            ModerationRepository(session).recent_automatic(group.chat_id, user_id, kind, since)
            is not None
        )


def _introduction_incomplete(services: Services, group: GroupConfig, user_id: int) -> bool:
    with services.db.transaction() as session:
        intro = IntroductionRepository(session).introduction(group.chat_id, user_id)
    return intro is not None and intro.status in (IntroStatus.PENDING, IntroStatus.HELD)


def _has_media(message: Message) -> bool:
    return any(
        getattr(message, kind)
        for kind in ("photo", "video", "document", "audio", "voice", "video_note", "animation")
    )


async def watch(update: Update, context: BotContext) -> None:
    """Automatic noise control for every ordinary message in a configured group."""
    await _watch(update, context)
    if ends_at_the_watcher(update, context.services):
        # Nothing registered after the watcher acts on such a message (a test asks every
        # handler): stop here rather than let PTB try each of the later handlers on the
        # busiest kind of update.
        raise ApplicationHandlerStop


def ends_at_the_watcher(update: Update, services: Services) -> bool:
    """A new message in a configured group with words and no command or @-mention in them."""
    message = update.message
    if message is None or services.settings.group(message.chat.id) is None:
        return False
    text = message.text or message.caption
    return (
        text is not None
        and "@" not in text
        and not text.startswith("/")
        and not any(
            e.type == MessageEntity.BOT_COMMAND
            for e in (*message.entities, *message.caption_entities)
        )
    )


async def _watch(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    services = context.services
    if message is None or user is None or user.is_bot or message.sender_chat is not None:
        return
    group = services.settings.group(message.chat.id)
    if group is None:
        return
    policy = services.settings.moderation
    sent_at = message.date
    new_message = update.message is not None
    # This runs for every message in the group, so it reads nothing from the database unless
    # there is something to act on: the message is noted and counted in memory (the journal
    # writes it behind), the checks are pure, and only then is the sender's standing read.
    if new_message:
        services.journal.note(
            group.chat_id, message.message_id, user.id, sent_at, message.media_group_id
        )
    if user.id in services.settings.moderators or _cached_admin(services, user.id, group.chat_id):
        return  # trusted: configured moderators and admins by the live list
    times: list[datetime] = []
    if new_message and policy.flood is not None:
        times = services.journal.times(
            group.chat_id, user.id, sent_at - policy.flood.per, shared=services.role == "webhook"
        )
    flooding = policy.flood is not None and is_flood(
        times, sent_at, FloodRule(policy.flood.messages, policy.flood.per)
    )
    text = message.text or message.caption
    found = matcher(policy).find(text)
    entity_types = [e.type for e in (*message.entities, *message.caption_entities)]
    link = policy.block_links_until_introduced and has_link(text, entity_types)
    media = policy.block_media_until_introduced and _has_media(message)
    if not (flooding or found is not None or link or media):
        return
    with services.db.transaction() as session:
        membership = RosterRepository(session).membership(group.chat_id, user.id)
        muted = flooding and (
            ModerationRepository(session).active_mute(group.chat_id, user.id, services.clock.now())
            is not None
        )
    if membership is not None and membership.status in (MemberStatus.ADMIN, MemberStatus.OWNER):
        return  # Telegram lets nobody restrict admins; they are the group's to trust
    if flooding and not muted:
        await _mute_for_flood(context, group, user, len(times))
    if found is not None:
        await _delete_for(context, group, user, message, "banned_word", found)
        return
    if (link or media) and _introduction_incomplete(services, group, user.id):
        await _delete_for(
            context, group, user, message, "link_blocked" if link else "media_blocked", None
        )


async def _delete_for(
    context: BotContext,
    group: GroupConfig,
    user: TgUser,
    message: Message,
    kind: str,
    found: str | None,
) -> None:
    services = context.services
    outcome = await delete(context, group, message.message_id)
    if outcome is not Outcome.DONE:
        record(
            services, group, kind, user.id, detail=_("could not delete: {why}", why=outcome.value)
        )
        return
    # At most one note per kind within notice_cooldown (the audit log remembers), so a
    # repeated offence does not turn the bot itself into noise.
    told_recently = _recently_told(services, group, user.id, kind)
    detail = found[:60] if found else ""
    action = record(
        services,
        group,
        kind,
        user.id,
        reason=_("banned word") if kind == "banned_word" else _("introduction incomplete"),
        detail=detail,
    )
    await note_action(context, action)
    if not told_recently:
        with use_locale(user.language_code):
            if kind == "banned_word":
                private = _(
                    "I removed your message in {group}: it contained “{word}”, which the "
                    "group's politeness rules do not allow. Please write it again without it.",
                    group=esc(group.title),
                    word=esc(found or ""),
                )
                public = _(
                    "{name}, I removed a message: the group's politeness rules do not allow "
                    "one of its words.",
                    name=mention(user.id, user.full_name),
                )
            else:
                private = _(
                    "I removed your message in {group}: links and files are open to members "
                    "once their introduction is complete. Until then you can write text; "
                    "finish your introduction (the card in the group has a button) and they "
                    "open at once.",
                    group=esc(group.title),
                )
                public = _(
                    "{name}, links and files open once your introduction is complete; "
                    "until then, text only please.",
                    name=mention(user.id, user.full_name),
                )
        await tell_member(context, group, user, private, public)
    raise ApplicationHandlerStop  # the message is gone: no feature answers it


def _cached_admin(services: Services, user_id: int, chat_id: int) -> bool:
    """An admin of this group by the live list read recently (no query; see ``role``)."""
    settings = services.settings
    cached = services.admins.get(chat_id)
    if not settings.group_admins_are_moderators or cached is None:
        return False
    read_at, admins = cached
    return is_fresh(read_at, services.clock.now(), settings.moderation.admin_cache) and (
        user_id in admins
    )


async def _mute_for_flood(
    context: BotContext, group: GroupConfig, user: TgUser, count: int
) -> None:
    """``count`` messages (an album once) within the flood window: mute for a while."""
    services = context.services
    flood = services.settings.moderation.flood
    assert flood is not None
    if held(services, group, user.id):
        return
    outcome, until = await mute(context, group, user.id, flood.mute, "flood", None, _("flood"))
    if outcome is not Outcome.DONE:
        record(
            services, group, "flood", user.id, detail=_("could not mute: {why}", why=outcome.value)
        )
        return
    action = record(
        services,
        group,
        "flood",
        user.id,
        reason=ngettext(
            "{n} message in {per}",
            "{n} messages in {per}",
            count,
            per=format_duration(flood.per),
        ),
        detail=format_duration(flood.mute),
        until=until,
    )
    await context.bot.send_message(
        group.chat_id,
        _(
            "🔇 {name} is muted for {duration} for sending {n} messages in {per}. "
            "Please gather your thoughts into fewer messages.",
            name=mention(user.id, user.full_name),
            duration=format_duration(flood.mute),
            n=count,
            per=format_duration(flood.per),
        ),
    )
    await note_action(context, action)


# --------------------------------------------------------------------------- the sweep
async def sweep(app: App) -> None:
    """Mutes whose time is up: Telegram lifted them; bring the roster and the log in line."""
    services = services_of(app)
    context = BotContext(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ModerationRepository(session)
        expired = repo.claim_expired_mutes(now)
        repo.prune_messages(now - timedelta(hours=49))
    for chat_id, user_id in expired:
        group = services.settings.group(chat_id)
        if group is None:
            continue
        try:
            member = await app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("cannot check %s after their mute: %s", user_id, exc)
            continue
        status = status_from_telegram(member.status, getattr(member, "is_member", None))
        with services.db.transaction() as session:
            roster = RosterRepository(session)
            current = roster.membership(chat_id, user_id)
            if current is not None and current.status is not status:
                roster.apply_change(
                    chat_id,
                    ObservedChange(user_id, None, current.status, status),
                    now,
                    cause="mute ended",
                )
            ModerationRepository(session).record(chat_id, "mute_ended", user_id, now)
        if status.present and status is not MemberStatus.RESTRICTED:
            with use_locale(_language(services, user_id)):
                text = _(
                    "Your mute in {group} has ended; you can write again.", group=esc(group.title)
                )
            await send_private(context, user_id, text)


SWEEPS = [Sweep("moderation", timedelta(minutes=1), sweep)]


def register(app: App) -> None:
    app.add_handler(
        MessageHandler(filters.ChatType.GROUPS & ~filters.StatusUpdate.ALL, watch),
        group=WATCH_GROUP,
    )
    for name, callback in (
        ("warn", warn_command),
        ("warns", warns_command),
        ("unwarn", unwarn_command),
        ("mute", mute_command),
        ("unmute", unmute_command),
        ("remove", remove_command),
        ("ban", ban_command),
        ("unban", unban_command),
        ("audit", audit_command),
    ):
        app.add_handler(CommandHandler(name, callback))
    app.add_handler(CommandHandler("offtopic", offtopic_command, filters=filters.ChatType.GROUPS))
    app.add_handler(CommandHandler("purge", purge_command, filters=filters.ChatType.GROUPS))
    app.add_handler(CallbackQueryHandler(audit_button, pattern=rf"^{CB_AUDIT}:"))
