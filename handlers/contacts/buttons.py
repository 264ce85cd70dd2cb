"""Buttons of the directory: one dispatcher for the people's own buttons, each handler checks the
presser is the one entitled. The moderators' buttons (link a claim, import a file) have patterns
of their own, registered before this dispatcher with their role (handlers/contacts/__init__.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from handlers.common import (
    role_here,
)
from handlers.contacts.forgetme import on_forget
from handlers.contacts.lookup import reopen_lookup, search_page
from handlers.contacts.mydata import on_revoke
from handlers.contacts.optin import on_consent
from handlers.contacts.shared import parse_id
from handlers.contacts.touch import on_answer, on_ask, on_toggle
from i18n import (
    _,
)
from runtime.context import BotContext

Action = Callable[[Update, BotContext, str, int, list[str]], Awaitable[None]]


# ============================================================== buttons (never trusted)
async def on_button(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    number = parse_id(parts[2]) if len(parts) > 2 else None
    handler = ACTIONS.get(action)
    if handler is None or number is None:
        await query.answer(_("This button is not valid."), show_alert=True)
        return
    await handler(update, context, action, number, parts[3:])


async def _on_page(
    update: Update, context: BotContext, _action: str, lookup_id: int, rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    page = parse_id(rest[0]) if rest else None
    user_role = await role_here(update, context)
    found = reopen_lookup(services, user.id, user_role, lookup_id)
    if found is None or page is None:
        await query.answer(_("This search is not yours."), show_alert=True)
        return
    requester, key = found
    text, markup = await search_page(services, requester, lookup_id, key, page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


# ct:<action>:<number>…, each the presser's own (tests/test_permissions.py lists why).
ACTIONS: dict[str, Action] = {
    "pg": _on_page,
    "ask": on_ask,
    "t": on_toggle,
    "y": on_answer,
    "n": on_answer,
    "rv": on_revoke,
    "cy": on_consent,
    "cn": on_consent,
    "fg": on_forget,
    "fk": on_forget,
}
