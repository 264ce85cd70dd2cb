"""The directory's longer texts, composed from typed results (no database, no sending).

``MyData`` is what /mydata read in one unit of work; ``mydata_lines`` turns it into the reply.
``Ask`` is a "put me in touch" request; ``ask_text`` is what the person asked reads.
``Results`` is one page of a /contact search; ``results_text`` and ``results_keyboard`` show it.
Everything a person typed (names, values, reasons, notes) goes through ``esc``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.contacts.shared import (
    CB,
    CHANNEL_LABELS,
    CONSENT_LABELS,
    REQUEST_LABELS,
    SOURCE_LABELS,
    render_card,
)
from handlers.render import esc, truncate
from i18n import _, comma_join, date_text, datetime_text, ngettext
from moderation.contacts import FIELDS, GrantKind, Level, field_label, level_label
from storage.contacts import confirmed_cluster_list, values_of
from storage.models import Contact, ContactGrant, ContactRequest, Disclosure


@dataclass(frozen=True)
class Entry:
    """A person's directory entry and everything recorded about it."""

    contact: Contact
    levels: Mapping[str, Level]
    seen: Sequence[Disclosure]
    grants: Sequence[ContactGrant]
    requests: Sequence[ContactRequest]


@dataclass(frozen=True)
class MyData:
    """What /mydata shows: the entry (None without one), the searches kept, what /forgetme
    keeps (untranslated reasons), and the names the roster knows for the people named."""

    entry: Entry | None
    searches: int
    kept: Sequence[str]
    names: Mapping[int, str]

    def name(self, user_id: int) -> str:
        """The person's name as the roster knows it (they asked or were asked through the bot,
        so the reader has seen it); "user 100001" only for someone the bot never saw."""
        known = self.names.get(user_id)
        return known if known is not None else _("user {id}", id=user_id)


def mydata_lines(data: MyData, zone: ZoneInfo, now: datetime) -> list[str]:
    """The whole /mydata reply, a line per item (the caller cuts it into messages)."""
    lines: list[str] = [_("<b>What the directory holds about you</b>")]
    entry = data.entry
    if entry is None:
        lines.append(_("No contact entry."))
    else:
        lines += _entry_lines(entry.contact, entry.levels)
        lines += _seen_lines(data, entry.seen, zone)
        lines += shares_lines(data, entry.grants, zone)
        lines += override_lines(data, entry.grants, zone, now)
        lines.append("\n" + _("<b>Requests to be put in touch with you</b>"))
        for request in entry.requests:
            lines.append(
                _(
                    "#{request} {date} from {name}: {status}",
                    request=request.id,
                    date=date_text(request.created_at, zone),
                    name=esc(data.name(request.requester_id)),
                    status=esc(_(REQUEST_LABELS.get(request.status, request.status))),
                )
            )
    lines.append("\n" + _("Your searches kept for the rate limit: {n}.", n=data.searches))
    lines.append("\n" + _("<b>What /forgetme keeps, and why</b>"))
    lines += [f"• {_(reason)}" for reason in data.kept] or [
        _("Nothing: it would erase everything.")
    ]
    return lines


def _entry_lines(contact: Contact, levels: Mapping[str, Level]) -> list[str]:
    lines = [
        _(
            "{field}: {value} ({level})",
            field=field_label(name),
            value=esc(value or "—"),
            level=level_label(levels[name].value),
        )
        for name, value in values_of(contact).items()
    ]
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
    return lines


def _seen_lines(data: MyData, seen: Sequence[Disclosure], zone: ZoneInfo) -> list[str]:
    """Who has seen the details: when, who, which fields, how (an override's reason too)."""
    lines = ["\n" + _("<b>Who has seen your details</b>")]
    for row in seen:
        viewer = data.names.get(row.viewer_id) if row.viewer_id else None
        who = esc(viewer) if viewer is not None else _("user {id}", id=row.viewer_id or "—")
        fields = (
            comma_join(field_label(f) if f in FIELDS else esc(f) for f in row.fields.split(","))
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
    return lines


def shares_lines(data: MyData, grants: Sequence[ContactGrant], zone: ZoneInfo) -> list[str]:
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
                who=esc(data.name(grant.requester_id)),
                id=grant.requester_id,
                fields=esc(fields or _("nothing")),
                state=state,
            )
        )
    return lines


