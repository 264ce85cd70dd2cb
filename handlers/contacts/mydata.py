"""/mydata: everything the directory holds about you, and who saw it."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update

from handlers.contacts.shared import (
    CHANNEL_LABELS,
    CONSENT_LABELS,
    GRANT_LABELS,
    REQUEST_LABELS,
    SOURCE_LABELS,
    defaults,
)
from handlers.render import chunk_lines, esc
from i18n import (
    _,
    comma_join,
    date_text,
    datetime_text,
)
from moderation.contacts import (
    FIELDS,
    field_label,
    level_label,
)
from runtime.context import BotContext
from storage.contacts import (
    ContactRepository,
    decode_levels,
    values_of,
)
from storage.roster import RosterRepository


# ============================================================================= /mydata
async def mydata(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    zone = services.settings.group_timezone(services.settings.groups[0])
    lines: list[str] = [_("<b>What the directory holds about you</b>")]
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        roster = RosterRepository(session)
        contact = repo.by_user(user.id)
        if contact is None:
            lines.append(_("No contact entry."))
        else:
            levels = decode_levels(contact.levels, defaults(services))
            for name, value in values_of(contact).items():
                lines.append(
                    _(
                        "{field}: {value} ({level})",
                        field=field_label(name),
                        value=esc(value or "—"),
                        level=level_label(levels[name].value),
                    )
                )
            lines.append(
                _("Cluster coordinator: yes")
                if contact.cluster_coordinator
                else _("Cluster coordinator: no")
            )
            lines.append(
                _(
                    "Listed (consent): {consent}; source: {source}",
                    consent=esc(_(CONSENT_LABELS.get(contact.consent, contact.consent))),
                    source=esc(_(SOURCE_LABELS.get(contact.source, contact.source))),
                )
            )
            lines.append("\n" + _("<b>Who has seen your details</b>"))
            seen = repo.disclosures_of(contact.id)
            for row in seen:
                viewer = roster.user(row.viewer_id) if row.viewer_id else None
                who = (
                    esc(viewer.display_name) if viewer else _("user {id}", id=row.viewer_id or "—")
                )
                fields = (
                    comma_join(
                        field_label(f) if f in FIELDS else esc(f) for f in row.fields.split(",")
                    )
                    if row.fields
                    else _("nothing")
                )
                lines.append(
                    _(
                        "{time} — {who} ({id}) saw {fields} by {channel}",
                        time=datetime_text(row.at, zone),
                        who=who,
                        id=row.viewer_id or "—",
                        fields=fields,
                        channel=esc(_(CHANNEL_LABELS.get(row.channel, row.channel))),
                    )
                    + (f" — {esc(row.detail)}" if row.channel == "override" and row.detail else "")
                )
            if not seen:
                lines.append(_("Nobody yet."))
            lines.append("\n" + _("<b>People you agreed to share with</b>"))
            for grant in repo.grants_given(contact.id):
                lines.append(
                    _(
                        "{date} — user {id} ({kind})",
                        date=date_text(grant.at, zone),
                        id=grant.requester_id,
                        kind=esc(_(GRANT_LABELS.get(grant.kind, grant.kind))),
                    )
                )
            lines.append("\n" + _("<b>Requests to be put in touch with you</b>"))
            for request in repo.requests_about(contact.id):
                lines.append(
                    _(
                        "#{request} {date} from user {id}: {status}",
                        request=request.id,
                        date=date_text(request.created_at, zone),
                        id=request.requester_id,
                        status=esc(_(REQUEST_LABELS.get(request.status, request.status))),
                    )
                )
        searches = repo.lookups_since(user.id, services.clock.now() - timedelta(days=36500))
        lines.append("\n" + _("Your searches kept for the rate limit: {n}.", n=searches))
    for chunk in chunk_lines(lines):
        await message.reply_text(chunk)
