"""/forgetme: erasing a person's directory data."""

from __future__ import annotations

import hashlib

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.contacts.shared import CB
from i18n import (
    _,
)
from runtime.context import BotContext, Services
from storage.calendar_feeds import CalendarFeedRepository
from storage.contacts import (
    ContactRepository,
)
from storage.miniapp import claim_write


# =========================================================================== /forgetme
def confirmation() -> str:
    """The question /forgetme asks before erasing (the Mini App asks the same)."""
    return _(
        "This erases your directory entry, your sharing choices, requests and searches, "
        "and your calendar subscription link. The audit keeps only an anonymised line; "
        "/mydata lists what is kept and why. "
        "Are you sure?"
    )


def erase(services: Services, user_id: int, question: Message | None = None) -> bool:
    """What a confirmed /forgetme does (the chat's button and the Mini App's).

    With ``question`` (the chat's confirmation message), its button erases once: a second or
    replayed press of it finds the erasure claimed and returns False, so data stored after
    the erasure (say, a moderator's import naming the person) is never erased by an old press.
    """
    now = services.clock.now()
    with services.db.transaction() as session:
        if question is not None:
            used = f"forgetme:{question.chat.id}:{question.message_id}"
            key = hashlib.sha256(used.encode()).hexdigest()
            if not claim_write(session, key, question.date + services.settings.forms.ttl, now):
                return False
        ContactRepository(session).forget(user_id, now)
        CalendarFeedRepository(session).forget(user_id)
    return True


async def forgetme(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Erase my contact data"), callback_data=f"{CB}:fg:{user.id}")],
            [InlineKeyboardButton(_("Keep it"), callback_data=f"{CB}:fk:{user.id}")],
        ]
    )
    await message.reply_text(confirmation(), reply_markup=markup)


async def on_forget(
    update: Update, context: BotContext, action: str, user_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    if user_id != user.id:
        await query.answer(_("This button is not yours."), show_alert=True)
        return
    if action == "fk":
        await query.answer()
        await query.edit_message_text(_("Kept; nothing was erased."))
        return
    question = query.message if isinstance(query.message, Message) else None
    services = context.services
    # A confirmation is good for one erasure within forms.ttl of being asked (a message
    # Telegram no longer shows us is older than that).
    if question is None or services.clock.now() - question.date > services.settings.forms.ttl:
        await query.answer(
            _("This question has expired; nothing was erased. Send /forgetme to be asked again."),
            show_alert=True,
        )
        return
    if not erase(services, user.id, question):
        await query.answer(_("Already done: this button erased your data once."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(_("Erased. Your contact data and consents are gone."))