def override_lines(
    data: MyData, grants: Sequence[ContactGrant], zone: ZoneInfo, now: datetime
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
                who=esc(data.name(grant.granted_by)),
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


def revoke_keyboard(data: MyData) -> InlineKeyboardMarkup | None:
    """A "Take back" button per sharing still in force."""
    revocable = [
        (grant.id, data.name(grant.requester_id))
        for grant in (data.entry.grants if data.entry else ())
        if grant.kind == GrantKind.CONSENT.value and grant.revoked_at is None
    ]
    if not revocable:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Take back what I shared with {who}", who=truncate(who, 30)),
                    callback_data=f"{CB}:rv:{grant_id}",
                )
            ]
            for grant_id, who in revocable
        ]
    )


@dataclass(frozen=True)
class Ask:
    """A "put me in touch" request as the person asked reads it: the requester's name and
    organisation (as their own entry or the roster gives them), the colleague asked about when
    the person asked is the organisation's focal point (None: asked about themselves), and the
    requester's note ("" without one)."""

    request_id: int
    requester_name: str
    requester_organisation: str
    colleague: str | None
    note: str


def ask_text(ask: Ask) -> str:
    """The message to the person asked (its buttons are ``touch.answer_keyboard``)."""
    who = (
        _(
            "<b>{name}</b> ({organisation})",
            name=esc(ask.requester_name),
            organisation=esc(ask.requester_organisation),
        )
        if ask.requester_organisation
        else _("<b>{name}</b>", name=esc(ask.requester_name))
    )
    if ask.colleague is not None:
        first = _(
            "{requester} asks to be put in touch with {colleague} of your organisation; as "
            "its focal point, would you share your own details?",
            requester=who,
            colleague=esc(ask.colleague),
        )
    else:
        first = _("{requester} asks to be put in touch with you.", requester=who)
    lines = [first]
    if ask.note:
        lines.append(_("Their note: “{note}”", note=esc(ask.note)))
    lines.append(
        _(
            "Tap the details to choose what to send (✓ = sent). Nothing is sent unless you "
            "tap “Share with this person”. Request #{request}.",
            request=ask.request_id,
        )
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class Found:
    """One card of a /contact page: the entry's number, the details the searcher may see (already
    filtered), and whether they may ask to be put in touch (someone else's entry holding a
    detail they do not see)."""

    contact_id: int
    shown: Mapping[str, str]
    askable: bool


@dataclass(frozen=True)
class Results:
    """One page of a /contact search: the recorded lookup (its page buttons name it), the query
    as typed, how many were found in all, the page shown (from 0) of ``pages``, its cards."""

    lookup_id: int
    query: str
    total: int
    page: int
    pages: int
    cards: Sequence[Found]


def results_text(results: Results) -> str:
    """The heading and the page's cards, or "nobody found"."""
    if not results.total:
        return _(
            "Nobody found for “{query}”. Try another spelling, an organisation or a place.",
            query=esc(results.query),
        )
    cards = "\n\n".join(render_card(card.shown, card.contact_id) for card in results.cards)
    heading = ngettext(
        "<b>{n} found</b> for “{query}” (page {page}/{pages})",
        "<b>{n} found</b> for “{query}” (page {page}/{pages})",
        results.total,
        query=esc(results.query),
        page=results.page + 1,
        pages=results.pages,
    )
    return f"{heading}\n\n{cards}"


def results_keyboard(results: Results) -> InlineKeyboardMarkup | None:
    """An "Ask to be put in touch" button per card that may be asked for, then the previous and
    next pages; None when there is nothing to press."""
    if not results.total:
        return None
    rows = [
        [
            InlineKeyboardButton(
                _(
                    "Ask to be put in touch: #{id} {name}",
                    id=card.contact_id,
                    name=truncate(card.shown.get("name", ""), 24),
                ).strip(),
                callback_data=f"{CB}:ask:{card.contact_id}",
            )
        ]
        for card in results.cards
        if card.askable
    ]
    page, pages, lookup_id = results.page, results.pages, results.lookup_id
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
    return InlineKeyboardMarkup(rows) if rows else None
