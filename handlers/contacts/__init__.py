"""The contact directory: /profile, /contact, "put me in touch", /mydata, /forgetme,
/override, import and export.

Every value shown goes through ``moderation.contacts.disclosed`` (the one policy) and every
disclosure is recorded. Button data is never trusted: the presser must be the one entitled.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    filters,
)

from handlers.common import button, moderator_upload
from handlers.contacts.buttons import on_button
from handlers.contacts.forgetme import forgetme
from handlers.contacts.identity import (
    LINK_PATTERN,
    NOT_A_LINKER,
    assign_command,
    link_command,
    on_link,
)
from handlers.contacts.lookup import contact_command, deep_link
from handlers.contacts.mydata import mydata
from handlers.contacts.optin import ask_consent_on_join, ask_consent_on_start
from handlers.contacts.override import override
from handlers.contacts.profile import PROFILE_FORM, profile_start
from handlers.contacts.shared import CB, COMMANDS, in_group, render_card
from handlers.contacts.touch import ask_command, expire_requests, next_expiry
from handlers.contacts.transfer import (
    IMPORT_PATTERN,
    NOT_AN_IMPORTER,
    export,
    on_document,
    on_import,
)
from handlers.forms import register_form
from handlers.order import Stage
from handlers.start import add_deep_link
from moderation.permissions import Role
from runtime.context import App, BotContext, Sweep, services_of
from storage import contact_index

__all__ = ["COMMANDS", "SWEEPS", "register", "render_card"]


async def override_entry(update: Update, context: BotContext) -> None:
    await override(update, context)


async def export_entry(update: Update, context: BotContext) -> None:
    await export(update, context)


async def link_entry(update: Update, context: BotContext) -> None:
    await link_command(update, context)


async def assign_entry(update: Update, context: BotContext) -> None:
    await assign_command(update, context)


async def document_entry(update: Update, context: BotContext) -> None:
    await on_document(update, context)


def register(app: App) -> None:
    private = filters.ChatType.PRIVATE
    register_form(app, PROFILE_FORM)
    app.add_handler(CommandHandler("profile", profile_start, filters=private), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler("contact", contact_command, filters=private), group=Stage.FEATURES
    )
    app.add_handler(
        CommandHandler(["contact", "profile"], in_group, filters=~private), group=Stage.FEATURES
    )
    app.add_handler(CommandHandler("mydata", mydata, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("forgetme", forgetme, filters=private), group=Stage.FEATURES)
    app.add_handler(
        CommandHandler("override", override_entry, filters=private), group=Stage.FEATURES
    )
    app.add_handler(CommandHandler("link", link_entry, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("clusters", assign_entry, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("ask", ask_command, filters=private), group=Stage.FEATURES)
    app.add_handler(CommandHandler("export", export_entry, filters=private), group=Stage.FEATURES)
    app.add_handler(
        moderator_upload(private & filters.Document.ALL, document_entry), group=Stage.FEATURES
    )
    # The moderators' buttons first (the first handler of a group that matches takes the press),
    # then the dispatcher of everyone's own buttons.
    app.add_handler(
        button(on_link, LINK_PATTERN, Role.MODERATOR, refusal=NOT_A_LINKER),
        group=Stage.FEATURES,
    )
    app.add_handler(
        button(on_import, IMPORT_PATTERN, Role.MODERATOR, refusal=NOT_AN_IMPORTER),
        group=Stage.FEATURES,
    )
    app.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{CB}:"), group=Stage.FEATURES)
    # After /start has answered (Stage.FEATURES), ask imported people for their consent; and
    # when they join (after the newcomer was admitted in Stage.FOLLOW_UP).
    app.add_handler(
        CommandHandler("start", ask_consent_on_start, filters=private), group=Stage.FOLLOW_UP
    )
    app.add_handler(
        ChatMemberHandler(ask_consent_on_join, ChatMemberHandler.CHAT_MEMBER),
        group=Stage.SECOND_FOLLOW_UP,
    )
    add_deep_link(app, "contact", deep_link)


async def warm_index(app: App) -> None:
    """Build the lookup index in the background soon after start-up (and after other processes
    changed the directory), so no lookup waits for it. Its first run waits ``INDEX_FIRST``: the
    build (about a second for 100,000 contacts) leaves the start to the first updates; a lookup
    before then answers from SQL and starts the build itself. It also prunes the directory's
    change log to the newest ``contact_index.LOG_KEPT`` versions (older is never caught up from:
    an index that far behind rebuilds)."""
    db = services_of(app).db
    with db.transaction() as session:
        contact_index.prune_log(session)
    await contact_index.warm(db)


INDEX_FIRST = timedelta(seconds=15)
SWEEPS = [
    Sweep("contact-requests", timedelta(minutes=5), expire_requests, next_expiry),
    Sweep("contact-index", timedelta(minutes=10), warm_index, first=INDEX_FIRST),
]
