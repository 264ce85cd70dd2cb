"""/contact: searching the directory, one page of cards at a time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.orm import Session
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from handlers.common import (
    role_here,
)
from handlers.contacts.render import Found, Results, results_keyboard, results_text
from handlers.contacts.shared import (
    MIN_SCORE,
    defaults,
    live_grants,
    payload_query,
    requester_of,
)
from handlers.render import esc
from handlers.webapp import with_open_row
from i18n import (
    _,
    ngettext,
)
from moderation.contacts import (
    SEARCHABLE,
    InvalidValue,
    Requester,
    check_query,
    disclosed,
    search_key,
)
from moderation.permissions import Role
from runtime.context import BotContext, Services
from storage import contact_index
from storage.contacts import (
    ContactRepository,
    subject_of,
    values_of,
)
from storage.models import Contact


# ============================================================================== /contact
class _Scores:
    """How well the query matches each shown value, worked out once per value and lookup:
    organisations, roles, clusters and places repeat across the 200 candidates."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.known: dict[str, float] = {}

    def of(self, value: str) -> float:
        score = self.known.get(value)
        if score is None:
            from rapidfuzz import fuzz  # at the first lookup, not to start the bot

            plain = search_key(value)
            score = max(fuzz.partial_ratio(self.key, plain), fuzz.token_set_ratio(self.key, plain))
            self.known[value] = score
        return score

    def best(self, shown: dict[str, str]) -> float:
        return max((self.of(shown[name]) for name in SEARCHABLE if name in shown), default=0.0)


def search(
    services: Services,
    session: Session,
    requester: Requester,
    key: str,
    *,
    from_index: bool = True,
) -> list[tuple[Contact, dict[str, str]]]:
    """Matches ranked by score, judged only on fields the requester may see (candidates from
    the in-memory index, or with ``from_index=False`` from the database's gram index)."""
    repo = ContactRepository(session)
    candidates = repo.search_candidates(key, from_index=from_index)
    grants = live_grants(services, session, requester, [c.id for c in candidates])
    levels = defaults(services)
    found: list[tuple[float, Contact, dict[str, str]]] = []
    scores = _Scores(key)
    for contact in candidates:
        shown = disclosed(requester, subject_of(contact, levels), values_of(contact), grants)
        score = scores.best(shown)
        if score >= MIN_SCORE:
            found.append((score, contact, shown))
    found.sort(key=lambda t: (-t[0], t[1].name.casefold(), t[1].id))
    return [(c, s) for _, c, s in found]


def open_lookup(
    services: Services, user_id: int, user_role: Role, key: str
) -> tuple[Requester, int | None, str]:
    """Who is searching, and the recorded lookup's id; or None and the refusal (not a member,
    over the rate limit), in the current language. Shared by /contact and the Mini App."""
    now = services.clock.now()
    rate = services.settings.contacts.lookup_rate
    with services.db.transaction() as session:
        requester = requester_of(services, session, user_id, user_role)
        if not requester.is_member:
            return requester, None, _("The directory is for members of the group.")
        if ContactRepository(session).lookups_since(user_id, now - rate.per) >= rate.count:
            text = ngettext(
                "You have reached the limit of {n} search; please try again later "
                "(the limit protects colleagues' details from harvesting).",
                "You have reached the limit of {n} searches; please try again later "
                "(the limit protects colleagues' details from harvesting).",
                rate.count,
            )
            return requester, None, text
        return requester, ContactRepository(session).add_lookup(user_id, key, now).id, ""


def reopen_lookup(
    services: Services, user_id: int, user_role: Role, lookup_id: int
) -> tuple[Requester, str] | None:
    """Another page of an earlier search: who is searching and its query, when the lookup is
    theirs and they are still a member; else None (someone else's search, or no such search:
    the same answer, so nothing is disclosed). No new lookup is recorded, so the page does not
    count toward the limit. Shared by /contact's page buttons and the Mini App's pager."""
    with services.db.transaction() as session:
        lookup = ContactRepository(session).lookup(lookup_id)
        if lookup is None or lookup.user_id != user_id:
            return None
        requester = requester_of(services, session, user_id, user_role)
        key = lookup.query
    return (requester, key) if requester.is_member else None


