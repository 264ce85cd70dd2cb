"""Asking imported or pre-filled people whether they may be listed."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import User as TgUser

from handlers.common import (
    is_configured_group,
    send_private,
)
from handlers.contacts.shared import CB
from handlers.render import esc
from handlers.roster import observed
from i18n import (
    _,
)
from runtime.context import BotContext
from storage.contacts import (
    ContactRepository,
)


# ======================================================================= opt-in on /start
async def ask_consent_on_start(update: Update, context: BotContext) -> None:
    """People imported (or pre-filled) are asked once, when they first start the bot."""
    if update.effective_user is not None:
        await ask_consent(context, update.effective_user)


async def ask_consent_on_join(update: Update, context: BotContext) -> None:
    """…or when they join a group, if they can already be written to privately."""
    change = update.chat_member
    if change is None or not is_configured_group(context.services, update):
        return
    arrived = observed(change)
    if arrived.new_status.present and not (arrived.old_status and arrived.old_status.present):
        await ask_consent(context, change.new_chat_member.user)


async def ask_consent(context: BotContext, user: TgUser) -> None:
    """Ask once whether a pending directory entry may be listed; only a delivered ask counts."""
    services = context.services
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.by_user(user.id)
        if contact is None and user.username:
            found = repo.by_handle("@" + user.username)
            contact = found if found is not None and found.user_id is None else None
        if contact is None or contact.consent != "pending" or contact.consent_asked_at:
            return
        contact.consent_asked_at = services.clock.now()
        contact_id, name, org = contact.id, contact.name, contact.organisation

    def markup() -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(_("Yes, list me"), callback_data=f"{CB}:cy:{contact_id}")],
                [InlineKeyboardButton(_("No"), callback_data=f"{CB}:cn:{contact_id}")],
            ]
        )

    def text() -> str:
        entry = (
            _("<b>{name}</b> ({organisation})", name=esc(name), organisation=esc(org))
            if org
            else _("<b>{name}</b>", name=esc(name))
        )
        return _(
            "The group's contact directory has an entry for {entry}. Nobody can find it or see "
            "its details until you agree. May colleagues find you, and see what your sharing "
            "levels allow? (/profile to review it, /mydata to see it all)",
            entry=entry,
        )

    # Asked on joining too (a group update): in the person's own language.
    delivered = await send_private(context, user.id, text, reply_markup=markup)
    if not delivered:  # they have not started the bot yet: ask again when they do
        with services.db.transaction() as session:
            pending = ContactRepository(session).get(contact_id)
            if pending is not None:
                pending.consent_asked_at = None


async def on_consent(
    update: Update, context: BotContext, action: str, contact_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    now = context.services.clock.now()
    with context.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        entitled = contact is not None and (
            contact.user_id == user.id
            or (
                contact.user_id is None
                and user.username is not None
                and contact.telegram.lower() == "@" + user.username.lower()
                and repo.by_user(user.id) is None
            )
        )
        if entitled and contact is not None:
            contact.user_id = user.id
            repo.set_consent(contact, action == "cy", now)
    if not entitled:
        await query.answer(_("This question is not for you."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        _("Thank you: you are listed. /profile changes your details and who sees them.")
        if action == "cy"
        else _("Understood: you are not listed and nothing is shared. /forgetme erases the entry.")
    )
