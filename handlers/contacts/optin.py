"""Asking imported or pre-filled people whether they may be listed."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import User as TgUser

from handlers.common import is_configured_group, send_private, tell_moderators
from handlers.contacts.shared import CB
from handlers.render import esc, esc_attr
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
    """Ask once whether the person's own pending entry may be listed; only a delivered ask
    counts. An imported entry that merely carries their @username is not theirs: moderators
    are asked to confirm it (handlers/contacts/identity.py), and the person is shown nothing."""
    services = context.services
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.by_user(user.id)
        if contact is None:
            unlinked = repo.unlinked_by_handle("@" + user.username) if user.username else None
            claim = unlinked is not None and unlinked.claimed_by != user.id
            if unlinked is not None and claim:
                unlinked.claimed_by = user.id
                claimed = (unlinked.id, unlinked.name, unlinked.organisation)
        elif contact.consent == "pending" and not contact.consent_asked_at:
            claim = False
            contact.consent_asked_at = services.clock.now()
            contact_id, name, org = contact.id, contact.name, contact.organisation
        else:
            return
    if contact is None:
        if claim:
            await ask_moderators_to_link(context, user, *claimed)
        return
    await _ask(context, user.id, contact_id, name, org)


async def ask_moderators_to_link(
    context: BotContext, user: TgUser, contact_id: int, name: str, organisation: str
) -> None:
    """Someone whose @username matches an unlinked imported entry started the bot: a moderator
    decides whether it is them. The person is shown nothing of the entry."""
    who = esc(user.full_name)
    handle = esc_attr(user.username or "")
    entry = esc(f"{name} ({organisation})" if organisation else name)

    def text() -> str:
        return _(
            "{who} (@{handle}, user {id}) started the bot; the imported directory entry "
            "#{entry_id} {entry} carries the same username. Usernames change hands: link "
            "them only if you know it is the same person (or /link {entry_id} {id}).",
            who=who,
            handle=handle,
            id=user.id,
            entry_id=contact_id,
            entry=entry,
        )

    def markup() -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("It is them: link #{entry_id}", entry_id=contact_id),
                        callback_data=f"{CB}:lk:{contact_id}:{user.id}",
                    )
                ]
            ]
        )

    await tell_moderators(context, text, reply_markup=markup)


async def ask_listing_at_arrival(context: BotContext, user_id: int) -> None:
    """A newcomer who has just confirmed their introduction (``/start confirm_…``) is asked
    the listing question there, once, about the entry their introduction pre-filled."""
    services = context.services
    with services.db.transaction() as session:
        contact = ContactRepository(session).by_user(user_id)
        if contact is None or contact.consent != "pending" or contact.consent_asked_at:
            return
        contact.consent_asked_at = services.clock.now()
        contact_id, name, org = contact.id, contact.name, contact.organisation
    await _ask(context, user_id, contact_id, name, org)


async def _ask(context: BotContext, user_id: int, contact_id: int, name: str, org: str) -> None:
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
    delivered = await send_private(context, user_id, text, reply_markup=markup)
    if not delivered:  # they have not started the bot yet: ask again when they do
        with context.services.db.transaction() as session:
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
        # Only the person the entry is linked to, by Telegram user id.
        entitled = contact is not None and contact.user_id == user.id
        if entitled and contact is not None:
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
