""" "Put me in touch": the ask (button or /ask ID NOTE), the owner's choice of what to share,
and the neutral end of an unanswered request.

An ask is accepted only for someone the requester's own search could return, at most
``contacts.max_pending_asks`` at once. The person asked chooses the fields (default: name,
organisation, Telegram); only "Share" sends anything, and each share is a grant they can revoke
in /mydata.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.common import current_role, personal_language, send_private
from handlers.contacts.render import Ask, ask_text
from handlers.contacts.shared import (
    CB,
    defaults,
    live_grants,
    parse_id,
    render_card,
    requester_of,
)
from handlers.render import esc
from i18n import _, comma_join, duration_text, use_locale
from moderation.contacts import (
    FIELDS,
    GrantKind,
    InvalidValue,
    check_note,
    disclosed,
    field_label,
    findable,
)
from moderation.permissions import Role
from runtime.context import App, BotContext, Services, services_of
from storage.contacts import ContactRepository, subject_of, values_of
from storage.models import Contact
from storage.roster import RosterRepository

DEFAULT_SHARE: frozenset[str] = frozenset({"name", "organisation", "telegram"})


def encode_choice(fields: frozenset[str]) -> int:
    """The chosen fields as a bit mask (button data is short)."""
    return sum(1 << i for i, name in enumerate(FIELDS) if name in fields)


def decode_choice(mask: int) -> frozenset[str]:
    return frozenset(name for i, name in enumerate(FIELDS) if mask >> i & 1)


# ====================================================================== asking
async def on_ask(
    update: Update, context: BotContext, _action: str, contact_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    problem = await ask(context, user.id, contact_id, "")
    if problem is not None:
        await query.answer(problem, show_alert=True)
        return
    await query.answer(_("Asked"))


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask ID NOTE: the same ask as the button, with a short note for the person."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    args = context.args or []
    contact_id = parse_id(args[0]) if args else None
    if contact_id is None:
        await message.reply_text(
            _(
                "Usage: /ask ID NOTE — the #number from /contact and, if you like, a short "
                "note for them (at most 300 characters)."
            )
        )
        return
    try:
        note = check_note(" ".join(args[1:]))
    except InvalidValue as exc:
        await message.reply_text(_("Sorry: {problem}. Nothing was sent.", problem=esc(exc)))
        return
    problem = await ask(context, user.id, contact_id, note)
    if problem is not None:
        await message.reply_text(problem)


async def ask(context: BotContext, user_id: int, contact_id: int, note: str) -> str | None:
    """Send the ask; the reason it is refused (in the requester's language) or None."""
    services = context.services
    now = services.clock.now()
    timeout = services.settings.contacts.request_timeout
    requester_role = await current_role(context, user_id)
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        requester = requester_of(services, session, user_id, requester_role)
        contact = repo.get(contact_id)
        roster = RosterRepository(session)
        reason = None
        # Only someone this requester's own search could return: no enumeration by number.
        if (
            not requester.is_member
            or contact is None
            or not findable(
                requester,
                subject_of(contact, defaults(services)),
                values_of(contact),
                live_grants(services, session, requester, [contact.id]),
            )
        ):
            reason = _("This person cannot be contacted through the directory.")
        elif contact.user_id == user_id:
            reason = _("That is you.")
        elif repo.open_request(user_id, contact.id) is not None:
            reason = _("You already asked; I will tell you when there is an answer.")
        elif repo.pending_asks(user_id) >= services.settings.contacts.max_pending_asks:
            reason = _(
                "You have {n} requests waiting for an answer; please wait for one of them first.",
                n=services.settings.contacts.max_pending_asks,
            )
        asked: Contact | None = None
        if reason is None and contact is not None:
            owner = roster.user(contact.user_id) if contact.user_id else None
            if owner is not None and owner.reachable:
                asked = contact
            else:
                asked = repo.focal_point_of(contact.organisation, excluding=contact.id)
            if asked is None:
                reason = _("I cannot reach this person now. A moderator may be able to help.")
        if reason is not None or contact is None or asked is None:
            return reason or _("Not possible.")
        request = repo.add_request(user_id, contact, asked, now, now + timeout, note)
        request_id = request.id
        asked_values = values_of(asked)
        on_behalf = asked.id != contact.id
        who = roster.user(user_id)
        own = repo.by_user(user_id)
        requester_name = (own.name if own else None) or (who.display_name if who else "")
        requester_org = own.organisation if own else ""
        asked_user = asked.user_id
        subject_name = contact.name
    assert asked_user is not None
    offered = frozenset(f for f in FIELDS if asked_values.get(f))
    choice = DEFAULT_SHARE & offered
    asking = Ask(
        request_id=request_id,
        requester_name=requester_name,
        requester_organisation=requester_org,
        colleague=subject_name if on_behalf else None,
        note=note,
    )
    await send_private(
        context,
        asked_user,
        lambda: ask_text(asking),  # in the asked person's language
        reply_markup=lambda: answer_keyboard(request_id, user_id, offered, choice),
    )
    await send_private(
        context,
        user_id,
        _(
            "I asked them (request #{request}). You will hear from me when they share their "
            "details, or in {wait} at the latest.",
            request=request_id,
            wait=duration_text(timeout),
        ),
    )
    return None


def answer_keyboard(
    request_id: int, requester_id: int, offered: frozenset[str], choice: frozenset[str]
) -> InlineKeyboardMarkup:
    """The asked person's choice; every button names the request *and its requester*, so a
    button left from a request that was erased (/forgetme) can never act on a later request
    that the database numbered the same (SQLite hands out a deleted last number again)."""
    mask = encode_choice(choice)
    ask = f"{request_id}:{requester_id}"
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if name in choice else "✗ ") + field_label(name),
                callback_data=f"{CB}:t:{ask}:{mask}:{FIELDS.index(name)}",
            )
        ]
        for name in FIELDS
        if name in offered
    ]
    rows.append(
        [InlineKeyboardButton(_("Share with this person"), callback_data=f"{CB}:y:{ask}:{mask}")]
    )
    rows.append([InlineKeyboardButton(_("Decline"), callback_data=f"{CB}:n:{ask}")])
    return InlineKeyboardMarkup(rows)


