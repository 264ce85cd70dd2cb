"""How a broadcast reaches you: ``/tags private`` (a private message from the bot) or
``/tags group`` (a mention in the group), and the button of ``/tags`` in private.

Only someone who started the bot can be written to privately; Telegram notifies only the
first five mentions of a group message, so every person told privately saves the group a
fifth of a message.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton

from config.schema import GroupConfig
from handlers.render import esc
from i18n import _
from runtime.context import Services
from storage.mentions import MentionRepository
from storage.roster import RosterRepository

CB_REACH = "tagr"  # tagr:p (privately) / tagr:g (in the group)


def reached_privately(services: Services, group: GroupConfig, user_id: int) -> bool:
    """Whether broadcasts reach this person privately now (their choice or the default)."""
    with services.db.transaction() as session:
        user = RosterRepository(session).user(user_id)
        if user is None or not user.reachable:
            return False
        choice = MentionRepository(session).delivery_choice(user_id)
    return group.mentions.private_default if choice is None else choice


def reach_line(services: Services, group: GroupConfig, user_id: int) -> str:
    if reached_privately(services, group, user_id):
        return _("@all and tags reach you privately (/tags group: mentioned in the group).")
    return _("@all and tags mention you in the group (/tags private: a private message instead).")


def reach_button(services: Services, group: GroupConfig, user_id: int) -> InlineKeyboardButton:
    if reached_privately(services, group, user_id):
        return InlineKeyboardButton(_("Mention me in the group"), callback_data=f"{CB_REACH}:g")
    return InlineKeyboardButton(_("Tell me privately instead"), callback_data=f"{CB_REACH}:p")


def change_reach(services: Services, group: GroupConfig, user_id: int, private: bool) -> str:
    """Record the choice; returns the answer to show."""
    with services.db.transaction() as session:
        user = RosterRepository(session).user(user_id)
        if private and (user is None or not user.reachable):
            return _(
                "I can write to you only after you start me: open a private chat with me, "
                "send /start, then /tags private."
            )
        MentionRepository(session).set_delivery(user_id, private, services.clock.now())
    if private:
        return _(
            "Done: @all and tags in {group} reach you by a private message from me. "
            "If you block me, you are mentioned in the group again.",
            group=esc(group.title),
        )
    return _("Done: @all and tags in {group} mention you in the group.", group=esc(group.title))
