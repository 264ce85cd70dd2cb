"""The texts of introductions: the card in the group, the summary before saving, the link."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from handlers.render import esc, esc_attr, mention
from i18n import _, comma_join, date_text, datetime_text
from moderation.introductions import Category, IntroStatus
from storage.models import Introduction, Invitation, User


def describe(intro: Introduction | Invitation) -> str:
    """ "UNICEF, WASH cluster IMO, Kyiv; surge mission until 20 Dec 2026" (escaped)."""
    parts = [esc(intro.organisation) if intro.organisation else _("organisation not given")]
    if intro.cluster and intro.cluster.casefold() not in (intro.role or "").casefold():
        parts.append(_("{cluster} cluster", cluster=esc(intro.cluster)))
    if intro.role:
        parts.append(esc(intro.role))
    if intro.location:
        parts.append(esc(intro.location))
    text = comma_join(parts)
    if intro.category is Category.SURGE and intro.end_date:
        return _(
            "{description}; surge / short mission until {date}",
            description=text,
            date=date_text(intro.end_date),
        )
    if intro.category is Category.OUT_OF_COUNTRY and intro.end_date:
        if intro.reason:
            return _(
                "{description}; supports colleagues in the country from outside until {date} "
                "({reason})",
                description=text,
                date=date_text(intro.end_date),
                reason=esc(intro.reason),
            )
        return _(
            "{description}; supports colleagues in the country from outside until {date}",
            description=text,
            date=date_text(intro.end_date),
        )
    return text


def card_text(
    intro: Introduction,
    newcomer: User,
    sponsor: User | None,
    sponsor_intro: Introduction | None,
) -> str:
    """The introduction card: who sponsors whom, what is still missing."""
    who = mention(newcomer.id, intro.full_name or newcomer.display_name)
    if sponsor is None:
        return _(
            "Welcome, {newcomer}! Every member here is sponsored by an existing member; a "
            "moderator will confirm who sponsors you. Until then you can read the group.",
            newcomer=who,
        )
    sponsor_name = mention(
        sponsor.id,
        sponsor_intro.full_name
        if sponsor_intro and sponsor_intro.full_name
        else sponsor.display_name,
    )
    if sponsor_intro and sponsor_intro.organisation:
        sponsor_name = _(
            "{sponsor} ({organisation})",
            sponsor=sponsor_name,
            organisation=esc(sponsor_intro.organisation),
        )
    if intro.sponsor_done_at is None:
        lines = [
            _(
                "Welcome, {newcomer}! {sponsor}, please introduce them to the group: name, "
                "organisation and role (button below).",
                newcomer=who,
                sponsor=sponsor_name,
            )
        ]
    else:
        lines = [
            _(
                "👋 {sponsor} introduces {newcomer} — {description}.",
                sponsor=sponsor_name,
                newcomer=who,
                description=describe(intro),
            )
        ]
    if intro.status is IntroStatus.COMPLETE:
        lines.append(_("✅ Introduction complete."))
    elif intro.confirmed_at is None:
        lines.append(
            _(
                "{name}, please confirm your first and last name and organisation with the "
                "button below (one tap opens a private chat with me).",
                name=esc(newcomer.first_name),
            )
        )
    return "\n".join(lines)


def summary(first_name: str, last_name: str, preview: Invitation, note: str = "") -> str:
    """The sponsor's answers before saving; ``note`` (plain text) above them."""
    text = _(
        "<b>{first} {last}</b> — {description}.",
        first=esc(first_name),
        last=esc(last_name),
        description=describe(preview),
    )
    return f"{esc(note)}\n{text}" if note else text


def personal_link(
    first_name: str, last_name: str, link: str, expires: datetime, zone: ZoneInfo
) -> str:
    return _(
        "Here is the personal link for <b>{first} {last}</b>. It works once and until "
        "{time}; send it to them privately:\n{link}\n\nWhen they join I will "
        "post your introduction in the group.",
        first=esc(first_name),
        last=esc(last_name),
        time=datetime_text(expires, zone),
        link=esc_attr(link),
    )


def open_link(name: str, link: str, expires: datetime, zone: ZoneInfo) -> str:
    return _(
        "You already have an open link for {name}: {link} (valid until {date}).",
        name=esc(name),
        link=esc_attr(link),
        date=datetime_text(expires, zone),
    )
