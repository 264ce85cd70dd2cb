"""Taking someone out of a group: the one way every feature removes a member.

Removal is "kick, can return": ban then unban at once, so the person can come back later
through a sponsor. The roster records the change with its real cause (introduction overdue,
departure, expiry, a moderator's decision…) before Telegram's own ``chat_member`` update
arrives, which the roster then recognises as already recorded.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from telegram.error import BadRequest, Forbidden

from handlers.common import in_group, report_missing_right
from handlers.render import esc
from handlers.topics import send_to_group
from i18n import N_, _
from moderation.audit_details import removal_detail
from moderation.roster import MemberStatus, ObservedChange
from moderation.topics import Purpose
from runtime.context import BotContext
from storage.moderation import ModerationRepository
from storage.roster import RosterRepository

log = logging.getLogger(__name__)


class Removal(enum.Enum):
    REMOVED = "removed"
    NOT_PRESENT = "not present"  # already left or removed: nothing to do
    PROTECTED = "protected"  # an owner or admin: Telegram does not let a bot remove them
    FAILED = "failed"  # the bot lacks the right (moderators were told)


async def remove_member(
    context: BotContext,
    chat_id: int,
    user_id: int,
    why: str | Callable[[], str],
    *,
    cause: str,
    actor_id: int | None = None,
    announce: bool = True,
    keep_banned: bool = False,
    audited: bool = False,
) -> Removal:
    """Remove ``user_id`` from ``chat_id``; ``why`` is shown to the group, ``cause`` is recorded.

    ``why`` is rendered in the group's language(s): pass a callable building it with ``_()``,
    or a phrase marked with ``N_()``. ``keep_banned`` (a moderator's /ban) leaves the ban in
    place, so they cannot come back. Every removal goes into the moderation log (/audit) with
    its cause, unless the caller (a moderation command) records it itself (``audited``).

    Never raises for the expected refusals: someone who already left, an admin, or a missing
    right each come back as an outcome (and the moderators are told about a missing right).
    """
    services = context.services
    group = services.settings.group(chat_id)
    if group is None:
        return Removal.FAILED
    with services.db.transaction() as session:
        roster = RosterRepository(session)
        membership = roster.membership(chat_id, user_id)
        user = roster.user(user_id)
        status = membership.status if membership is not None else None
    if status is None or not status.present:
        return Removal.NOT_PRESENT
    if status in (MemberStatus.OWNER, MemberStatus.ADMIN):
        return Removal.PROTECTED
    try:
        await context.bot.ban_chat_member(chat_id, user_id)
    except (BadRequest, Forbidden) as exc:
        text = str(exc).lower()
        if "user not found" in text or "participant_id_invalid" in text:
            return Removal.NOT_PRESENT
        if "administrator" in text or "chat owner" in text:  # the roster had not seen a promotion
            return Removal.PROTECTED
        await report_missing_right(
            context, group, N_("remove members"), exc, key="can_restrict_members"
        )
        return Removal.FAILED
    with services.db.transaction() as session:
        RosterRepository(session).apply_change(
            chat_id,
            ObservedChange(user_id, actor_id, status, MemberStatus.REMOVED),
            services.clock.now(),
            cause=cause,
        )
        if not audited:
            ModerationRepository(session).record(
                chat_id,
                "remove",
                user_id,
                services.clock.now(),
                actor_id=actor_id,
                detail=removal_detail(cause),
            )
    if not keep_banned:
        try:
            await context.bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
        except (BadRequest, Forbidden) as exc:  # removed, but held banned: cannot return yet
            log.warning("group %s: could not lift the ban on %s: %s", chat_id, user_id, exc)
    if announce:
        name = esc(user.display_name if user else str(user_id))
        await send_to_group(
            context.bot,
            services,
            chat_id,
            purpose=Purpose.MODERATION,
            text=in_group(
                services,
                chat_id,
                lambda: _(
                    "{name} was removed: {why}. They are welcome back through a sponsor.",
                    name=name,
                    why=esc(why() if callable(why) else _(why)),
                ),
            ),
        )
    return Removal.REMOVED
