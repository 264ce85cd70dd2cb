"""Who an entry belongs to, and which clusters count: moderators' /link and /clusters.

Identity is a Telegram user id, never a username: an imported entry is tied to a person only
by a user id in the import or by a moderator (``/link`` or the button on a claim). Clusters that
open cluster-level fields are the confirmed ones (the sponsor's introduction, an import, or a
moderator's ``/clusters``); what a person writes in /profile is shown and opens nothing.
"""

from __future__ import annotations

from telegram import Update

from handlers.contacts.optin import ask_listing_at_arrival
from handlers.contacts.shared import CB, parse_id
from handlers.render import esc
from i18n import N_, _, comma_join
from moderation.contacts import InvalidValue, split_clusters
from runtime.context import BotContext
from storage.contacts import ContactRepository, confirmed_cluster_list

# The "link" button on a claim sent to the moderators: moderators only, declared where it is
# registered (handlers/contacts/__init__.py), before the directory's other buttons.
LINK_PATTERN = rf"^{CB}:lk:\d{{1,18}}:\d{{1,18}}$"
NOT_A_LINKER = N_("Only moderators can link directory entries.")


async def on_link(update: Update, context: BotContext) -> None:
    """``ct:lk:ENTRY:USER`` (``LINK_PATTERN``; the presser's role is checked where the button
    is registered)."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.data is not None
    _prefix, _action, raw_entry, raw_target = query.data.split(":")
    text = await _link(context, int(raw_entry), int(raw_target))  # the pattern: digits only
    await query.answer()
    await query.edit_message_text(text)


async def link_command(update: Update, context: BotContext) -> None:
    """/link ENTRY USER_ID: a moderator ties an imported entry to a Telegram user id."""
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    contact_id = parse_id(args[0]) if args else None
    target = parse_id(args[1]) if len(args) > 1 else None
    if contact_id is None or target is None or len(args) != 2:
        await message.reply_text(
            _(
                "Usage: /link ENTRY USER_ID — the directory entry's #number and the person's "
                "numeric Telegram id. Only do it when you know it is the same person."
            )
        )
        return
    await message.reply_text(await _link(context, contact_id, target))


async def _link(context: BotContext, contact_id: int, user_id: int) -> str:
    with context.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        linked = contact is not None and repo.link(contact, user_id)
        if linked and contact is not None:
            contact.claimed_by = None
    if not linked:
        return _(
            "Not linked: entry #{entry_id} does not exist, already belongs to someone, or user "
            "{id} already has an entry.",
            entry_id=contact_id,
            id=user_id,
        )
    await ask_listing_at_arrival(context, user_id)
    return _(
        "Linked entry #{entry_id} to user {id}. They are asked whether they may be listed.",
        entry_id=contact_id,
        id=user_id,
    )


async def assign_command(update: Update, context: BotContext) -> None:
    """/clusters ENTRY CLUSTERS: a moderator confirms the clusters that open cluster-level fields
    (replacing the confirmed list; ``-`` clears it)."""
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    contact_id = parse_id(args[0]) if args else None
    raw = " ".join(args[1:]).strip()
    if contact_id is None or not raw:
        await message.reply_text(
            _(
                "Usage: /clusters ENTRY CLUSTERS — the entry's #number and its confirmed "
                "cluster(s), separated by commas; - clears them."
            )
        )
        return
    try:
        clusters = [] if raw == "-" else split_clusters(raw)
    except InvalidValue as exc:
        await message.reply_text(_("Sorry: {problem}. Nothing was changed.", problem=esc(exc)))
        return
    with context.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        if contact is not None:
            repo.assign_clusters(contact, clusters, context.services.clock.now())
            now_confirmed = confirmed_cluster_list(contact)
    if contact is None:
        await message.reply_text(_("No directory entry has that number."))
        return
    await message.reply_text(
        _(
            "Entry #{entry_id}: confirmed clusters now {clusters}.",
            entry_id=contact_id,
            clusters=esc(comma_join(now_confirmed) or "—"),
        )
    )
