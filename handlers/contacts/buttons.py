"""Buttons of the directory (never trusted) and "put me in touch" requests."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.common import (
    personal_language,
    role,
    send_private,
)
from handlers.contacts.forgetme import on_forget
from handlers.contacts.lookup import search_page
from handlers.contacts.optin import on_consent
from handlers.contacts.shared import CB, defaults, parse_id, render_card, requester_of
from handlers.contacts.transfer import on_import
from handlers.render import esc
from i18n import (
    _,
    comma_join,
    duration_text,
    use_locale,
)
from moderation.contacts import (
    FIELDS,
    GrantKind,
    disclosed,
    field_label,
)
from moderation.permissions import Role
from runtime.context import App, BotContext, services_of
from storage.contacts import (
    ContactRepository,
    subject_of,
    values_of,
)
from storage.models import Contact
from storage.roster import RosterRepository


# ============================================================== buttons (never trusted)
async def on_button(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    number = parse_id(parts[2]) if len(parts) > 2 else None
    handlers = {
        "pg": _on_page,
        "ask": _on_ask,
        "y": _on_answer,
        "n": _on_answer,
        "cy": on_consent,
        "cn": on_consent,
        "fg": on_forget,
        "fk": on_forget,
        "imp": on_import,
        "imx": on_import,
    }
    handler = handlers.get(action)
    if handler is None or number is None:
        await query.answer(_("This button is not valid."), show_alert=True)
        return
    await handler(update, context, action, number, parts[3:])


async def _on_page(
    update: Update, context: BotContext, _action: str, lookup_id: int, rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    page = parse_id(rest[0]) if rest else None
    user_role = role(services, user.id)
    with services.db.transaction() as session:
        lookup = ContactRepository(session).lookup(lookup_id)
        requester = requester_of(services, session, user.id, user_role)
        key = lookup.query if lookup is not None else ""
        mine = lookup is not None and lookup.user_id == user.id
    if not mine or page is None or not requester.is_member:
        await query.answer(_("This search is not yours."), show_alert=True)
        return
    text, markup = search_page(services, requester, lookup_id, key, page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def _on_ask(
    update: Update, context: BotContext, _action: str, contact_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    now = services.clock.now()
    user_role = role(services, user.id)
    timeout = services.settings.contacts.request_timeout
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        requester = requester_of(services, session, user.id, user_role)
        contact = repo.get(contact_id)
        roster = RosterRepository(session)
        reason = None
        if not requester.is_member or contact is None or contact.consent != "given":
            reason = _("This person cannot be contacted through the directory.")
        elif contact.user_id == user.id:
            reason = _("That is you.")
        elif repo.open_request(user.id, contact.id) is not None:
            reason = _("You already asked; I will tell you when there is an answer.")
        asked: Contact | None = None
        if reason is None and contact is not None:
            owner = roster.user(contact.user_id) if contact.user_id else None
            if owner is not None and owner.reachable:
                asked = contact
            else:
                asked = repo.focal_point_of(contact.organisation, excluding=contact.id)
            if asked is None:
                reason = _("I cannot reach this person now. A moderator may be able to help.")
        request_id = None
        if reason is None and contact is not None and asked is not None:
            request = repo.add_request(user.id, contact, asked, now, now + timeout)
            request_id = request.id
            asked_values = values_of(asked)
            on_behalf = asked.id != contact.id
            who = roster.user(user.id)
            own = repo.by_user(user.id)
            requester_name = (own.name if own else None) or (who.display_name if who else "")
            requester_org = own.organisation if own else ""
            asked_user = asked.user_id
            subject_name = contact.name
    if reason is not None or request_id is None:
        await query.answer(reason or _("Not possible."), show_alert=True)
        return
    assert asked_user is not None

    def ask_text() -> str:
        """In the asked person's language."""
        details = comma_join(field_label(f).lower() for f in FIELDS if asked_values.get(f))
        who = (
            _(
                "<b>{name}</b> ({organisation})",
                name=esc(requester_name),
                organisation=esc(requester_org),
            )
            if requester_org
            else _("<b>{name}</b>", name=esc(requester_name))
        )
        if on_behalf:
            first = _(
                "{requester} asks to be put in touch with {colleague} of your organisation; as "
                "its focal point, would you share your own details?",
                requester=who,
                colleague=esc(subject_name),
            )
        else:
            first = _("{requester} asks to be put in touch with you.", requester=who)
        second = _(
            "If you agree, I send them your {details}. Nothing is sent unless you tap "
            "“Share with this person”. Request #{request}.",
            details=details,
            request=request_id,
        )
        return f"{first}\n{second}"

    await send_private(
        context,
        asked_user,
        ask_text,
        reply_markup=lambda: InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Share with this person"), callback_data=f"{CB}:y:{request_id}"
                    )
                ],
                [InlineKeyboardButton(_("Decline"), callback_data=f"{CB}:n:{request_id}")],
            ]
        ),
    )
    await query.answer(_("Asked"))
    await send_private(
        context,
        user.id,
        _(
            "I asked them (request #{request}). You will hear from me when they share their "
            "details, or in {wait} at the latest.",
            request=request_id,
            wait=duration_text(timeout),
        ),
    )


