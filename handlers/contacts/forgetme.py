"""/forgetme: erasing a person's directory data."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.contacts.shared import CB
from i18n import (
    _,
)
from runtime.context import BotContext, Services
from storage.calendar_feeds import CalendarFeedRepository
from storage.contacts import (
    ContactRepository,
)


# =========================================================================== /forgetme
def confirmation() -> str:
    """The question /forgetme asks before erasing (the Mini App asks the same)."""
    return _(
        "This erases your directory entry, your sharing choices, requests and searches, "
        "and your calendar subscription link. The audit keeps only an anonymised line; "
        "/mydata lists what is kept and why. "
        "Are you sure?"
    )


def erase(services: Services, user_id: int) -> None:
    """What a confirmed /forgetme does (the chat's button and the Mini App's)."""
    with services.db.transaction() as session:
        ContactRepository(session).forget(user_id, services.clock.now())
        CalendarFeedRepository(session).forget(user_id)


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
    await query.answer()
    if action == "fk":
        await query.edit_message_text(_("Kept; nothing was erased."))
        return
    erase(context.services, user.id)
    await query.edit_message_text(_("Erased. Your contact data and consents are gone."))
