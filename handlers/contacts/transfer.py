"""CSV import (a moderator's file, dry run first) and /export."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from handlers.contacts.shared import CB, MIN_REASON, defaults, live_grants, requester_of
from handlers.render import chunk_lines, esc
from i18n import (
    N_,
    _,
    ngettext,
)
from moderation.contacts import (
    FIELDS,
    InvalidValue,
    clean_text,
    disclosed,
    parse_contacts_csv,
)
from moderation.permissions import Role
from moderation.spreadsheet import safe_row
from runtime.context import BotContext
from storage.contacts import (
    ContactRepository,
    ImportReport,
    import_contacts,
    subject_of,
    values_of,
)

MAX_PURPOSE = 300
log = logging.getLogger(__name__)
PROGRESS_ROWS = 5000  # an import this long edits its message to show progress
# The import buttons (Import / Cancel of a dry run): moderators only, declared where they are
# registered (handlers/contacts/__init__.py), before the directory's other buttons.
IMPORT_PATTERN = rf"^{CB}:im[px]:\d{{1,18}}$"
NOT_AN_IMPORTER = N_("Only moderators can import.")


# ============================================================ CSV import and export
async def on_document(update: Update, context: BotContext) -> None:
    """A moderator sends a CSV: validate all of it, report the dry run, then ask to import.
    (Moderators only: declared where it is registered, ``moderator_upload``.)"""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.document is None:
        return
    services = context.services
    policy = services.settings.contacts
    document = message.document
    name = document.file_name or "contacts.csv"
    if not name.lower().endswith(".csv"):
        await message.reply_text(_("Send contacts as a .csv file (columns: see the README)."))
        return
    if (document.file_size or 0) > policy.import_max_bytes:
        await message.reply_text(
            _(
                "This file is too large ({size:,} bytes); the limit is {limit:,}. "
                "Nothing was imported.",
                size=document.file_size or 0,
                limit=policy.import_max_bytes,
            )
        )
        return
    file = await context.bot.get_file(document.file_id)
    readable = await asyncio.to_thread(Path(file.file_path or "").is_file)
    if services.config.bot_api_local and not readable:
        # The path is on the Bot API server's disk (and holds the token): never logged.
        log.error(
            "bot_api_local is on but the Bot API server stored an upload where this process "
            "cannot read it: give the bot the server's working directory at the same path"
        )
        await message.reply_text(
            _(
                "The bot cannot read uploaded files at the moment; the operator can see why in the "
                "log. Nothing was imported."
            )
        )
        return
    data = bytes(await file.download_as_bytearray())
    parsed = await asyncio.to_thread(
        parse_contacts_csv,
        data,
        policy.import_max_bytes,
        policy.default_phone_region,
        policy.import_max_rows,
    )
    if parsed.errors:
        lines = [_("<b>{file}</b>: nothing was imported. Please fix:", file=esc(name))]
        lines += [esc(e) for e in parsed.errors]
        await message.reply_text(chunk_lines(lines)[0])
        return
    now = services.clock.now()

    def dry_run() -> tuple[ImportReport, int]:
        with services.db.transaction() as session:
            report = import_contacts(session, parsed.rows, now, apply=False)
            pending = ContactRepository(session).add_import(
                user.id, name, data.decode("utf-8-sig"), now
            )
            return report, pending.id

    report, import_id = await asyncio.to_thread(dry_run)
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Import"), callback_data=f"{CB}:imp:{import_id}")],
            [InlineKeyboardButton(_("Cancel"), callback_data=f"{CB}:imx:{import_id}")],
        ]
    )
    await message.reply_text(
        _(
            "Dry run of <b>{file}</b>: {summary}. Imported people are not findable until they "
            "agree. Import now?",
            file=esc(name),
            summary=report.summary(),
        ),
        reply_markup=markup,
    )


async def on_import(update: Update, context: BotContext) -> None:
    """Import or Cancel on a dry run (``IMPORT_PATTERN``; the presser's role is checked where
    the button is registered): only the moderator who sent the file may press it."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.data is not None
    _prefix, action, raw_id = query.data.split(":")
    import_id = int(raw_id)  # the pattern: digits only
    services = context.services
    policy = services.settings.contacts
    now = services.clock.now()
    with services.db.transaction() as session:
        if ContactRepository(session).pending_import(import_id, user.id) is None:
            await query.answer(_("This import is not yours or is already done."), show_alert=True)
            return
    await query.answer()  # at once: a long import would outlast the button's answer time
    loop = asyncio.get_running_loop()
    done: asyncio.Queue[tuple[int, int]] = asyncio.Queue()

    def progress(rows: int, total: int) -> None:  # called in the import's thread
        loop.call_soon_threadsafe(done.put_nowait, (rows, total))

    def run() -> str:
        """The import, in a thread: one transaction, all or nothing."""
        with services.db.transaction() as session:
            pending = ContactRepository(session).pending_import(import_id, user.id)
            if pending is None:  # another press got there first
                return _("This import is not yours or is already done.")
            if action == "imx":
                pending.status = "cancelled"
                return _("Cancelled; nothing was imported.")
            parsed = parse_contacts_csv(
                pending.content.encode(),
                policy.import_max_bytes,
                policy.default_phone_region,
                policy.import_max_rows,
            )
            report = import_contacts(
                session, parsed.rows, now, apply=not parsed.errors, progress=progress
            )
            pending.status = "applied"
            pending.content = ""  # no need to keep the file once imported
            return _("Imported: {summary}.", summary=report.summary())

    work = asyncio.ensure_future(asyncio.to_thread(run))
    shown = 0
    while not work.done() or not done.empty():
        waiting = asyncio.ensure_future(done.get())
        await asyncio.wait({work, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            continue
        rows, total = waiting.result()
        # A long import shows how far it got, at most once per fifth of the file.
        if total >= PROGRESS_ROWS and rows < total and rows * 5 // total > shown:
            shown = rows * 5 // total
            with contextlib.suppress(TelegramError):  # a missed progress note changes nothing
                await query.edit_message_text(
                    _("Importing… {done:,} of {total:,} contacts.", done=rows, total=total)
                )
    await query.edit_message_text(await work)


async def export(update: Update, context: BotContext) -> None:
    """A CSV of what a moderator may see of listed people, with purpose and timestamp."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    try:
        purpose = clean_text(" ".join(context.args or []), MAX_PURPOSE)
    except InvalidValue as exc:
        await message.reply_text(_("Sorry: {problem}. Nothing was exported.", problem=esc(exc)))
        return
    if len(purpose) < MIN_REASON:
        await message.reply_text(
            ngettext(
                "Usage: /export PURPOSE — why you need the list (at least {n} character); it is "
                "written in the file and in the audit.",
                "Usage: /export PURPOSE — why you need the list (at least {n} characters); it is "
                "written in the file and in the audit.",
                MIN_REASON,
            )
        )
        return
    now = services.clock.now()
    out = io.StringIO()
    writer = csv.writer(out)
    # One cell per line, quoted by the writer: a purpose with commas cannot start a new cell.
    writer.writerow(safe_row([f"# purpose: {purpose}"]))
    writer.writerow([f"# exported: {now:%Y-%m-%d %H:%M} UTC by user {user.id}"])
    writer.writerow(["# only fields the exporter may see under each person's sharing levels"])
    writer.writerow(["id", *FIELDS])
    count = 0
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        requester = requester_of(services, session, user.id, Role.MODERATOR)
        contacts = repo.consented()
        grants = live_grants(
            services, session, requester, [c.id for c in contacts], for_export=True
        )
        levels = defaults(services)
        for contact in contacts:
            shown = disclosed(requester, subject_of(contact, levels), values_of(contact), grants)
            if not shown:
                continue
            writer.writerow(safe_row([contact.id, *(shown.get(f, "") for f in FIELDS)]))
            repo.record_disclosure(user.id, contact.id, shown, "export", now, purpose)
            count += 1
    await message.reply_document(
        document=out.getvalue().encode(),
        filename=f"contacts-{now:%Y%m%d-%H%M}.csv",
        caption=ngettext(
            "{n} contact; purpose recorded: {purpose}",
            "{n} contacts; purpose recorded: {purpose}",
            count,
            purpose=esc(purpose),
        ),
    )
