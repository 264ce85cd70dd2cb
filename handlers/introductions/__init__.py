"""Introductions: /invite (a sponsor's personal link), a sponsor introducing a newcomer who is
already in the group, and the newcomer confirming their own name and organisation.

``sponsor.py`` and ``newcomer.py`` are the two guided forms (handlers/forms.py keeps their
state in the database; /cancel at any step); ``saving.py`` stores a confirmed sponsor's form;
``cards.py`` keeps the introduction card in the group and completes an introduction when both
halves exist; ``render.py`` composes the texts. What is stored is decided by
``moderation.introductions``.
"""

from __future__ import annotations

from telegram.ext import CommandHandler, filters

from handlers.forms import register_form
from handlers.introductions.cards import (
    complete_if_ready,
    deep_link,
    post_or_update_card,
    sponsor_problem,
)
from handlers.introductions.newcomer import NEWCOMER_FORM, begin_confirm
from handlers.introductions.render import describe
from handlers.introductions.saving import _create_invitation
from handlers.introductions.sponsor import SPONSOR_FORM, begin_from_link, begin_invite
from handlers.order import Stage
from moderation.permissions import CommandSpec, Where
from runtime.context import App

__all__ = [
    "COMMANDS",
    "_create_invitation",
    "complete_if_ready",
    "deep_link",
    "describe",
    "post_or_update_card",
    "register",
    "sponsor_problem",
]

COMMANDS = [
    CommandSpec(
        "invite", "Get a personal invite link for someone you sponsor", where=Where.PRIVATE
    ),
    CommandSpec("cancel", "Stop what you are filling in", where=Where.PRIVATE),
]


def register(app: App) -> None:
    private = filters.ChatType.PRIVATE
    register_form(app, SPONSOR_FORM)
    register_form(app, NEWCOMER_FORM)
    app.add_handler(CommandHandler("invite", begin_invite, filters=private), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler(
            "start",
            begin_from_link,
            filters=private & filters.Regex(r"^/start (intro|jr)_\d{1,12}$"),
        ),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler(
            "start", begin_confirm, filters=private & filters.Regex(r"^/start confirm_\d{1,12}$")
        ),
        group=Stage.FEATURES,
    )
