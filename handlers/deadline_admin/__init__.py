"""Moderators' deadline commands: ``/deadline add|edit|pause|resume|remove``, in private chat.

``commands.py`` takes the command; ``form.py`` is the guided add/edit form (its state is kept
in the database by handlers/forms.py, so a restart or another replica continues it);
``render.py`` composes the texts.

Deadlines from the configuration file may be changed here too: the row becomes an *override*
of that file definition and stays as the chat left it (across restarts) until someone changes
that deadline in the file, which then wins again (see ``storage.deadlines.sync_config``).
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from handlers.common import button
from handlers.deadline_admin.commands import (
    CB,
    REMOVE_PATTERN,
    deadline_command,
    in_group,
    on_remove_button,
    stale_button,
)
from handlers.deadline_admin.form import DEADLINE_FORM
from handlers.forms import register_form
from handlers.order import Stage
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App

COMMANDS = [
    CommandSpec(
        "deadline",
        "Add, edit, pause, resume or remove a deadline",
        Role.MODERATOR,
        where=Where.PRIVATE,
        usage="add | edit ID | pause ID | resume ID | remove ID",
    ),
]


def register(app: App) -> None:
    register_form(app, DEADLINE_FORM)
    app.add_handler(
        CommandHandler("deadline", deadline_command, filters=filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler("deadline", in_group, filters=~filters.ChatType.PRIVATE),
        group=Stage.FEATURES,
    )
    app.add_handler(button(on_remove_button, REMOVE_PATTERN, Role.MODERATOR), group=Stage.FEATURES)
    app.add_handler(CallbackQueryHandler(stale_button, pattern=rf"^{CB}:"), group=Stage.FEATURES)
