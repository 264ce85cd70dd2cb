"""The membership's longer texts (/whois, /members, /pending), composed from typed results.

No database and no sending here: ``handlers.members`` reads in one unit of work, fills these
records and replies with what the functions return. Every name a person typed goes through
``esc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.introductions import describe
from handlers.render import esc, esc_attr, mention
from i18n import _, date_text, duration_text, list_text, ngettext
from moderation.introductions import Category, IntroStatus
from storage.models import Introduction


def sponsor_note(note: str | None) -> str:
    """Why someone has no sponsor (stored in English, shown translated)."""
    return _(note) if note else _("member before the bot")


@dataclass(frozen=True)
class Match:
    """A member a /whois query matched: the name the roster shows and the @username."""

    name: str
    username: str | None


def several_matches(matches: Sequence[Match], shown: int = 10) -> str:
    """The reply when a /whois query fits more than one member: the first ``shown`` of them."""
    lines = [_("Several members match; be more precise:")]
    lines += [
        f"• {esc(m.name)}" + (f" (@{esc_attr(m.username)})" if m.username else "")
        for m in matches[:shown]
    ]
    if len(matches) > shown:
        extra = len(matches) - shown
        lines.append(ngettext("…and {n} more", "…and {n} more", extra))
    return "\n".join(lines)


@dataclass(frozen=True)
class WhoisCard:
    """One member as /whois shows them: roster name, introduction, sponsor's name and the
    group's time zone (for the day they joined)."""

    member: Match
    intro: Introduction | None
    sponsor: str | None
    joined_at: datetime
    zone: ZoneInfo


def whois_card(card: WhoisCard) -> str:
    intro = card.intro
    username = card.member.username
    lines = [f"<b>{esc(card.member.name)}</b>" + (f" (@{esc_attr(username)})" if username else "")]
    if intro is not None and intro.organisation:
        lines.append(describe(intro))
    if intro is not None and intro.category is not None:
        lines.append(_("Based: {category}", category=esc(intro.category.label)))
    if card.sponsor:
        lines.append(_("Sponsor: {name}", name=esc(card.sponsor)))
    else:
        note = sponsor_note(intro.sponsor_note if intro else None)
        lines.append(_("Sponsor: — ({note})", note=esc(note)))
    lines.append(_("Member since {date}", date=date_text(card.joined_at, card.zone)))
    if intro is not None and intro.end_date is not None:
        lines.append(_("Until {date}", date=date_text(intro.end_date)))
    if intro is not None and intro.status is not IntroStatus.COMPLETE:
        lines.append(_("Introduction: {status}", status=esc(intro.status.label)))
    return "\n".join(lines)


PAGE_BUTTON = "mem:"  # mem:<chat id>:<page>


@dataclass(frozen=True)
class RosterLine:
    """One member on a /members page: the roster name, what their introduction says (None or
    "" where it says nothing), the sponsor's name, and the introduction's status (None: a
    member from before the bot)."""

    user_id: int
    name: str
    organisation: str | None
    category: Category | None
    sponsor: str | None
    status: IntroStatus | None


@dataclass(frozen=True)
class MembersPage:
    """One page of a group's roster: how many members in all, which page (counted from 0) of
    how many, and the members on it."""

    chat_id: int
    group: str
    total: int
    page: int
    pages: int
    members: Sequence[RosterLine]


def members_page_text(page: MembersPage) -> str:
    lines = [
        ngettext(
            "<b>{group}</b>: {n} member",
            "<b>{group}</b>: {n} members",
            page.total,
            group=esc(page.group),
        )
    ]
    if page.pages > 1:
        lines.append(_("Page {page} of {pages}", page=page.page + 1, pages=page.pages))
    for member in page.members:
        category = member.category.label if member.category else _("category unknown")
        status = member.status.label if member.status else _("member before the bot")
        lines.append(
            _(
                "• {member} — {organisation}, {category}; sponsor {sponsor}; {status}",
                member=mention(member.user_id, member.name),
                organisation=esc(member.organisation or "?"),
                category=esc(category),
                sponsor=esc(member.sponsor or "—"),
                status=esc(status),
            )
        )
    return "\n".join(lines)


def members_page_keyboard(page: MembersPage) -> InlineKeyboardMarkup | None:
    """Previous/Next, where there is a page before or after (None on a single page)."""
    buttons = []
    if page.page > 0:
        buttons.append(
            InlineKeyboardButton(
                _("◀ Previous"), callback_data=f"{PAGE_BUTTON}{page.chat_id}:{page.page - 1}"
            )
        )
    if page.page < page.pages - 1:
        buttons.append(
            InlineKeyboardButton(
                _("Next ▶"), callback_data=f"{PAGE_BUTTON}{page.chat_id}:{page.page + 1}"
            )
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


@dataclass(frozen=True)
class PendingJoin:
    """An open join request: whose, whether a sponsor took it, how long it has waited."""

    name: str
    sponsored: bool
    waited: timedelta


@dataclass(frozen=True)
class PendingIntro:
    """An unfinished introduction: whose, what it lacks, how long since they joined (None when
    the join time is unknown)."""

    name: str
    held: bool
    sponsor_done: bool
    confirmed: bool
    waited: timedelta | None


def pending_lines(joins: Sequence[PendingJoin], intros: Sequence[PendingIntro]) -> list[str]:
    """The whole /pending reply, a line per item (the caller cuts it into messages)."""
    lines = [_("<b>Join requests</b>")]
    for join in joins:
        name, waited = esc(join.name), duration_text(join.waited)
        if join.sponsored:
            lines.append(
                _(
                    "• {name} — sponsored, waiting for the introduction; waiting {waited}",
                    name=name,
                    waited=waited,
                )
            )
        else:
            lines.append(
                _("• {name} — waiting for a sponsor; waiting {waited}", name=name, waited=waited)
            )
    if not joins:
        lines.append(_("none"))
    lines.append(_("<b>Unfinished introductions</b>"))
    for intro in intros:
        missing = []
        if intro.held:
            missing.append(_("a sponsor (moderators decide)"))
        elif not intro.sponsor_done:
            missing.append(_("the sponsor's introduction"))
        if not intro.confirmed:
            missing.append(_("the newcomer's confirmation"))
        lines.append(
            _(
                "• {name} — needs {missing}; waiting {waited}",
                name=esc(intro.name),
                missing=esc(list_text(missing)),
                waited=duration_text(intro.waited) if intro.waited is not None else "?",
            )
        )
    if not intros:
        lines.append(_("none"))
    return lines
