"""The per-feature render functions on typed results, without a bot (README "Architecture":
texts live in the feature's render module; everything a user typed goes through ``esc``, which
escapes it and keeps its direction to itself)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.contacts.render import Entry, MyData, mydata_lines, revoke_keyboard
from handlers.member_cards import (
    Match,
    PendingIntro,
    PendingJoin,
    WhoisCard,
    pending_lines,
    several_matches,
    whois_card,
)
from moderation.contacts import DEFAULT_LEVELS
from moderation.introductions import Category
from moderation.lifecycle import Coming, Member, Outcome, Policy, coming_up
from storage.models import Contact, ContactGrant

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
FSI, PDI = "\u2068", "\u2069"


def entry(name: str, grants: list[ContactGrant]) -> Entry:
    contact = Contact(
        id=1,
        user_id=5,
        name=name,
        organisation="",
        role="",
        clusters="",
        location="",
        phone="",
        email="",
        telegram="",
        confirmed_clusters="",
        cluster_coordinator=False,
        consent="given",
        source="profile",
    )
    return Entry(contact, dict(DEFAULT_LEVELS), [], grants, [])


def share(grant_id: int, requester: int) -> ContactGrant:
    return ContactGrant(
        id=grant_id,
        requester_id=requester,
        contact_id=1,
        fields="phone",
        kind="consent",
        granted_by=5,
        reason=None,
        at=NOW,
        expires_at=None,
        revoked_at=None,
    )


def test_mydata_escapes_and_isolates_what_people_typed() -> None:
    # A name with markup and a right-to-left override, a sharer named in Arabic.
    data = MyData(
        entry("<b>Olena</b>\u202e", [share(3, 42)]),
        searches=2,
        kept=[],
        names={42: "سارة <i>"},
    )
    text = "\n".join(mydata_lines(data, KYIV, NOW))
    assert f"{FSI}&lt;b&gt;Olena&lt;/b&gt;{PDI}" in text
    assert "<b>Olena" not in text and "\u202e" not in text
    assert f"{FSI}سارة &lt;i&gt;{PDI}" in text
    assert "Your searches kept for the rate limit: 2." in text
    assert "Nothing: it would erase everything." in text
    keyboard = revoke_keyboard(data)
    assert keyboard is not None
    [[button]] = keyboard.inline_keyboard
    assert button.text == "Take back what I shared with سارة <i>"  # a button is plain text


def test_mydata_names_someone_the_bot_never_saw_by_id_and_offers_no_button_without_shares() -> None:
    data = MyData(entry("Olena", [share(3, 100001)]), searches=0, kept=[], names={})
    assert any("user 100001" in line for line in mydata_lines(data, KYIV, NOW))
    assert revoke_keyboard(MyData(None, 0, [], {})) is None
    assert mydata_lines(MyData(None, 0, [], {}), KYIV, NOW)[1] == "No contact entry."


def member(**facts: Any) -> Member:
    return replace(Member(user_id=7, joined_at=NOW - timedelta(days=100)), **facts)


def test_expiring_lists_what_the_readme_names_within_the_window() -> None:
    policy = Policy(timezone=KYIV)
    today = date(2027, 3, 1)
    window = timedelta(days=30)
    # A removal Telegram refused: now, whatever else is known.
    refused = member(removal_outcome=Outcome.PROTECTED, departure_date=date(2027, 3, 10))
    assert [c for c, _at in coming_up(refused, policy, NOW, today, window)] == [
        Coming.REMOVAL_REFUSED
    ]
    assert coming_up(refused, policy, NOW, today, window)[0][1] == NOW
    # A departure in the window is listed, one after it is not.
    leaving = member(departure_date=date(2027, 3, 20))
    assert [c for c, _at in coming_up(leaving, policy, NOW, today, window)] == [Coming.LEAVES]
    later = member(departure_date=date(2027, 5, 1))
    assert coming_up(later, policy, NOW, today, window) == []
    # Outside the country without a sponsor, and its end date within the window.
    sponsorless = member(
        category=Category.OUT_OF_COUNTRY, end_date=date(2027, 3, 15), sponsor_ok=False
    )
    kinds = [c for c, _at in coming_up(sponsorless, policy, NOW, today, window)]
    assert kinds == [Coming.NO_SPONSOR, Coming.ENDS]
    # An end date beyond the window is not listed; a wider window lists it.
    surge = member(category=Category.SURGE, end_date=date(2027, 6, 1))
    assert coming_up(surge, policy, NOW, today, window) == []
    wide = coming_up(surge, policy, NOW, today, timedelta(days=120))
    assert [c for c, _at in wide] == [Coming.ENDS]


def test_pending_says_what_each_newcomer_still_needs_and_escapes_names() -> None:
    lines = pending_lines(
        [PendingJoin("<i>Ivan</i>", sponsored=False, waited=timedelta(hours=3))],
        [
            PendingIntro("Olena", held=True, sponsor_done=False, confirmed=False, waited=None),
            PendingIntro(
                "Mira", held=False, sponsor_done=True, confirmed=False, waited=timedelta(days=2)
            ),
        ],
    )
    assert lines[0] == "<b>Join requests</b>"
    assert f"{FSI}&lt;i&gt;Ivan&lt;/i&gt;{PDI}" in lines[1] and "<i>" not in lines[1]
    assert "waiting for a sponsor; waiting 3 hours" in lines[1]
    assert lines[2] == "<b>Unfinished introductions</b>"
    needs = "a sponsor (moderators decide) and the newcomer&#x27;s confirmation"
    assert f"needs {FSI}{needs}{PDI}" in lines[3]
    assert lines[3].endswith("waiting ?")
    assert f"needs {FSI}the newcomer&#x27;s confirmation{PDI}; waiting 2 days" in lines[4]
    assert pending_lines([], []) == [
        "<b>Join requests</b>",
        "none",
        "<b>Unfinished introductions</b>",
        "none",
    ]


def test_whois_names_no_sponsor_and_lists_at_most_ten_matches() -> None:
    card = WhoisCard(
        Match("<b>Olena</b>", "olena_k"), None, None, datetime(2027, 1, 5, 23, tzinfo=UTC), KYIV
    )
    text = whois_card(card)
    assert text.startswith(f"<b>{FSI}&lt;b&gt;Olena&lt;/b&gt;{PDI}</b> (@olena_k)")
    assert f"Sponsor: — ({FSI}member before the bot{PDI})" in text
    assert text.endswith("Member since 6 Jan 2027")  # 01:00 in Kyiv
    several = several_matches([Match(f"Ann {n}", None) for n in range(12)])
    assert several.count("•") == 10 and several.endswith("…and 2 more")
