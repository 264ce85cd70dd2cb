"""Shared by the moderation handlers: Telegram's refusals, the audit record, its one-line text."""

from __future__ import annotations

import enum
import functools
import logging
from datetime import UTC, datetime

from telegram.error import Forbidden, TelegramError

from config.schema import GroupConfig, ModerationPolicy
from handlers.common import personal_language, report_missing_right
from handlers.render import esc
from i18n import _, datetime_text
from moderation.audit_details import detail_text, penalty_words
from moderation.discipline import BannedMatcher, Step
from runtime.context import BotContext, Services
from storage.models import ModerationAction
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- small helpers
@functools.cache
def _matcher(words: tuple[str, ...], patterns: tuple[str, ...]) -> BannedMatcher:
    return BannedMatcher.build(words, patterns)


def matcher(policy: ModerationPolicy) -> BannedMatcher:
    return _matcher(tuple(policy.banned_words), tuple(policy.banned_patterns))


def ladder(policy: ModerationPolicy) -> list[Step]:
    return policy.ladder()


def when(services: Services, group: GroupConfig, at: datetime) -> str:
    """A time in the group's zone, in the reader's language: ``24 Nov 2026, 09:00 Kyiv time``."""
    return datetime_text(at, services.settings.group_timezone(group))


def penalty_text(step: Step) -> str:
    return penalty_words(step.penalty.value, step.duration)


def language_of(services: Services, user_id: int) -> str | None:
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


async def refused(
    context: BotContext, group: GroupConfig, right: Right, error: TelegramError
) -> Outcome:
    """How Telegram's refusal reads (``classify``); a missing ``right`` is told to the
    moderators (``missing_right``)."""
    outcome = classify(error)
    if outcome is Outcome.NO_RIGHT:
        await missing_right(context, group, right, error)
    return outcome


def missing_right_reply(group: GroupConfig, right: Right) -> str:
    return _(
        "I could not do that: in {group} I lack the admin right to {right}. Please give me "
        "that right and try again.",
        group=esc(group.title),
        right=right.label(),
    )


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
    return kind_labels().get(kind, kind)


def kind_labels() -> dict[str, str]:
    """Every kind of audited action, with what the log says it did (current language)."""
    return {
        "warn": _("warned"),
        "unwarn": _("withdrew a warning of"),
        "mute": _("muted"),
        "unmute": _("unmuted"),
        "remove": _("removed"),
        "ban": _("banned"),
        "unban": _("lifted the ban on"),
        "readmit": _("readmitted"),
        "report_delete": _("deleted a reported message of"),
        "report_dismiss": _("dismissed a report about"),
        "report_hide": _("hid a reported message (pending review) of"),
        "offtopic": _("nudged off-topic"),
        "purge": _("purged messages of"),
        "flood": _("muted for flooding"),
        "banned_word": _("deleted a message (banned word) of"),
        "link_blocked": _("deleted a link from"),
        "media_blocked": _("deleted media from"),
        "mute_ended": _("mute ended for"),
        "channel_held": _("removed a post (channel not linked to a member) of"),
    }


def describe_action(
    services: Services, action: ModerationAction, names: dict[int, str], group_title: str = ""
) -> str:
    """One line of the audit log: when, who, what, whom, why."""
    group = services.settings.group(action.chat_id)
    at = datetime_text(action.at, services.settings.group_timezone(group) if group else UTC)
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
        line += f" ({esc(detail_text(action.detail))})"
    if group_title:
        line = f"[{esc(group_title)}] {line}"
    return line


def names_of(services: Services, ids: set[int]) -> dict[int, str]:
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        return {uid: u.display_name for uid in ids if (u := roster.user(uid)) is not None}