# ====================================================================== answering
async def on_toggle(
    update: Update, context: BotContext, _action: str, request_id: int, rest: list[str]
) -> None:
    """The asked person ticks a detail on or off (the choice lives in the buttons)."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    requester_id = parse_id(rest[0]) if rest else None
    mask = parse_id(rest[1]) if len(rest) > 1 else None
    index = parse_id(rest[2]) if len(rest) > 2 else None
    with context.services.db.transaction() as session:
        repo = ContactRepository(session)
        request = repo.request(request_id)
        asked = repo.get(request.asked_contact_id) if request is not None else None
        mine = request is not None and request.asked_user_id == user.id
        open_ = (
            request is not None
            and request.requester_id == requester_id
            and request.status == "pending"
            and asked is not None
        )
        offered = frozenset(f for f, v in values_of(asked).items() if v) if asked else frozenset()
    if request is None:  # answered and then erased (/forgetme); its number never returns
        await query.answer(_("This request is closed."), show_alert=True)
        return
    if not mine or mask is None or index is None or index >= len(FIELDS):
        await query.answer(_("This request is not addressed to you."), show_alert=True)
        return
    if not open_:
        await query.answer(_("This request is closed."), show_alert=True)
        return
    choice = decode_choice(mask) & offered
    name = FIELDS[index]
    choice = choice - {name} if name in choice else (choice | {name}) & offered
    await query.answer()
    assert requester_id is not None
    await query.edit_message_reply_markup(
        answer_keyboard(request_id, requester_id, offered, choice)
    )


async def on_answer(
    update: Update, context: BotContext, action: str, request_id: int, rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    now = services.clock.now()
    card = None
    requester_id = 0
    named_requester = parse_id(rest[0]) if rest else None
    mask = parse_id(rest[1]) if len(rest) > 1 else None
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        request = repo.request(request_id)
        if request is None:  # erased (/forgetme); its number is never handed out again
            problem: str | None = _("This request is closed.")
        elif request.asked_user_id != user.id:
            problem = _("This request is not addressed to you.")
        elif (
            request.requester_id != named_requester  # an erased request's number, reused
            or request.status != "pending"
            or request.expires_at <= now
        ):
            problem = _("This request is closed.")
        elif action == "y" and mask is None:
            problem = _("This button is not valid.")
        else:
            problem = None
        if problem is None and request is not None:
            asked = repo.get(request.asked_contact_id)
            if action == "y" and asked is not None and mask is not None:
                offered = frozenset(f for f, v in values_of(asked).items() if v)
                chosen = decode_choice(mask) & offered
                request.status, request.answered_at = "shared", now
                request.requester_told = True
                requester_id = request.requester_id
                repo.add_grant(requester_id, asked.id, chosen, GrantKind.CONSENT, user.id, now)
                session.flush()
                requester = requester_of(services, session, requester_id, Role.MEMBER)
                shown = disclosed(
                    requester,
                    subject_of(asked, defaults(services)),
                    values_of(asked),
                    live_grants(services, session, requester, [asked.id]),
                )
                repo.record_disclosure(
                    requester_id, asked.id, shown, "introduction", now, f"request #{request_id}"
                )
                with use_locale(personal_language(services, requester_id)):
                    card = render_card(shown, asked.id)
                sent = comma_join(field_label(f).lower() for f in FIELDS if f in chosen)
            else:
                request.status, request.answered_at = "declined", now
    if problem is not None:
        await query.answer(problem, show_alert=True)
        return
    await query.answer()
    if card is not None:
        await query.edit_message_text(
            _(
                "Shared with them (request #{request}): {fields}. Thank you. /mydata lets you "
                "take it back.",
                request=request_id,
                fields=esc(sent or _("nothing")),
            )
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


def next_expiry(services: Services, now: datetime) -> datetime | None:
    """When the next unanswered request runs out (for stepping virtual time)."""
    with services.db.transaction() as session:
        return ContactRepository(session).next_expiry(now)


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
        await send_private(context, requester_id, _expired_text(request_id))
