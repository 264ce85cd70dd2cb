"""/mydata: everything the directory holds about you, and who saw it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.common import send_private
from handlers.contacts.shared import (
    CB,
    CHANNEL_LABELS,
    CONSENT_LABELS,
    REQUEST_LABELS,
    SOURCE_LABELS,
    defaults,
)
from handlers.render import chunk_lines, esc, truncate
from handlers.webapp import with_open_row
from i18n import (
    _,
    comma_join,
    date_text,
    datetime_text,
)
from moderation.contacts import (
    FIELDS,
    GrantKind,
    field_label,
    level_label,
)
from runtime.context import BotContext, Services
from storage import erasure
from storage.contacts import (
    ContactRepository,
    confirmed_cluster_list,
    decode_levels,
    values_of,
)
from storage.models import ContactGrant
from storage.roster import RosterRepository


# ============================================================================= /mydata
class Share(NamedTuple):
    """A "Share with this person" that still counts: the person can take it back."""

    grant_id: int
    who: str
    fields: str  # the details shared, in the current language


async def mydata(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    lines, revocable = my_data(services, user.id)
    chunks = chunk_lines(lines)
    for number, chunk in enumerate(chunks, start=1):
        last = number == len(chunks)
        markup = with_open_row(services, revoke_keyboard(revocable), screen="profile")
        await message.reply_text(chunk, reply_markup=markup if last else None)


def my_data(services: Services, user_id: int) -> tuple[list[str], list[Share]]:
    """What /mydata says (HTML lines, in the current language) and the shares that can be taken
    back; the Mini App's profile screen shows the same."""
    zone = services.settings.group_timezone(services.settings.groups[0])
    lines: list[str] = [_("<b>What the directory holds about you</b>")]
    revocable: list[Share] = []
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        roster = RosterRepository(session)
        contact = repo.by_user(user_id)
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
                _(
                    "Confirmed clusters (they open cluster-level details): {clusters}",
                    clusters=esc(comma_join(confirmed_cluster_list(contact)) or "—"),
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
            grants = repo.grants_given(contact.id)
            lines += shares_lines(grants, roster, zone)
            lines += override_lines(grants, roster, zone, services.clock.now())
            revocable = [
                Share(
                    g.id,
                    _user_name(roster, g.requester_id),
                    comma_join(field_label(f) for f in g.fields.split(",") if f in FIELDS),
                )
                for g in grants
                if g.kind == GrantKind.CONSENT.value and g.revoked_at is None
            ]
            lines.append("\n" + _("<b>Requests to be put in touch with you</b>"))
            for request in repo.requests_about(contact.id):
                lines.append(
                    _(
                        "#{request} {date} from {name}: {status}",
                        request=request.id,
                        date=date_text(request.created_at, zone),
                        name=esc(_user_name(roster, request.requester_id)),
                        status=esc(_(REQUEST_LABELS.get(request.status, request.status))),
                    )
                )
        searches = repo.lookups_since(user_id, services.clock.now() - timedelta(days=36500))
        lines.append("\n" + _("Your searches kept for the rate limit: {n}.", n=searches))
        kept = erasure.kept_reasons(session, user_id)
    lines.append("\n" + _("<b>What /forgetme keeps, and why</b>"))
    lines += [f"• {_(reason)}" for reason in kept] or [_("Nothing: it would erase everything.")]
    return lines, revocable


def _user_name(roster: RosterRepository, user_id: int) -> str:
    """The person's name as the roster knows it (they asked or were asked through the bot, so
    the reader has seen it); "user 100001" only for someone the bot never saw."""
    known = roster.user(user_id)
    return known.display_name if known else _("user {id}", id=user_id)


def shares_lines(
    grants: Sequence[ContactGrant], roster: RosterRepository, zone: ZoneInfo
) -> list[str]:
    """Every "Share with this person": to whom, which details, and whether it still counts."""
    lines = ["\n" + _("<b>People you agreed to share with</b>")]
    for grant in grants:
        if grant.kind != GrantKind.CONSENT.value:
            continue
        fields = comma_join(field_label(f) for f in grant.fields.split(",") if f in FIELDS)
        state = (
            _("taken back {date}", date=date_text(grant.revoked_at, zone))
            if grant.revoked_at is not None
            else _("still shared")
        )
        lines.append(
            _(
                "{date} — {who} ({id}): {fields}; {state}",
                date=date_text(grant.at, zone),
                who=esc(_user_name(roster, grant.requester_id)),
                id=grant.requester_id,
                fields=esc(fields or _("nothing")),
                state=state,
            )
        )
    return lines


def override_lines(
    grants: Sequence[ContactGrant], roster: RosterRepository, zone: ZoneInfo, now: datetime
) -> list[str]:
    """Every moderator override on you: who, why, which details, until when."""
    lines = ["\n" + _("<b>Overrides used on you</b>")]
    for grant in grants:
        if grant.kind != GrantKind.OVERRIDE.value:
            continue
        fields = comma_join(field_label(f) for f in grant.fields.split(",") if f in FIELDS)
        ended = grant.revoked_at is not None or grant.expires_at is None or grant.expires_at <= now
        lines.append(
            _(
                "{date} — {who} ({id}): {fields}; reason: {reason}; {state}",
                date=datetime_text(grant.at, zone),
                who=esc(_user_name(roster, grant.granted_by)),
                id=grant.granted_by,
                fields=esc(fields),
                reason=esc(grant.reason or ""),
                state=_("ended")
                if ended or grant.expires_at is None
                else _("ends {time}", time=datetime_text(grant.expires_at, zone)),
            )
        )
    if len(lines) == 1:
        lines.append(_("None."))
    return lines


def revoke_keyboard(revocable: list[Share]) -> InlineKeyboardMarkup | None:
    if not revocable:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Take back what I shared with {who}", who=truncate(share.who, 30)),
                    callback_data=f"{CB}:rv:{share.grant_id}",
                )
            ]
            for share in revocable
        ]
    )


def take_back(services: Services, user_id: int, grant_id: int) -> bool:
    """Take back a "Share": only the person the entry belongs to, only their own grants (the
    chat's button and the Mini App's Revoke)."""
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        own = repo.by_user(user_id)
        return own is not None and repo.revoke_grant(grant_id, own.id, services.clock.now())


async def on_revoke(
    update: Update, context: BotContext, _action: str, grant_id: int, _rest: list[str]
) -> None:
    """Take back a "Share": only the person the entry belongs to, only their own grants."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    if not take_back(context.services, user.id, grant_id):
        await query.answer(
            _("This is not a sharing of yours, or it is already taken back."), show_alert=True
        )
        return
    await query.answer(_("Taken back"))
    await send_private(
        context,
        user.id,
        _("Taken back: that person no longer sees what you shared. /mydata shows the rest."),
    )
