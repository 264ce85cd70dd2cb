"""/deadline in private chat: add and edit open the form (form.py); pause, resume and remove act
at once (remove after a confirmation button).

Moderators only: the command's ``CommandSpec`` and the remove button's registration
(``REMOVE_PATTERN``, handlers/deadline_admin/__init__.py) declare it; nothing here re-checks."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers.deadline_admin import render
from handlers.deadline_admin.form import (
    DEADLINE_FORM,
    DeadlineDraft,
    config_definition,
)
from handlers.deadlines import plan_outbox
from handlers.render import esc, esc_attr
from i18n import _
from moderation import deadlines as rules
from moderation.deadlines import Deadline, DeadlineError
from runtime.context import BotContext
from storage.deadlines import DeadlineRepository
from storage.forms import FormRepository

log = logging.getLogger(__name__)

CB = "dla"  # the remove confirmation's buttons (not a form: one press decides)
REMOVE_PATTERN = rf"^{CB}:(rm:.*|keep)$"  # Remove / Keep it: a moderator's (see __init__)


def _drop_open_form(context: BotContext, user_id: int) -> None:
    """Any /deadline command ends a /deadline form the moderator had open."""
    with context.services.db.transaction() as session:
        forms = FormRepository(session)
        row = forms.locked(user_id, user_id)
        if row is not None and row.kind == DEADLINE_FORM.kind:
            forms.drop(user_id, user_id)


async def deadline_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    _drop_open_form(context, user.id)
    args = context.args or []
    action = args[0].lower() if args else ""
    if action == "add" and len(args) == 1:
        await DEADLINE_FORM.start(update, context, DeadlineDraft(mode="add"))
        return
    if action not in ("edit", "pause", "resume", "remove") or len(args) != 2:
        await message.reply_text(render.usage())
        return
    deadline_id = args[1]
    try:
        rules.check_id(deadline_id)
    except DeadlineError as exc:
        await message.reply_text(esc(exc))
        return
    if action == "edit":  # the form's opening reads the deadline in its own unit of work
        await DEADLINE_FORM.start(update, context, DeadlineDraft(mode="edit", id=deadline_id))
        return
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.sync_config(services.settings.deadline_definitions(), services.clock.now())
        deadline = repo.deadline(deadline_id)
    if deadline is None:
        await message.reply_text(
            _("There is no deadline {id}. /deadlines lists the ids.", id=esc_attr(deadline_id))
        )
        return
    if action in ("pause", "resume"):
        await _pause(update, context, deadline, action == "pause")
        return
    await message.reply_text(
        render.remove_question(deadline),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Remove"), callback_data=f"{CB}:rm:{deadline.id}"),
                    InlineKeyboardButton(_("Keep it"), callback_data=f"{CB}:keep"),
                ]
            ]
        ),
    )


async def _pause(update: Update, context: BotContext, deadline: Deadline, pause: bool) -> None:
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    if deadline.paused == pause:
        text = (
            _("{id} is already paused.", id=esc_attr(deadline.id))
            if pause
            else _("{id} is not paused.", id=esc_attr(deadline.id))
        )
        await message.reply_text(text)
        return
    services = context.services
    now = services.clock.now()
    configured = config_definition(services, deadline.id)
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        repo.save_from_chat(
            replace(deadline, paused=pause),
            "pause" if pause else "resume",
            update.effective_user.id,
            now,
            config=configured,
        )
        if not pause:
            plan_outbox(services, repo, now)
    await message.reply_text(render.paused(deadline, pause))


async def on_remove_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if query is None or query.from_user is None:
        return
    data = query.data or ""
    if data == f"{CB}:keep":
        await query.answer()
        await _edit(query, _("Nothing was removed."))
        return
    deadline_id = data.split(":", 2)[2] if data.count(":") == 2 else ""
    try:
        rules.check_id(deadline_id)
    except DeadlineError:
        await query.answer(_("This button is not valid any more."))
        return
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = DeadlineRepository(session)
        deadline = repo.deadline(deadline_id)
        cancelled = (
            repo.remove(
                deadline_id, query.from_user.id, now, config_definition(services, deadline_id)
            )
            if deadline is not None
            else None
        )
    await query.answer()
    if deadline is None or cancelled is None:
        await _edit(query, _("{id} was already removed.", id=esc_attr(deadline_id)))
        return
    await _edit(query, render.removed(deadline, cancelled))


async def _edit(query: Any, text: str) -> None:
    try:
        await query.edit_message_text(text)
    except TelegramError as exc:  # the message is too old to edit: say it anew
        log.info("could not edit the /deadline message: %s", exc)
        if query.message is not None:
            await query.message.chat.send_message(text)


async def in_group(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    await message.reply_text(
        _("Please send /deadline to me in a private chat; nothing was changed here.")
    )


async def stale_button(update: Update, context: BotContext) -> None:
    """A button of the form as it was before forms were kept in the database."""
    query = update.callback_query
    if query is not None:
        await query.answer(
            _("This form is no longer open; start again with /deadline."), show_alert=True
        )
