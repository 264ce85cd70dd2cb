"""The moderators' toolkit and automatic noise control.

Commands (moderators only, as their CommandSpecs declare): /warn /warns /unwarn /mute /unmute
/remove /ban /unban /offtopic /purge /audit;
for members /report (``reports``). They name their person the same way everywhere
(``handlers.targets.resolve_target``: reply, @username, user id or roster name), refuse bad
input with one clear reply before doing anything, and record every action in the audit log
(``moderation_actions``), mirrored to ``moderation.log_chat_id`` when set.

Automatic noise control (``watcher``) watches group messages in ``Stage.ROSTER_AND_WATCH``
(after the user tracking of ``Stage.USERS``, sharing the stage with the roster's handlers,
which take only ``chat_member`` updates and join/leave service messages, so the two never
compete). What it does about a message is decided by ``moderation.conduct.judge``; a message
it deletes stops there (``ApplicationHandlerStop``), so no feature answers a message that is
gone; every other new message goes on to the commands and features of the later stages untouched.

Edited messages stop at the edit gate in the same group: an edit is checked as content by the
same ``judge`` and never reaches a command, a form or the mentions (see ``watcher.edit_gate``).

Modules: ``commands`` (the command list), ``orders`` (checking a targeted command),
``warnings``, ``penalties``, ``logchat`` (the log chat and its undo buttons), ``reports``
(/report), ``purge`` (/offtopic, /purge), ``audit``, ``actions`` (carrying a penalty out in
Telegram), ``common``, ``render`` (the longer texts), ``watcher``, ``sweep``.
"""

from __future__ import annotations

from telegram.ext import CommandHandler, MessageHandler, filters

from handlers.common import button
from handlers.moderation.audit import CB_AUDIT, audit_button, audit_command
from handlers.moderation.commands import COMMANDS
from handlers.moderation.logchat import CB_LOG, entry_group, undo_button
from handlers.moderation.penalties import (
    ban_command,
    mute_command,
    remove_command,
    unban_command,
    unmute_command,
)
from handlers.moderation.purge import offtopic_command, purge_command
from handlers.moderation.reports import CB_REPORT, decide_button, report_command, report_group
from handlers.moderation.sweep import SWEEPS
from handlers.moderation.warnings import unwarn_command, warn_command, warns_command
from handlers.moderation.watcher import (
    NOT_A_SERVICE_MESSAGE,
    edit_gate,
    ends_at_the_watcher,
    watch,
)
from handlers.order import Stage
from moderation.permissions import Role
from runtime.context import App

__all__ = ["COMMANDS", "SWEEPS", "ends_at_the_watcher", "register", "watch"]


def register(app: App) -> None:
    # The edit gate first: an edited message never reaches the watcher's new-message path,
    # a command, a form or the mentions (it stops there).
    app.add_handler(
        MessageHandler(filters.UpdateType.EDITED, edit_gate), group=Stage.ROSTER_AND_WATCH
    )
    app.add_handler(
        MessageHandler(filters.ChatType.GROUPS & NOT_A_SERVICE_MESSAGE, watch),
        group=Stage.ROSTER_AND_WATCH,
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
        app.add_handler(CommandHandler(name, callback), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler("offtopic", offtopic_command, filters=filters.ChatType.GROUPS),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler("report", report_command, filters=filters.ChatType.GROUPS),
        group=Stage.FEATURES,
    )
    app.add_handler(
        button(decide_button, rf"^{CB_REPORT}:", Role.MODERATOR, report_group),
        group=Stage.FEATURES,
    )
    app.add_handler(
        CommandHandler("purge", purge_command, filters=filters.ChatType.GROUPS),
        group=Stage.FEATURES,
    )
    app.add_handler(button(audit_button, rf"^{CB_AUDIT}:", Role.MODERATOR), group=Stage.FEATURES)
    # The log chat's undo buttons: the presser must moderate the entry's group.
    app.add_handler(
        button(undo_button, rf"^{CB_LOG}:", Role.MODERATOR, entry_group), group=Stage.FEATURES
    )
