"""The per-feature render functions on typed results, without a bot (README "Architecture":
texts live in the feature's render module; everything a user typed goes through ``esc``, which
escapes it and keeps its direction to itself). The deadlines' and the calendar link's texts are
in tests/test_feature_render_deadlines.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from handlers.contacts.render import Ask, Entry, MyData, ask_text, mydata_lines, revoke_keyboard
from handlers.help_cards import help_text, start_text, topic_buttons, topic_text
from handlers.lifecycle.render import (
    Departure,
    departure_prompt,
    departure_recorded,
    departure_set_by_moderator,
    not_a_member,
)
from handlers.member_cards import (
    Match,
    MembersPage,
    PendingIntro,
    PendingJoin,
    RosterLine,
    WhoisCard,
    members_page_keyboard,
    members_page_text,
    pending_lines,
    several_matches,
    whois_card,
)
from handlers.mentions.render import TagChange, TagOutcome, tag_change_text
from handlers.moderation.render import ReportDecision, ReportEntry, ReportReporter, report_text
from handlers.status_report import (
    DatabaseDown,
    DatabaseUp,
    GroupCheck,
    Status,
    SweepState,
    status_text,
)
from moderation.contacts import DEFAULT_LEVELS
from moderation.help import HelpPlan, Topic
from moderation.introductions import Category, IntroStatus
from moderation.lifecycle import Coming, Member, Outcome, Policy, coming_up
from moderation.permissions import CommandSpec, Role, Where
from storage.models import Contact, ContactGrant, ReplicaRow, SweepRunRow
from storage.ops import OutboxCounts
from tests.render_support import FSI, KYIV, NOW, PDI


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


def test_members_page_lists_each_member_escaped_with_previous_and_next() -> None:
    olena = RosterLine(7, "<b>Olena</b>", "<UN>", Category.SURGE, "Mira", IntroStatus.PENDING)
    old = RosterLine(8, "Petro", None, None, None, None)
    page = MembersPage(-100123, "Ukraine <IM>", 60, 1, 3, [olena, old])
    assert members_page_text(page) == "\n".join(
        [
            f"<b>{FSI}Ukraine &lt;IM&gt;{PDI}</b>: 60 members",
            "Page 2 of 3",
            f'• <a href="tg://user?id=7">{FSI}&lt;b&gt;Olena&lt;/b&gt;{PDI}</a> — '
            f"{FSI}&lt;UN&gt;{PDI}, {FSI}surge / short mission{PDI}; sponsor {FSI}Mira{PDI}; "
            f"{FSI}pending{PDI}",
            f'• <a href="tg://user?id=8">{FSI}Petro{PDI}</a> — {FSI}?{PDI}, '
            f"{FSI}category unknown{PDI}; sponsor {FSI}—{PDI}; {FSI}member before the bot{PDI}",
        ]
    )
    keyboard = members_page_keyboard(page)
    assert keyboard is not None
    assert [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard] == [
        [("◀ Previous", "mem:-100123:0"), ("Next ▶", "mem:-100123:2")]
    ]
    single = MembersPage(-100123, "IM", 1, 0, 1, [old])
    assert members_page_text(single).split("\n")[0] == f"<b>{FSI}IM{PDI}</b>: 1 member"
    assert members_page_keyboard(single) is None


def test_opting_in_or_out_of_a_tag_says_what_happened_with_names_escaped() -> None:
    def say(change: TagChange, tag: str = "", known: tuple[str, ...] = (), group: str = "") -> str:
        return tag_change_text(TagOutcome(change, tag, known, group))

    assert say(TagChange.JOINED, "R&D<b>") == (
        "You are in @R&amp;D&lt;b&gt;: messages for @R&amp;D&lt;b&gt; will mention you."
    )
    assert say(TagChange.LEFT, "wash") == (
        "You left @wash: messages for @wash will not mention you."
    )
    assert say(TagChange.ALREADY_IN, "wash") == "You are already in @wash."
    assert say(TagChange.ALREADY_OUT, "wash") == "You are not in @wash."
    assert say(TagChange.NOT_A_MEMBER, "wash", group="Ukraine <IM>") == (
        f"Only members of {FSI}Ukraine &lt;IM&gt;{PDI} are in its tags."
    )
    assert say(TagChange.UNKNOWN, "<b>wsh</b>", ("wash", "<i>unicef")) == (
        f"There is no tag {FSI}@&lt;b&gt;wsh&lt;/b&gt;{PDI}. Tags here: @wash, @&lt;i&gt;unicef."
    )
    many = tuple(f"t{n}" for n in range(45))
    listed = say(TagChange.UNKNOWN, "x" * 50, many)
    assert listed.startswith(f"There is no tag {FSI}@{'x' * 39}…{PDI}. Tags here: @t0, @t1,")
    assert listed.endswith("@t39.")  # at most 40 named
    assert say(TagChange.UNKNOWN, "x") == f"There is no tag {FSI}@x{PDI}. Tags here: —."
    assert say(TagChange.NO_TAGS) == "No tag groups are enabled in this group."
    assert say(TagChange.RESERVED) == (
        "Everyone is in @all and @moderators reaches every moderator; you cannot leave them."
    )


def test_status_reports_the_database_sweeps_replicas_and_each_group() -> None:
    failed = SweepRunRow(
        name="deadline-dispatch",
        every_s=600,
        replica="host:1:a",
        started_at=NOW - timedelta(minutes=5),
        ok=False,
        error="boom <x>",
    )
    replica = ReplicaRow(id="host:1:a", role="polling", last_update_at=NOW - timedelta(seconds=10))
    status = Status(
        replica="host:1:a",
        role="polling",
        started_at=NOW - timedelta(days=1, hours=2),
        last_update_at=None,
        now=NOW,
        database=DatabaseUp(
            revision="0042",
            head="0043",
            outbox=OutboxCounts(due=1, later=2, sending=0, maybe_twice=0),
            sweeps=[
                SweepState("deadline-dispatch", timedelta(minutes=10), failed),
                SweepState("lifecycle", timedelta(hours=1), None),
            ],
            replicas=[replica],
        ),
        groups=[
            GroupCheck("<b>IM</b> Kyiv", is_admin=True),
            GroupCheck("Odesa", is_admin=True, missing=["can_delete_messages"]),
            GroupCheck("Lviv", status="left", missing=["can_restrict_members", "can_invite_users"]),
            GroupCheck("Kharkiv", error="Chat not found"),
        ],
    )
    assert status_text(status) == "\n".join(
        [
            f"<b>Status</b> of {FSI}host:1:a{PDI} ({FSI}polling{PDI}), up 1 day 2 hours",
            "<b>Last update received here:</b> never",
            f"🟢 <b>Database:</b> reachable, schema {FSI}0042{PDI} (this program: {FSI}0043{PDI})",
            "<b>Reminders waiting:</b> 1 due now, 2 later, 0 being sent",
            "<b>Possibly sent twice</b> (a sender died mid-send): 0",
            "<b>Sweeps</b> (last run → next):",
            f"• ❌ {FSI}deadline-dispatch{PDI}: 5 minutes ago by {FSI}host:1:a{PDI} → in 5 minutes:"
            f" {FSI}boom &lt;x&gt;{PDI}",
            f"• {FSI}lifecycle{PDI}: not run yet",
            "<b>Replicas running:</b> 1",
            f"• {FSI}host:1:a{PDI} ({FSI}polling{PDI}), last update just now",
            "<b>Groups:</b>",
            f"• ✅ {FSI}&lt;b&gt;IM&lt;/b&gt; Kyiv{PDI}: admin with every right I need",
            f"• ⚠️ {FSI}Odesa{PDI}: admin, but missing {FSI}delete messages{PDI}",
            f"• ❌ {FSI}Lviv{PDI}: I am {FSI}not in the group{PDI}, not an admin"
            f" (I need {FSI}restrict members, invite users{PDI})",
            f"• ❌ {FSI}Kharkiv{PDI}: cannot check ({FSI}Chat not found{PDI})",
        ]
    )


def test_status_says_why_the_database_is_unreachable() -> None:
    status = Status(
        replica="host:2:b",
        role="standby",
        started_at=NOW - timedelta(minutes=30),
        last_update_at=NOW - timedelta(minutes=3),
        now=NOW,
        database=DatabaseDown("connection <refused>"),
        groups=[],
    )
    assert status_text(status) == (
        f"<b>Status</b> of {FSI}host:2:b{PDI} ({FSI}standby{PDI}), up 30 minutes\n"
        "<b>Last update received here:</b> 3 minutes ago\n"
        f"🔴 <b>Database:</b> unreachable ({FSI}connection &lt;refused&gt;{PDI})\n"
        "<b>Groups:</b>"
    )


def test_ask_names_the_requester_their_organisation_and_note_escaped() -> None:
    asking = Ask(12, "<b>Ivan</b>", "UNICEF", colleague="Olena", note="hi & <i>bye</i>")
    assert ask_text(asking) == (
        f"<b>{FSI}&lt;b&gt;Ivan&lt;/b&gt;{PDI}</b> ({FSI}UNICEF{PDI}) asks to be put in touch "
        f"with {FSI}Olena{PDI} of your organisation; as its focal point, would you share your "
        "own details?\n"
        f"Their note: “{FSI}hi &amp; &lt;i&gt;bye&lt;/i&gt;{PDI}”\n"
        "Tap the details to choose what to send (✓ = sent). Nothing is sent unless you tap "
        "“Share with this person”. Request #12."
    )
    assert ask_text(Ask(3, "Ivan", "", colleague=None, note="")) == (
        f"<b>{FSI}Ivan{PDI}</b> asks to be put in touch with you.\n"
        "Tap the details to choose what to send (✓ = sent). Nothing is sent unless you tap "
        "“Share with this person”. Request #3."
    )


def test_leaving_speaks_to_the_member_or_about_them_by_name() -> None:
    policy = Policy(timezone=KYIV)
    day, asked = date(2027, 3, 20), datetime(2027, 3, 20, 8, tzinfo=UTC)  # 10:00 in Kyiv
    assert departure_recorded(Departure(None, day, asked), policy) == (
        "Understood: you leave the country on <b>Saturday, 20 March 2027</b>. On that day "
        "(Sat, 20 Mar 2027, 10:00 Kyiv time) I will ask you whether you keep supporting "
        "colleagues in the country. Send /leaving cancel if your plans change."
    )
    assert departure_recorded(Departure("<b>Ivan</b>", day, asked), policy) == (
        f"Understood: {FSI}&lt;b&gt;Ivan&lt;/b&gt;{PDI} leaves the country on <b>Saturday, "
        "20 March 2027</b>. I will ask them privately on that day (Sat, 20 Mar 2027, 10:00 "
        "Kyiv time)."
    )
    assert departure_recorded(Departure(None, None), policy) == (
        "Done: no departure date on record."
    )
    assert departure_recorded(Departure("<b>Ivan</b>", None), policy) == (
        f"Done: no departure date on record for {FSI}&lt;b&gt;Ivan&lt;/b&gt;{PDI}."
    )
    assert departure_set_by_moderator(day) == (
        "A moderator recorded that you leave the country on <b>Saturday, 20 March 2027</b>. "
        "If that is wrong, send me /leaving DATE or /leaving cancel."
    )


def test_leaving_without_a_date_and_for_someone_not_in_the_group() -> None:
    assert not_a_member("<IM>", "<b>Ivan</b>") == (
        f"{FSI}&lt;b&gt;Ivan&lt;/b&gt;{PDI} is not a member of {FSI}&lt;IM&gt;{PDI}."
    )
    assert not_a_member("IM Kyiv", None) == f"You are not a member of {FSI}IM Kyiv{PDI}."
    assert departure_prompt(date(2027, 3, 20)) == (
        "Departure date on record: Saturday, 20 March 2027. Send /leaving DATE to change it or "
        "/leaving cancel to remove it."
    )
    assert departure_prompt(None) == (
        "Tell me the day you leave the country, e.g. /leaving 2026-12-20, /leaving 20 Dec or "
        "/leaving in 3 weeks."
    )


def test_a_report_entry_names_reporters_their_dismissed_reports_and_each_decision() -> None:
    entry = ReportEntry(
        group="Ukraine IM",
        author="<b>Spam</b>",
        link="https://t.me/c/123/45",
        excerpt="buy <now>",
        reporters=(ReportReporter("Olena", 0), ReportReporter("Petro", 2)),
        hidden=True,
        decisions=(ReportDecision("warn", "Mira", "1 Mar 2027, 14:00 Kyiv time"),),
    )
    lines = report_text(entry).split("\n")
    assert lines[0] == (
        f"🚩 Reported in {FSI}Ukraine IM{PDI}: a message by {FSI}&lt;b&gt;Spam&lt;/b&gt;{PDI}"
        ' (<a href="https://t.me/c/123/45">open</a>)'
    )
    assert lines[1] == f"“{FSI}buy &lt;now&gt;{PDI}”"
    assert lines[2] == (
        f"Reported by 2 members: {FSI}Olena{PDI}, {FSI}Petro{PDI} (2 reports dismissed before)"
    )
    assert lines[3] == "Hidden pending review: the message was deleted after the reports."
    assert lines[4] == f"Warned by {FSI}Mira{PDI}, {FSI}1 Mar 2027, 14:00 Kyiv time{PDI}"
    # A basic group's message has no link; no text, one reporter, nothing decided yet.
    bare = replace(
        entry, link=None, excerpt="", reporters=entry.reporters[:1], hidden=False, decisions=()
    )
    assert report_text(bare).split("\n") == [
        f"🚩 Reported in {FSI}Ukraine IM{PDI}: a message by {FSI}&lt;b&gt;Spam&lt;/b&gt;{PDI}",
        "(no text)",
        f"Reported by 1 member: {FSI}Olena{PDI}",
    ]


def test_help_names_the_basics_then_each_topic_and_start_greets_by_name_escaped() -> None:
    whois = CommandSpec("whois", "A member's introduction", usage="@username | name (or reply)")
    plan = HelpPlan(
        basics=[whois],
        topics={
            Topic.DEADLINES: [CommandSpec("deadlines", "x"), CommandSpec("submitted", "y")],
            Topic.MODERATION: [CommandSpec("warn", "Warn a member", Role.MODERATOR)],
        },
    )
    basics = [
        "<b>Commands you can use here</b>",
        f"/whois {FSI}@username | name (or reply){PDI} — {FSI}A member&#x27;s introduction{PDI}",
        "More, by topic: send /help and a topic, or tap a button.",
        f"• <b>{FSI}Deadlines{PDI}</b> (/help deadlines): /deadlines /submitted",
        f"• <b>{FSI}Moderation{PDI}</b> (/help moderation): /warn",
    ]
    assert help_text(plan, Role.MODERATOR, Where.GROUP) == "\n".join(
        [
            *basics,
            "Write to me privately for the commands that work there.",
            "You are a moderator, so moderator commands are included.",
        ]
    )
    assert help_text(HelpPlan([whois], {}), Role.MEMBER, Where.PRIVATE) == "\n".join(basics[:2])
    assert start_text("<b>Olena</b>", plan, Role.MEMBER) == (
        f"Hello {FSI}&lt;b&gt;Olena&lt;/b&gt;{PDI}! I help run the <b>information management "
        "community group</b>: I know who sponsored whom, make sure newcomers are introduced, "
        "and keep the member list up to date. Send /language to choose the language I write "
        "to you in.\n\n" + "\n".join(basics)
    )
    assert topic_text(plan, Topic.MODERATION) == (
        f"<b>{FSI}Moderation{PDI}</b>\n/warn — {FSI}Warn a member{PDI}\n"
        "Send /help to see every topic."
    )
    markup = topic_buttons(plan, Topic.MODERATION)
    assert markup is not None
    assert [[(b.text, b.callback_data) for b in row] for row in markup.inline_keyboard] == [
        [("Deadlines", "help:deadlines"), ("All topics", "help:all")]
    ]
    assert topic_buttons(HelpPlan([whois], {}), None) is None
