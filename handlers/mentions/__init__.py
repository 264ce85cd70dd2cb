"""Mentions: ``@all``, ``@moderators``, tag groups (``@wash``, ``@unicef``), names of people
without a username, and ``/tags``.

The rules (who a mention reaches, batching, cooldowns, pacing) are in ``moderation.mentions``.
This module reads group messages in its own handler group, so it never swallows a command or
another feature's message. A broadcast is stored as rows (``mention_outbox``) and sent by a
paced dispatcher: the notice goes at once, the remaining batches at most ``per_minute`` a
minute per group, by the ``mention-batches`` sweep, so the update handler never waits.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from handlers.mentions.broadcast import broadcast, name_mentions, on_message, refuse
from handlers.mentions.common import (
    CB_TAG,
    group_tags,
    load_members,
    mention_of,
    moderator_ids,
)
from handlers.mentions.reach import CB_REACH
from handlers.mentions.sending import SWEEPS, compose, dispatch, dispatch_all
from handlers.mentions.tags import change_tag, on_tag_button, tags_command, tags_overview
from handlers.order import Stage
from moderation.permissions import CommandSpec
from runtime.context import App

__all__ = [
    "COMMANDS",
    "SWEEPS",
    "broadcast",
    "change_tag",
    "compose",
    "dispatch",
    "dispatch_all",
    "group_tags",
    "load_members",
    "mention_of",
    "moderator_ids",
    "name_mentions",
    "on_message",
    "refuse",
    "register",
    "tags_overview",
]

COMMANDS = [
    CommandSpec(
        "tags",
        "Tag groups such as @wash or @unicef; opt in or out, or be told privately",
        usage="[on|off TAG | private|group]",
    ),
]


def register(app: App) -> None:
    app.add_handler(CommandHandler("tags", tags_command), group=Stage.FEATURES)
    # Two patterns: a tag button toggles (a repeat undoes it, as its ✓ shows), a reach button
    # sets (a repeat changes nothing).
    for prefix in (CB_TAG, CB_REACH):
        app.add_handler(
            CallbackQueryHandler(on_tag_button, pattern=rf"^{prefix}:"), group=Stage.FEATURES
        )
    app.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS
            & filters.UpdateType.MESSAGE
            & (filters.Regex("@") | filters.CaptionRegex("@"))  # nothing to do without one
            & ~filters.COMMAND
            & ~filters.FORWARDED
            & ~filters.VIA_BOT,
            on_message,
        ),
        group=Stage.MENTIONS,
    )
