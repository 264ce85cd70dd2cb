"""Shared pieces of the contact directory: commands, labels, who is asking, the card."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from handlers.common import (
    group_label,
    reply,
)
from handlers.render import esc
from i18n import (
    N_,
    _,
)
from moderation.contacts import (
    FIELDS,
    Grant,
    Level,
    Requester,
    counting_grants,
    field_label,
)
from moderation.permissions import CommandSpec, Role, Where
from runtime.context import BotContext, Services
from storage.contacts import (
    ContactRepository,
    confirmed_cluster_list,
)
from storage.roster import RosterRepository

COMMANDS = [
    CommandSpec("profile", "Your entry in the contact directory", where=Where.PRIVATE),
    CommandSpec(
        "contact", "Find a colleague", where=Where.PRIVATE, usage=N_("NAME/ORGANISATION/PLACE")
    ),
    CommandSpec("mydata", "Everything held about you and who saw it", where=Where.PRIVATE),
    CommandSpec("forgetme", "Erase your contact data", where=Where.PRIVATE),
    CommandSpec(
        "override",
        "Reveal a contact's details for a while (needs a reason)",
        role=Role.MODERATOR,
        where=Where.PRIVATE,
        usage=N_("ID [FIELDS] REASON"),
    ),
    CommandSpec(
        "ask",
        "Ask to be put in touch, with a short note",
        where=Where.PRIVATE,
        usage=N_("ID NOTE"),
    ),
    CommandSpec(
        "link",
        "Tie an imported directory entry to a Telegram user id",
        role=Role.MODERATOR,
        where=Where.PRIVATE,
        usage=N_("ENTRY USER_ID"),
    ),
    CommandSpec(
        "clusters",
        "Confirm an entry's clusters (they open cluster-level details)",
        role=Role.MODERATOR,
        where=Where.PRIVATE,
        usage=N_("ENTRY CLUSTERS"),
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
        clusters=frozenset(confirmed_cluster_list(own)) if own else frozenset(),
    )


def live_grants(
    services: Services,
    session: Session,
    requester: Requester,
    contact_ids: Iterable[int],
    *,
    for_export: bool = False,
) -> list[Grant]:
    """The requester's grants that count right now (overrides: setting on, live role, not
    expired, never for an export)."""
    return counting_grants(
        ContactRepository(session).grants(requester.user_id, contact_ids),
        services.clock.now(),
        overrides_allowed=services.settings.contacts.moderator_override,
        requester_is_moderator=requester.is_moderator,
        for_export=for_export,
    )


def render_card(shown: Mapping[str, str], contact_id: int) -> str:
    """One contact as HTML, from the already-filtered values only."""
    title = esc(shown["name"]) if "name" in shown else _("<i>name not shared</i>")
    lines = [f"<b>{title}</b> · #{int(contact_id)}"]
    for name in FIELDS:
        if name != "name" and name in shown:
            value = _("yes") if name == "focal_point" else esc(shown[name])
            lines.append(_("{field}: {value}", field=field_label(name), value=value))
    return "\n".join(lines)


# A deep link's payload is at most 64 of A-Z a-z 0-9 _ - (Telegram's rule).
PAYLOAD_MAX = 64
QUERY_MARK = "q"  # contact_q<base64url of the query>; contact_go opens the private chat only


def query_payload(query: str) -> str:
    """``contact_q…``: the search typed in the group, carried to the private chat; ``go``
    alone when it does not fit into a deep link."""
    encoded = base64.urlsafe_b64encode(query.strip().encode()).decode().rstrip("=")
    payload = f"{QUERY_MARK}{encoded}"
    return payload if query.strip() and len("contact_") + len(payload) <= PAYLOAD_MAX else "go"


def payload_query(argument: str) -> str | None:
    """The search a ``contact_q…`` link carries; None for ``go`` or anything else."""
    if not argument.startswith(QUERY_MARK) or len(argument) > PAYLOAD_MAX:
        return None
    encoded = argument[len(QUERY_MARK) :]
    try:
        text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return text if text.strip() and text.isprintable() else None


def private_link(
    context: BotContext, prefix: str, chat_id: int, argument: str = "go"
) -> InlineKeyboardMarkup:
    url = f"https://t.me/{context.bot.username}?start={prefix}_{argument}"
    label = group_label(
        context.services,
        chat_id,
        lambda: _("Write to me privately"),
    )
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=url)]])


async def in_group(update: Update, context: BotContext) -> None:
    """/contact or /profile sent in the group: answered privately, through a link that opens
    the private chat with the same request (the search typed here; /profile's questions)."""
    chat, message = update.effective_chat, update.effective_message
    if message is None or chat is None:
        return
    if (message.text or "").split(maxsplit=1)[0].lower().startswith("/profile"):
        await reply(
            update,
            context,
            lambda: _("I edit your directory entry privately. Tap below, then send /profile."),
            reply_markup=private_link(context, "contact", chat.id, "profile"),
        )
        return
    await reply(
        update,
        context,
        lambda: _("I answer this privately, so nobody else sees the results. Tap below."),
        reply_markup=private_link(
            context, "contact", chat.id, query_payload(" ".join(context.args or []))
        ),
    )


def parse_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 19 else None