async def _on_answer(
    update: Update, context: BotContext, action: str, request_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    now = services.clock.now()
    card = None
    requester_id = 0
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        request = repo.request(request_id)
        if request is None or request.asked_user_id != user.id:
            problem: str | None = _("This request is not addressed to you.")
        elif request.status != "pending" or request.expires_at <= now:
            problem = _("This request is closed.")
        else:
            problem = None
        if problem is None and request is not None:
            asked = repo.get(request.asked_contact_id)
            if action == "y" and asked is not None:
                request.status, request.answered_at = "shared", now
                request.requester_told = True
                requester_id = request.requester_id
                repo.add_grant(requester_id, asked.id, FIELDS, GrantKind.CONSENT, user.id, now)
                session.flush()
                requester = requester_of(services, session, requester_id, Role.MEMBER)
                shown = disclosed(
                    requester,
                    subject_of(asked, defaults(services)),
                    values_of(asked),
                    repo.grants(requester_id, [asked.id]),
                )
                repo.record_disclosure(
                    requester_id, asked.id, shown, "introduction", now, f"request #{request_id}"
                )
                with use_locale(personal_language(services, requester_id)):
                    card = render_card(shown, asked.id)
            else:
                request.status, request.answered_at = "declined", now
    if problem is not None:
        await query.answer(problem, show_alert=True)
        return
    await query.answer()
    if card is not None:
        await query.edit_message_text(
            _("Shared with them (request #{request}). Thank you.", request=request_id)
        )
        shared = card
        await send_private(
            context,
            requester_id,
            lambda: _(
                "Good news: your request #{request} was answered. Their details:\n\n{card}",
                request=request_id,
                card=shared,
            ),
        )
    else:
        await query.edit_message_text(
            _(
                "Declined (request #{request}). They are not told that you declined.",
                request=request_id,
            )
        )


def _expired_text(request_id: int) -> Callable[[], str]:
    def render() -> str:
        return _(
            "Your request #{request} to be put in touch did not get an answer in time, so "
            "no details were shared. A moderator may be able to help another way.",
            request=request_id,
        )

    return render


async def expire_requests(app: App) -> None:
    """Sweep: no yes by the deadline (or a decline) → the same neutral message."""
    services = services_of(app)
    now = services.clock.now()
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        # Claimed one by one with a conditional update: two replicas never tell twice.
        due = [(r.id, r.requester_id) for r in repo.due_requests(now) if repo.claim_expiry(r.id)]
    context = BotContext(app)
    for request_id, requester_id in due:
        await send_private(
            context,
            requester_id,
            _expired_text(request_id),
        )
