"""The contact directory: /profile, /contact, "put me in touch", /mydata, /forgetme, /override.

Every value shown goes through ``moderation.contacts.disclosed`` (the one policy) and every
disclosure is recorded. Button data is never trusted: the presser must be the one entitled.
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram import User as TgUser
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from handlers.common import (
    group_label,
    is_configured_group,
    may_moderate,
    moderators_only,
    personal_language,
    reply,
    role_here,
    send_private,
)
from handlers.render import chunk_lines, esc, truncate
from handlers.roster import observed
from handlers.start import add_deep_link
from i18n import (
    N_,
    _,
    comma_join,
    date_text,
    datetime_text,
    duration_text,
    ngettext,
    use_locale,
)
from moderation.contacts import (
    FIELDS,
    SEARCHABLE,
    GrantKind,
    InvalidValue,
    Level,
    Requester,
    check_query,
    clean_text,
    disclosed,
    field_label,
    level_label,
    normalise_email,
    normalise_handle,
    normalise_phone,
    parse_contacts_csv,
    search_key,
    split_clusters,
)
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import App, BotContext, Services, Sweep, services_of
from storage import contact_index
from storage.contacts import (
    ContactRepository,
    ContactValues,
    cluster_list,
    decode_levels,
    import_contacts,
    subject_of,
    values_of,
)
from storage.models import Contact
from storage.roster import RosterRepository

log = logging.getLogger(__name__)

COMMANDS = [
    CommandSpec("profile", "Your entry in the contact directory", where=Where.PRIVATE),
    CommandSpec(
        "contact", "Find a colleague", where=Where.PRIVATE, usage=N_("NAME/ORGANISATION/PLACE")
    ),
    CommandSpec("mydata", "Everything held about you and who saw it", where=Where.PRIVATE),
    CommandSpec("forgetme", "Erase your contact data", where=Where.PRIVATE),
    CommandSpec(
        "override",
        "Reveal a contact's details (needs a reason)",
        role=Role.MODERATOR,
        where=Where.PRIVATE,
        usage=N_("ID REASON"),
    ),
    CommandSpec(
        "export",
        "Export listed contacts (fields you may see)",
        role=Role.MODERATOR,
        where=Where.PRIVATE,
        usage=N_("PURPOSE"),
    ),
]

# Stored values shown in /mydata (English msgids, translated where shown).
CONSENT_LABELS = {"given": N_("yes"), "declined": N_("no"), "pending": N_("not asked yet")}
SOURCE_LABELS = {
    "profile": N_("your /profile"),
    "import": N_("imported by a moderator"),
    "introduction": N_("your introduction"),
}
CHANNEL_LABELS = {
    "lookup": N_("search"),
    "introduction": N_("put in touch"),
    "export": N_("export"),
    "override": N_("moderator override"),
}
GRANT_LABELS = {"consent": N_("you said yes"), "override": N_("moderator override")}
REQUEST_LABELS = {
    "pending": N_("waiting for your answer"),
    "shared": N_("shared"),
    "declined": N_("declined"),
    "expired": N_("expired"),
}

MIN_SCORE = 75
MIN_REASON = 15
CB = "ct"  # every button of this feature starts with "ct:"


def defaults(services: Services) -> dict[str, Level]:
    levels = services.settings.contacts.levels
    return {f: Level(getattr(levels, f)) for f in FIELDS}


def requester_of(services: Services, session: Session, user_id: int, user_role: Role) -> Requester:
    """Who is asking: moderator or not, group member or not, clusters from their own record."""
    roster = RosterRepository(session)
    member = any(
        (m := roster.membership(g.chat_id, user_id)) is not None and m.present
        for g in services.settings.groups
    )
    own = ContactRepository(session).by_user(user_id)
    return Requester(
        user_id=user_id,
        is_member=member or user_role is Role.MODERATOR,
        is_moderator=user_role is Role.MODERATOR,
        is_cluster_coordinator=bool(own and own.cluster_coordinator),
        clusters=frozenset(cluster_list(own)) if own else frozenset(),
    )


def render_card(shown: dict[str, str], contact_id: int) -> str:
    """One contact as HTML, from the already-filtered values only."""
    title = esc(shown["name"]) if "name" in shown else _("<i>name not shared</i>")
    lines = [f"<b>{title}</b> · #{int(contact_id)}"]
    for name in FIELDS:
        if name != "name" and name in shown:
            value = _("yes") if name == "focal_point" else esc(shown[name])
            lines.append(_("{field}: {value}", field=field_label(name), value=value))
    return "\n".join(lines)


def _private_link(context: BotContext, prefix: str, chat_id: int) -> InlineKeyboardMarkup:
    url = f"https://t.me/{context.bot.username}?start={prefix}_go"
    label = group_label(
        context.services,
        chat_id,
        lambda: _("Write to me privately"),
    )
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=url)]])


async def _in_group(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    if update.effective_message is not None and chat is not None:
        await reply(
            update,
            context,
            lambda: _("I answer this privately, so nobody else sees the results. Tap below."),
            reply_markup=_private_link(context, "contact", chat.id),
        )


async def _deep_link(update: Update, context: BotContext, _argument: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(
            _(
                "Send <code>/contact</code> followed by a name, organisation, role, cluster or "
                "place (at least 3 letters), e.g. <code>/contact wash kharkiv</code>. /profile "
                "edits your own entry."
            )
        )


# ============================================================================== /profile
STEPS: list[tuple[str, str]] = [
    ("name", N_("Your full name, as colleagues know you")),
    ("organisation", N_("Your organisation")),
    ("role", N_("Your role in the response (e.g. IMO, cluster coordinator)")),
    ("clusters", N_("Your cluster(s), separated by commas")),
    ("location", N_("Where you work (admin area or city)")),
    ("phone", N_("Your phone number, with the country code (e.g. +380 44 123 4567)")),
    ("email", N_("Your work e-mail")),
    ("telegram", N_("Your Telegram username (e.g. @olena_k)")),
    ("focal_point", N_("Are you your organisation's focal point? (yes/no)")),
]
# "yes" and "no" in every language the bot speaks, for the focal point question.
YES = {"yes", "y", "так", "т", "oui", "o", "نعم"}
NO = {"no", "n", "ні", "н", "non", "لا"}
TYPING, LEVELS = range(2)
DRAFT = "contact_profile"
ORDER = list(Level)


def _parse(field: str, text: str, region: str | None) -> str:
    if field == "phone":
        return normalise_phone(text, region)
    if field == "email":
        return normalise_email(text)
    if field == "telegram":
        return normalise_handle(text)
    if field == "clusters":
        return ", ".join(split_clusters(text))
    if field == "focal_point":
        answer = text.strip().lower()
        if answer not in YES | NO | {_("yes"), _("no")}:
            raise InvalidValue(_("please answer yes or no"))
        return "yes" if answer in YES or answer == _("yes") else ""
    value = clean_text(text, 200)
    if field == "name" and len(value) < 2:
        raise InvalidValue(_("a name needs at least 2 characters"))
    return value


def _draft(context: BotContext) -> dict[str, Any]:
    data: dict[str, Any] = context.user_data.setdefault(DRAFT, {})  # type: ignore[union-attr]
    return data


async def _ask_step(update: Update, context: BotContext) -> int:
    draft = _draft(context)
    step = draft["step"]
    field, question = STEPS[step]
    current = draft["values"].get(field, "")
    lines = [
        _("({step}/{steps}) {question}.", step=step + 1, steps=len(STEPS), question=_(question))
    ]
    if field != "name":
        lines.append(_("Send - to leave it empty."))
    if current:
        lines.append(_("Now: <i>{value}</i> — send /skip to keep it.", value=esc(current)))
    lines.append(_("/cancel stops without saving."))
    message = update.effective_message
    assert message is not None
    await message.reply_text("\n".join(lines))
    return TYPING


async def profile_start(update: Update, context: BotContext) -> int:
    user = update.effective_user
    assert user is not None
    services = context.services
    with services.db.transaction() as session:
        own = ContactRepository(session).by_user(user.id)
        values = values_of(own) if own else {"name": user.full_name}
        levels = decode_levels(own.levels, defaults(services)) if own else defaults(services)
    context.user_data[DRAFT] = {  # type: ignore[index]
        "step": 0,
        "values": values,
        "levels": {k: v.value for k, v in levels.items()},
    }
    return await _ask_step(update, context)


async def profile_text(update: Update, context: BotContext) -> int:
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    if "step" not in draft:
        return ConversationHandler.END
    field = STEPS[draft["step"]][0]
    text = message.text
    if text.strip() == "/skip":
        pass
    elif text.strip() == "-" and field != "name":
        draft["values"][field] = ""
    else:
        try:
            draft["values"][field] = _parse(
                field, text, context.services.settings.contacts.default_phone_region
            )
        except InvalidValue as exc:
            await message.reply_text(
                _("Sorry: {problem}. Try again, or /cancel.", problem=esc(exc))
            )
            return TYPING
    draft["step"] += 1
    if draft["step"] < len(STEPS):
        return await _ask_step(update, context)
    await message.reply_text(_levels_text(draft), reply_markup=_levels_keyboard(draft))
    return LEVELS


def _levels_text(draft: dict[str, Any]) -> str:
    return _(
        "<b>Who may see each detail?</b> Tap a detail to change its level.\n"
        "{public} = every group member · {cluster} = your cluster(s) and moderators · "
        "{coordinators} = moderators and your cluster's coordinators · {private} = only "
        "people you say yes to.\nSaving lists you in the directory; /forgetme removes you at "
        "any time.",
        public=level_label("public"),
        cluster=level_label("cluster"),
        coordinators=level_label("coordinators"),
        private=level_label("private"),
    )


def _levels_keyboard(draft: dict[str, Any]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                _("{field}: {level}", field=field_label(f), level=level_label(draft["levels"][f])),
                callback_data=f"pl:{f}",
            )
        ]
        for f in FIELDS
    ]
    rows.append(
        [
            InlineKeyboardButton(_("Save"), callback_data="pl:save"),
            InlineKeyboardButton(_("Cancel"), callback_data="pl:cancel"),
        ]
    )
    return InlineKeyboardMarkup(rows)


async def profile_level(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _draft(context)
    choice = query.data.removeprefix("pl:")
    if "levels" not in draft:
        await query.answer(_("This form has expired; send /profile again."))
        return ConversationHandler.END
    if choice == "cancel":
        return await _cancelled(update, context)
    if choice == "save":
        return await _save_profile(update, context)
    if choice not in FIELDS:
        await query.answer(_("Unknown choice."))
        return LEVELS
    current = Level(draft["levels"][choice])
    draft["levels"][choice] = ORDER[(ORDER.index(current) + 1) % len(ORDER)].value
    await query.answer()
    await query.edit_message_text(_levels_text(draft), reply_markup=_levels_keyboard(draft))
    return LEVELS


async def _save_profile(update: Update, context: BotContext) -> int:
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None
    draft = context.user_data.pop(DRAFT, {})  # type: ignore[union-attr]
    values: dict[str, str] = draft["values"]
    services = context.services
    now = services.clock.now()
    with services.db.transaction() as session:
        ContactRepository(session).save_profile(
            user.id,
            ContactValues(
                name=values.get("name", "") or user.full_name,
                organisation=values.get("organisation", ""),
                role=values.get("role", ""),
                clusters=tuple(split_clusters(values.get("clusters", ""))),
                location=values.get("location", ""),
                phone=values.get("phone", ""),
                email=values.get("email", ""),
                telegram=values.get("telegram", ""),
                focal_point=values.get("focal_point") == "yes",
            ),
            {k: Level(v) for k, v in draft["levels"].items()},
            now,
        )
    await query.answer(_("Saved"))
    await query.edit_message_text(
        _(
            "Saved. You are in the contact directory; colleagues see only what your levels "
            "allow, and must ask you for the rest. /mydata shows who has seen your details."
        )
    )
    return ConversationHandler.END


async def _cancelled(update: Update, context: BotContext) -> int:
    context.user_data.pop(DRAFT, None)  # type: ignore[union-attr]
    text = _("Cancelled; nothing was changed.")
    if update.callback_query is not None:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return ConversationHandler.END


async def profile_cancel(update: Update, context: BotContext) -> int:
    return await _cancelled(update, context)


# ============================================================================== /contact
def _score(key: str, shown: dict[str, str]) -> float:
    best = 0.0
    for name in SEARCHABLE:
        if name in shown:
            value = search_key(shown[name])
            best = max(best, fuzz.partial_ratio(key, value), fuzz.token_set_ratio(key, value))
    return best


def search(
    services: Services, session: Session, requester: Requester, key: str
) -> list[tuple[Contact, dict[str, str]]]:
    """Matches ranked by score, judged only on fields the requester may see."""
    repo = ContactRepository(session)
    candidates = repo.search_candidates(key)
    grants = repo.grants(requester.user_id, [c.id for c in candidates])
    levels = defaults(services)
    found: list[tuple[float, Contact, dict[str, str]]] = []
    for contact in candidates:
        shown = disclosed(requester, subject_of(contact, levels), values_of(contact), grants)
        score = _score(key, shown)
        if score >= MIN_SCORE:
            found.append((score, contact, shown))
    found.sort(key=lambda t: (-t[0], t[1].name.casefold(), t[1].id))
    return [(c, s) for _, c, s in found]


async def contact_command(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    raw = " ".join(context.args or [])
    try:
        key = check_query(raw)
    except InvalidValue as exc:
        await message.reply_text(
            _(
                "{problem}. Example: <code>/contact protection odesa</code>",
                problem=esc(str(exc)[:1].upper() + str(exc)[1:]),
            )
        )
        return
    user_role = await role_here(update, context)
    now = services.clock.now()
    rate = services.settings.contacts.lookup_rate
    with services.db.transaction() as session:
        requester = requester_of(services, session, user.id, user_role)
        if not requester.is_member:
            text = _("The directory is for members of the group.")
            lookup_id = None
        elif ContactRepository(session).lookups_since(user.id, now - rate.per) >= rate.count:
            text = ngettext(
                "You have reached the limit of {n} search; please try again later "
                "(the limit protects colleagues' details from harvesting).",
                "You have reached the limit of {n} searches; please try again later "
                "(the limit protects colleagues' details from harvesting).",
                rate.count,
            )
            lookup_id = None
        else:
            lookup_id = ContactRepository(session).add_lookup(user.id, key, now).id
    if lookup_id is None:
        await message.reply_text(text)
        return
    text, markup = _page(services, requester, lookup_id, key, 0)
    await message.reply_text(text, reply_markup=markup)


def _page(
    services: Services, requester: Requester, lookup_id: int, key: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    size = services.settings.contacts.page_size
    now = services.clock.now()
    with services.db.transaction() as session:
        results = search(services, session, requester, key)
        pages = max(1, -(-len(results) // size))
        page = min(max(page, 0), pages - 1)
        chunk = results[page * size : (page + 1) * size]
        repo = ContactRepository(session)
        for contact, shown in chunk:
            repo.record_disclosure(requester.user_id, contact.id, shown, "lookup", now)
        hidden = [
            (c, s)
            for c, s in chunk
            if c.user_id != requester.user_id
            and any(v and f not in s for f, v in values_of(c).items())
        ]
    if not results:
        return (
            _(
                "Nobody found for “{query}”. Try another spelling, an organisation or a place.",
                query=esc(key),
            ),
            None,
        )
    cards = "\n\n".join(render_card(s, c.id) for c, s in chunk)
    heading = ngettext(
        "<b>{n} found</b> for “{query}” (page {page}/{pages})",
        "<b>{n} found</b> for “{query}” (page {page}/{pages})",
        len(results),
        query=esc(key),
        page=page + 1,
        pages=pages,
    )
    text = f"{heading}\n\n{cards}"
    rows = [
        [
            InlineKeyboardButton(
                _(
                    "Ask to be put in touch: #{id} {name}",
                    id=c.id,
                    name=truncate(s.get("name", ""), 24),
                ).strip(),
                callback_data=f"{CB}:ask:{c.id}",
            )
        ]
        for c, s in hidden
    ]
    nav = []
    if page > 0:
        nav.append(
            InlineKeyboardButton(_("◂ Previous"), callback_data=f"{CB}:pg:{lookup_id}:{page - 1}")
        )
    if page < pages - 1:
        nav.append(
            InlineKeyboardButton(_("Next ▸"), callback_data=f"{CB}:pg:{lookup_id}:{page + 1}")
        )
    if nav:
        rows.append(nav)
    return text, InlineKeyboardMarkup(rows) if rows else None


# ============================================================== buttons (never trusted)
def _int(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None


async def on_button(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    if query is None or user is None or query.data is None:
        return
    parts = query.data.split(":")
    action = parts[1] if len(parts) > 1 else ""
    number = _int(parts[2]) if len(parts) > 2 else None
    handlers = {
        "pg": _on_page,
        "ask": _on_ask,
        "y": _on_answer,
        "n": _on_answer,
        "cy": _on_consent,
        "cn": _on_consent,
        "fg": _on_forget,
        "fk": _on_forget,
        "imp": _on_import,
        "imx": _on_import,
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
    page = _int(rest[0]) if rest else None
    user_role = await role_here(update, context)
    with services.db.transaction() as session:
        lookup = ContactRepository(session).lookup(lookup_id)
        requester = requester_of(services, session, user.id, user_role)
        key = lookup.query if lookup is not None else ""
        mine = lookup is not None and lookup.user_id == user.id
    if not mine or page is None or not requester.is_member:
        await query.answer(_("This search is not yours."), show_alert=True)
        return
    text, markup = _page(services, requester, lookup_id, key, page)
    await query.answer()
    await query.edit_message_text(text, reply_markup=markup)


async def _on_ask(
    update: Update, context: BotContext, _action: str, contact_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    now = services.clock.now()
    user_role = await role_here(update, context)
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
    """Ask once whether a pending directory entry may be listed; only a delivered ask counts."""
    services = context.services
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.by_user(user.id)
        if contact is None and user.username:
            found = repo.by_handle("@" + user.username)
            contact = found if found is not None and found.user_id is None else None
        if contact is None or contact.consent != "pending" or contact.consent_asked_at:
            return
        contact.consent_asked_at = services.clock.now()
        contact_id, name, org = contact.id, contact.name, contact.organisation

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
    delivered = await send_private(context, user.id, text, reply_markup=markup)
    if not delivered:  # they have not started the bot yet: ask again when they do
        with services.db.transaction() as session:
            pending = ContactRepository(session).get(contact_id)
            if pending is not None:
                pending.consent_asked_at = None


async def _on_consent(
    update: Update, context: BotContext, action: str, contact_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    now = context.services.clock.now()
    with context.services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        entitled = contact is not None and (
            contact.user_id == user.id
            or (
                contact.user_id is None
                and user.username is not None
                and contact.telegram.lower() == "@" + user.username.lower()
                and repo.by_user(user.id) is None
            )
        )
        if entitled and contact is not None:
            contact.user_id = user.id
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


# =========================================================================== /forgetme
async def forgetme(update: Update, context: BotContext) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Erase my contact data"), callback_data=f"{CB}:fg:{user.id}")],
            [InlineKeyboardButton(_("Keep it"), callback_data=f"{CB}:fk:{user.id}")],
        ]
    )
    await message.reply_text(
        _(
            "This erases your directory entry, your sharing choices, requests and searches. "
            "The audit keeps only an anonymised line. Are you sure?"
        ),
        reply_markup=markup,
    )


async def _on_forget(
    update: Update, context: BotContext, action: str, user_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    if user_id != user.id:
        await query.answer(_("This button is not yours."), show_alert=True)
        return
    await query.answer()
    if action == "fk":
        await query.edit_message_text(_("Kept; nothing was erased."))
        return
    with context.services.db.transaction() as session:
        ContactRepository(session).forget(user.id, context.services.clock.now())
    await query.edit_message_text(_("Erased. Your contact data and consents are gone."))


# =========================================================================== /override
@moderators_only
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
    contact_id = _int(args[0]) if args else None
    reason = clean_text(" ".join(args[1:]), 10_000)[:500]
    if contact_id is None or len(reason) < MIN_REASON:
        await message.reply_text(
            ngettext(
                "Usage: /override ID REASON — the contact's #number and why (at least {n} "
                "character). The reason is recorded and shown to the person.",
                "Usage: /override ID REASON — the contact's #number and why (at least {n} "
                "characters). The reason is recorded and shown to the person.",
                MIN_REASON,
            )
        )
        return
    now = services.clock.now()
    subject_id: int | None = None
    shown_fields: list[str] = []
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.get(contact_id)
        if contact is None or contact.consent != "given":
            card = None
        else:
            repo.add_grant(user.id, contact.id, FIELDS, GrantKind.OVERRIDE, user.id, now, reason)
            session.flush()
            requester = replace(
                requester_of(services, session, user.id, Role.MODERATOR), is_member=True
            )
            shown = disclosed(
                requester,
                subject_of(contact, defaults(services)),
                values_of(contact),
                repo.grants(user.id, [contact.id]),
            )
            repo.record_disclosure(user.id, contact.id, shown, "override", now, reason)
            card = render_card(shown, contact.id)
            subject_id = contact.user_id
            shown_fields = list(shown)
    if card is None:
        await message.reply_text(_("No listed contact has that number."))
        return
    recorded = _("Override recorded (reason: {reason}).", reason=esc(reason))
    await message.reply_text(f"{recorded}\n\n{card}")
    if subject_id is not None:  # overrides are never secret from the person concerned
        moderator = esc(user.full_name)

        def notice() -> str:
            """In the person's own language."""
            return _(
                "A moderator, {moderator}, used an override to see your contact details "
                "({fields}). The reason given: {reason}. /mydata lists who has seen your details.",
                moderator=moderator,
                fields=esc(comma_join(field_label(name) for name in shown_fields)),
                reason=esc(reason),
            )

        await send_private(context, subject_id, notice)


