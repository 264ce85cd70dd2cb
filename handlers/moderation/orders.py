"""A moderator's targeted command, checked before it acts: group, person, reason, duration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from telegram import Chat, Message, Update
from telegram import User as TgUser
from telegram.error import TelegramError

from config.schema import GroupConfig, ModerationPolicy
from handlers.common import current_role
from handlers.moderation.commands import COMMANDS
from handlers.moderation.common import Outcome, Right, missing_right_reply
from handlers.render import esc
from handlers.targets import Target, TargetError, resolve_target
from i18n import _, duration_text
from moderation.channels import is_channel_id
from moderation.discipline import (
    TELEGRAM_MIN_RESTRICTION,
    BoundsError,
    DurationProblem,
    ReasonError,
    ReasonProblem,
    bounded_duration,
    clean_reason,
)
from moderation.permissions import Role
from moderation.roster import MemberStatus, status_from_telegram
from runtime.context import BotContext, Services
from storage.roster import RosterRepository


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
    if is_channel_id(target.user_id):  # a post sent as a channel: no role, never "present"
        return Order(group, message, moderator, in_group, target)
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
    limit = duration_text(policy.max_mute)
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
