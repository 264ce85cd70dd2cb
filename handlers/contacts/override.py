"""/override: a moderator reveals a contact's details, with a reason."""

from __future__ import annotations

from dataclasses import replace

from telegram import Update

from handlers.common import (
    send_private,
)
from handlers.contacts.shared import (
    MIN_REASON,
    defaults,
    live_grants,
    parse_id,
    render_card,
    requester_of,
)
from handlers.render import esc
from i18n import (
    _,
    comma_join,
    datetime_text,
    ngettext,
)
from moderation.contacts import (
    FIELDS,
    GrantKind,
    InvalidValue,
    clean_text,
    disclosed,
    field_label,
)
from moderation.permissions import Role
from runtime.context import BotContext
from storage.contacts import (
    ContactRepository,
    subject_of,
    values_of,
)

MAX_REASON = 500


def override_fields(text: str) -> frozenset[str] | None:
    """``phone,email`` → those fields; None when the word is not a list of field names."""
    names = [n.strip().lower() for n in text.split(",")]
    return frozenset(names) if names and all(n in FIELDS for n in names) else None


# =========================================================================== /override
async def override(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    if not services.settings.contacts.moderator_override:
        await message.reply_text(
            _(
                "Overrides are turned off in this group's configuration "
                "(contacts.moderator_override). Ask the person to be put in touch instead."
            )
        )
        return
    args = context.args or []
    contact_id = parse_id(args[0]) if args else None
    fields = override_fields(args[1]) if len(args) > 1 else None
    words = args[2:] if fields is not None else args[1:]
    try:
        reason = clean_text(" ".join(words), MAX_REASON)
    except InvalidValue as exc:
        await message.reply_text(_("Sorry: {problem}. Nothing was revealed.", problem=esc(exc)))
        return
    if contact_id is None or len(reason) < MIN_REASON:
        await message.reply_text(
            ngettext(
                "Usage: /override ID [FIELDS] REASON — the contact's #number, optionally the "
                "fields you need (e.g. phone,email; all if left out) and why (at least {n} "
                "character). The reason is recorded and shown to the person.",
                "Usage: /override ID [FIELDS] REASON — the contact's #number, optionally the "
                "fields you need (e.g. phone,email; all if left out) and why (at least {n} "
                "characters). The reason is recorded and shown to the person.",
                MIN_REASON,
            )
        )
        return
    now = services.clock.now()
    expires = now + services.settings.contacts.override_expiry
    subject_id: int | None = None
    shown_fields: list[str] = []
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        if contact is None or contact.consent != "given":
            card = None
        else:
            granted = fields or FIELDS
            repo.add_grant(
                user.id, contact.id, granted, GrantKind.OVERRIDE, user.id, now, reason, expires
            )
            session.flush()
            requester = replace(
                requester_of(services, session, user.id, Role.MODERATOR), is_member=True
            )
            shown = disclosed(
                requester,
                subject_of(contact, defaults(services)),
                values_of(contact),
                live_grants(services, session, requester, [contact.id]),
            )
            repo.record_disclosure(user.id, contact.id, shown, "override", now, reason)
            card = render_card(shown, contact.id)
            subject_id = contact.user_id
            shown_fields = list(shown)
    if card is None:
        await message.reply_text(_("No listed contact has that number."))
        return
    recorded = _(
        "Override recorded (reason: {reason}); it ends {until}, or sooner if overrides are "
        "turned off or you stop being a moderator.",
        reason=esc(reason),
        until=datetime_text(expires, services.settings.group_timezone(services.settings.groups[0])),
    )
    await message.reply_text(f"{recorded}\n\n{card}")
    if subject_id is not None:  # overrides are never secret from the person concerned
        moderator = esc(user.full_name)

        def notice() -> str:
            """In the person's own language."""
            return _(
                "A moderator, {moderator}, used an override to see your contact details "
                "({fields}) until {until}. The reason given: {reason}. /mydata lists who has "
                "seen your details.",
                moderator=moderator,
                fields=esc(comma_join(field_label(name) for name in shown_fields)),
                reason=esc(reason),
                until=until,
            )

        until = datetime_text(
            expires, services.settings.group_timezone(services.settings.groups[0])
        )
        await send_private(context, subject_id, notice)