# ============================================================ CSV import and export
@moderators_only
async def on_document(update: Update, context: BotContext) -> None:
    """A moderator sends a CSV: validate all of it, report the dry run, then ask to import."""
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
    data = bytes(await file.download_as_bytearray())
    parsed = parse_contacts_csv(data, policy.import_max_bytes, policy.default_phone_region)
    if parsed.errors:
        lines = [_("<b>{file}</b>: nothing was imported. Please fix:", file=esc(name))]
        lines += [esc(e) for e in parsed.errors]
        await message.reply_text(chunk_lines(lines)[0])
        return
    now = services.clock.now()
    with services.db.transaction() as session:
        report = import_contacts(session, parsed.rows, now, apply=False)
        pending = ContactRepository(session).add_import(
            user.id, name, data.decode("utf-8-sig"), now
        )
        import_id = pending.id
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


async def _on_import(
    update: Update, context: BotContext, action: str, import_id: int, _rest: list[str]
) -> None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    services = context.services
    if not await may_moderate(update, context):
        await query.answer(_("Only moderators can import."), show_alert=True)
        return
    policy = services.settings.contacts
    with services.db.transaction() as session:
        pending = ContactRepository(session).import_(import_id)
        if pending is None or pending.moderator_id != user.id or pending.status != "pending":
            problem: str | None = _("This import is not yours or is already done.")
        else:
            problem = None
            if action == "imx":
                pending.status, text = "cancelled", _("Cancelled; nothing was imported.")
            else:
                parsed = parse_contacts_csv(
                    pending.content.encode(), policy.import_max_bytes, policy.default_phone_region
                )
                report = import_contacts(
                    session, parsed.rows, services.clock.now(), apply=not parsed.errors
                )
                pending.status = "applied"
                pending.content = ""  # no need to keep the file once imported
                text = _("Imported: {summary}.", summary=report.summary())
    if problem is not None:
        await query.answer(problem, show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(text)


@moderators_only
async def export(update: Update, context: BotContext) -> None:
    """A CSV of what a moderator may see of listed people, with purpose and timestamp."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    purpose = clean_text(" ".join(context.args or []), 10_000)[:300]
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
    out.write(f"# purpose: {purpose}\n")
    out.write(f"# exported: {now:%Y-%m-%d %H:%M} UTC by user {user.id}\n")
    out.write("# only fields the exporter may see under each person's sharing levels\n")
    writer = csv.writer(out)
    writer.writerow(["id", *FIELDS])
    count = 0
    with services.db.transaction() as session:
        repo = ContactRepository(session)
        requester = requester_of(services, session, user.id, Role.MODERATOR)
        contacts = repo.consented()
        grants = repo.grants(user.id, [c.id for c in contacts])
        levels = defaults(services)
        for contact in contacts:
            shown = disclosed(requester, subject_of(contact, levels), values_of(contact), grants)
            if not shown:
                continue
            writer.writerow([contact.id, *(_csv_safe(shown.get(f, "")) for f in FIELDS)])
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


def _csv_safe(value: str) -> str:
    # Spreadsheet formula injection: a cell starting with = + - @ is read as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not value[1:2].isdigit() else value


async def _override_entry(update: Update, context: BotContext) -> None:
    await override(update, context)


async def _export_entry(update: Update, context: BotContext) -> None:
    await export(update, context)


async def _document_entry(update: Update, context: BotContext) -> None:
    await on_document(update, context)


def register(app: App) -> None:
    private = filters.ChatType.PRIVATE
    with warnings.catch_warnings():
        # per_message=False is right here: one form per private chat, buttons included.
        warnings.simplefilter("ignore")
        conversation = ConversationHandler(
            entry_points=[CommandHandler("profile", profile_start, filters=private)],
            states={
                TYPING: [
                    MessageHandler(private & filters.Regex(r"^/skip$"), profile_text),
                    MessageHandler(private & filters.TEXT & ~filters.COMMAND, profile_text),
                ],
                LEVELS: [CallbackQueryHandler(profile_level, pattern=r"^pl:")],
            },
            fallbacks=[CommandHandler("cancel", profile_cancel)],
            allow_reentry=True,
        )
    app.add_handler(conversation)
    app.add_handler(CommandHandler("contact", contact_command, filters=private))
    app.add_handler(CommandHandler(["contact", "profile"], _in_group, filters=~private))
    app.add_handler(CommandHandler("mydata", mydata, filters=private))
    app.add_handler(CommandHandler("forgetme", forgetme, filters=private))
    app.add_handler(CommandHandler("override", _override_entry, filters=private))
    app.add_handler(CommandHandler("export", _export_entry, filters=private))
    app.add_handler(MessageHandler(private & filters.Document.ALL, _document_entry))
    app.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{CB}:"))
    # After /start has answered (group 0), ask imported people for their consent; and when
    # they join (after the newcomer was admitted in group 1).
    app.add_handler(CommandHandler("start", ask_consent_on_start, filters=private), group=1)
    app.add_handler(ChatMemberHandler(ask_consent_on_join, ChatMemberHandler.CHAT_MEMBER), group=2)
    add_deep_link(app, "contact", _deep_link)


async def warm_index(app: App) -> None:
    """Build the lookup index in the background at start-up (and after other processes
    changed the directory), so no lookup waits for it."""
    await contact_index.warm(services_of(app).db)


SWEEPS = [
    Sweep("contact-requests", timedelta(minutes=5), expire_requests),
    Sweep("contact-index", timedelta(minutes=10), warm_index),
]
