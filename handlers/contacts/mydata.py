"""/mydata: everything the directory holds about you, and who saw it."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session
from telegram import Update

from handlers.common import send_private
from handlers.contacts.render import Entry, MyData, mydata_lines, revoke_keyboard
from handlers.contacts.shared import defaults
from handlers.render import chunk_lines
from handlers.webapp import with_open_row
from i18n import _, comma_join
from moderation.contacts import FIELDS, GrantKind, field_label
from runtime.context import BotContext, Services
from storage import erasure
from storage.contacts import ContactRepository, decode_levels
from storage.roster import RosterRepository


# ============================================================================= /mydata
async def mydata(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    with services.db.transaction() as session:
        data = read_mydata(session, services, user.id)
    chunks = chunk_lines(mydata_text(services, data))
    for number, chunk in enumerate(chunks, start=1):
        last = number == len(chunks)
        markup = with_open_row(services, revoke_keyboard(data), screen="profile")
        await message.reply_text(chunk, reply_markup=markup if last else None)


class Share(NamedTuple):
    """A "Share with this person" that still counts: the person can take it back."""

    grant_id: int
    who: str
    fields: str  # the details shared, in the current language


def mydata_text(services: Services, data: MyData) -> list[str]:
    zone = services.settings.group_timezone(services.settings.groups[0])
    return mydata_lines(data, zone, services.clock.now())


def my_data(services: Services, user_id: int) -> tuple[list[str], list[Share]]:
    """What /mydata says (HTML lines, in the current language) and the shares that can be taken
    back; the Mini App's profile screen shows the same."""
    with services.db.transaction() as session:
        data = read_mydata(session, services, user_id)
    shares = [
        Share(
            grant.id,
            data.name(grant.requester_id),
            comma_join(field_label(f) for f in grant.fields.split(",") if f in FIELDS),
        )
        for grant in (data.entry.grants if data.entry else ())
        if grant.kind == GrantKind.CONSENT.value and grant.revoked_at is None
    ]
    return mydata_text(services, data), shares


def read_mydata(session: Session, services: Services, user_id: int) -> MyData:
    """Everything /mydata shows, read in one unit of work."""
    repo = ContactRepository(session)
    roster = RosterRepository(session)
    contact = repo.by_user(user_id)
    entry = None
    people: set[int] = set()
    if contact is not None:
        entry = Entry(
            contact=contact,
            levels=decode_levels(contact.levels, defaults(services)),
            seen=repo.disclosures_of(contact.id),
            grants=repo.grants_given(contact.id),
            requests=repo.requests_about(contact.id),
        )
        people.update(row.viewer_id for row in entry.seen if row.viewer_id)
        people.update(g.requester_id for g in entry.grants)
        people.update(g.granted_by for g in entry.grants)
        people.update(r.requester_id for r in entry.requests)
    names = {i: u.display_name for i in sorted(people) if (u := roster.user(i)) is not None}
    searches = repo.lookups_since(user_id, services.clock.now() - timedelta(days=36500))
    return MyData(entry, searches, erasure.kept_reasons(session, user_id), names)


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