async def contact_command(update: Update, context: BotContext) -> None:
    await run_search(update, context, " ".join(context.args or []))


async def deep_link(update: Update, context: BotContext, argument: str) -> None:
    """``/start contact_…``: the search typed in the group runs here; /profile in the group
    is pointed to /profile; a bare link explains /contact."""
    message = update.effective_message
    if message is None:
        return
    query = payload_query(argument)
    if query is not None:
        await run_search(update, context, query)
    elif argument == "profile":
        await message.reply_text(
            _("Send /profile to edit your directory entry and choose who sees each detail.")
        )
    else:
        await message.reply_text(
            _(
                "Send <code>/contact</code> followed by a name, organisation, role, cluster or "
                "place (at least 3 letters), e.g. <code>/contact wash kharkiv</code>. /profile "
                "edits your own entry."
            )
        )


async def run_search(update: Update, context: BotContext, raw: str) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    services = context.services
    # Telegram allows the Mini App's button only in private chats (/contact runs only there).
    private = message.chat.type == ChatType.PRIVATE
    try:
        key = check_query(raw)
    except InvalidValue as exc:
        # A bare /contact or a refused query: the app's search is one tap away.
        await message.reply_text(
            _(
                "{problem}. Example: <code>/contact protection odesa</code>",
                problem=esc(str(exc)[:1].upper() + str(exc)[1:]),
            ),
            reply_markup=with_open_row(services, None) if private else None,
        )
        return
    user_role = await role_here(update, context)
    requester, lookup_id, refusal = open_lookup(services, user.id, user_role, key)
    if lookup_id is None:
        await message.reply_text(refusal)
        return
    text, markup = await search_page(services, requester, lookup_id, key, 0)
    await message.reply_text(
        text, reply_markup=with_open_row(services, markup) if private else markup
    )


@dataclass(frozen=True)
class Page:
    """One page of results: the cards (already filtered), which of them may be asked for,
    the total and the page count."""

    cards: list[tuple[Contact, dict[str, str]]]
    askable: frozenset[int]
    total: int
    page: int
    pages: int


async def result_page(services: Services, requester: Requester, key: str, page: int) -> Page:
    """The page of results, without holding up the bot: from the in-memory index on the event
    loop when the index is up to date; while it is being built (at start, or after a change it
    cannot catch up with), in a worker thread from the database's gram index, whose query
    takes up to a few hundred ms at 100,000 contacts and would otherwise stall every update."""
    if contact_index.ready(services.db):
        return page_of_results(services, requester, key, page)
    return await asyncio.to_thread(
        page_of_results, services, requester, key, page, from_index=False
    )


def page_of_results(
    services: Services, requester: Requester, key: str, page: int, *, from_index: bool = True
) -> Page:
    """The page of results, each disclosure recorded (channel "lookup"). A card may be asked
    for when it is someone else's and holds a detail the requester does not see."""
    size = services.settings.contacts.page_size
    now = services.clock.now()
    with services.db.transaction() as session:
        results = search(services, session, requester, key, from_index=from_index)
        pages = max(1, -(-len(results) // size))
        page = min(max(page, 0), pages - 1)
        chunk = results[page * size : (page + 1) * size]
        repo = ContactRepository(session)
        for contact, shown in chunk:
            repo.record_disclosure(requester.user_id, contact.id, shown, "lookup", now)
        askable = frozenset(
            c.id
            for c, s in chunk
            if c.user_id != requester.user_id
            and any(v and f not in s for f, v in values_of(c).items())
        )
    return Page(chunk, askable, len(results), page, pages)


async def search_page(
    services: Services, requester: Requester, lookup_id: int, key: str, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """A page of /contact's results as text and buttons (also its page buttons' answer)."""
    found = await result_page(services, requester, key, page)
    results = Results(
        lookup_id=lookup_id,
        query=key,
        total=found.total,
        page=found.page,
        pages=found.pages,
        cards=[Found(c.id, s, c.id in found.askable) for c, s in found.cards],
    )
    return results_text(results), results_keyboard(results)
