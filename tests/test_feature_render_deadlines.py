"""The deadlines' render functions on typed results, without a bot (README "Architecture"):
the /deadline form's summary and questions, /subscribe, the /deadlines board, /submitted and
the calendar subscription link; everything a user typed goes through ``esc``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.calendar_cards import FeedState, feed_buttons, feed_text, pressed
from handlers.deadline_admin import render as deadline_render
from handlers.partner_cards import (
    Board,
    BoardRow,
    Choice,
    Submitted,
    Subscribed,
    board_lines,
    cluster_question,
    organisation_question,
    submitted_reply,
    subscribed_text,
)
from moderation.deadlines import Audience, Deadline
from tests.render_support import FSI, KYIV, NOW, PDI

SITREP = Deadline(
    id="sitrep",
    title="<b>SitRep</b>",
    rule="FREQ=WEEKLY;BYDAY=FR",
    starts=datetime(2027, 1, 1, 12),
    timezone="Europe/Kyiv",
    remind=(timedelta(days=1),),
    audience=Audience(everyone=True),
)


def test_deadline_form_summary_questions_and_edit_menu() -> None:
    assert deadline_render.summary(SITREP, NOW, {}, adding=True) == "\n".join(
        [
            "Please check the new deadline:",
            "",
            f"<b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b> (<code>sitrep</code>)",
            f"Who: {FSI}every partner{PDI}",
            f"When: {FSI}every Friday at 12:00 Kyiv time{PDI}",
            f"Rule: <code>FREQ=WEEKLY;BYDAY=FR</code> from 1 Jan 2027 ({FSI}Europe/Kyiv{PDI})",
            f"Reminders: {FSI}1 day before{PDI}",
            f"Next: {FSI}Fri, 5 Mar 2027, 12:00 Kyiv time; Fri, 12 Mar 2027, 12:00 Kyiv time; "
            f"Fri, 19 Mar 2027, 12:00 Kyiv time{PDI}",
        ]
    )
    changed = deadline_render.summary(SITREP, NOW, {}, adding=False)
    assert changed.startswith("Please check the changed deadline:\n\n<b>")
    assert deadline_render.question("id") == (
        "Let's add a deadline. Send /cancel at any time to stop; nothing is saved before you "
        "confirm.\n\nWhat is its <b>id</b>? "
        f"{FSI}1–32 characters: lower-case letters, digits, &#x27;-&#x27; or &#x27;_&#x27; "
        f"(e.g. sitrep, 3w-inputs){PDI}"
    )
    assert deadline_render.question("title") == (
        "What is its <b>title</b>? (up to 100 characters, e.g. SitRep inputs)"
    )
    fields = ("title", "description", "audience", "schedule", "timezone", "remind")
    assert deadline_render.edit_buttons(fields) == [
        [("Title", "f:title"), ("Description", "f:description"), ("Who", "f:audience")],
        [("Schedule", "f:schedule"), ("Time zone", "f:timezone"), ("Reminders", "f:remind")],
        [("Cancel", "cancel")],
    ]


def test_subscribe_confirms_the_units_and_the_deadlines_that_concern_them() -> None:
    assert subscribed_text(Subscribed("WASH", "<UN>", [SITREP], NOW)) == (
        f"You are now a partner for {FSI}WASH{PDI} and {FSI}&lt;UN&gt;{PDI}.\n"
        "You will get reminders for:\n"
        f"• <b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b>: "
        f"{FSI}every Friday at 12:00 Kyiv time; next: Fri, 5 Mar 2027, 12:00 Kyiv time{PDI}"
    )
    assert subscribed_text(Subscribed(None, "UNICEF", [], NOW)) == (
        f"You are now a partner for {FSI}UNICEF{PDI}.\nNo deadline concerns you at the moment."
    )


def test_the_deadlines_board_marks_what_concerns_the_reader_and_what_they_answered() -> None:
    friday = datetime(2027, 3, 5, 10, tzinfo=UTC)  # 12:00 in Kyiv
    other = replace(SITREP, id="3w", title="3W <x>")
    board = Board(
        [
            BoardRow(SITREP, mine=True, occurrence=friday, answered=False),
            BoardRow(other, mine=True, occurrence=friday, answered=True),
            BoardRow(replace(other, id="hno"), mine=False, occurrence=None, answered=False),
        ],
        subscribed=True,
        now=NOW,
    )
    every = f"{FSI}every Friday at 12:00 Kyiv time; next: Fri, 5 Mar 2027, 12:00 Kyiv time{PDI}"
    due = f"{FSI}Fri, 5 Mar 2027, 12:00 Kyiv time{PDI}"
    assert board_lines(board) == [
        "<b>Deadlines</b> (• concern you)",
        f"• <code>sitrep</code> <b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b>: {every}"
        f" — {due}: not submitted yet",
        f"• <code>3w</code> <b>{FSI}3W &lt;x&gt;{PDI}</b>: {every} — {due}: ✅ answered",
        f"◦ <code>hno</code> <b>{FSI}3W &lt;x&gt;{PDI}</b>: {every}",
    ]
    unsubscribed = board_lines(replace(board, rows=[], subscribed=False))
    assert unsubscribed == ["<b>Deadlines</b> (send /subscribe to me privately to get reminders)"]


def test_submitted_says_whose_answer_was_recorded_or_why_not() -> None:
    friday = datetime(2027, 3, 5, 10, tzinfo=UTC)
    done = Submitted(SITREP, "user:7", friday, recorded=True, names={7: "<i>Olena</i>"})
    assert submitted_reply(done) == (
        f"Recorded: <b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b> "
        f"({FSI}Fri, 5 Mar 2027, 12:00 Kyiv time{PDI}) is submitted for "
        f"{FSI}&lt;i&gt;Olena&lt;/i&gt;{PDI}. No more reminders for it."
    )
    assert submitted_reply(replace(done, unit="cluster:WASH")).endswith(
        f"is submitted for {FSI}WASH (cluster){PDI}. No more reminders for it."
    )
    assert submitted_reply(replace(done, recorded=False)) == (
        f"{FSI}Already recorded for this deadline.{PDI} Nothing changed."
    )
    assert submitted_reply(replace(done, occurrence=None)) == (
        f"<b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b> has no occurrence any more."
    )
    assert submitted_reply(replace(done, unit=None)) == (
        f"<b>{FSI}&lt;b&gt;SitRep&lt;/b&gt;{PDI}</b> is not one of your deadlines. "
        "Send /subscribe to me privately to choose your cluster or organisation."
    )


def test_the_calendar_link_is_shown_once_escaped_and_otherwise_dated() -> None:
    issued = FeedState("issued", NOW, "https://bot.example/cal/<b>s3cret&x</b>.ics")
    assert feed_text(issued, KYIV) == (
        "Subscribe to the deadlines in Outlook or Google Calendar with this address; your "
        "calendar then follows every change by itself:\n"
        "<code>https://bot.example/cal/&lt;b&gt;s3cret&amp;x&lt;/b&gt;.ics</code>\n"
        "Keep it to yourself: anyone who has it sees the deadlines. I show it only now (I keep "
        'just a fingerprint of it). "New link" replaces it; "Stop the link" ends it.'
    )
    late = datetime(2027, 1, 5, 23, tzinfo=UTC)  # 6 Jan in Kyiv
    assert feed_text(FeedState("live", late), KYIV) == (
        "You have had a subscription link since 6 Jan 2027. I cannot show it again: I keep "
        'only a fingerprint of it. "New link" makes a new address and stops the old one.'
    )
    assert feed_text(FeedState("stopped", late), KYIV) == (
        'You stopped your subscription link on 6 Jan 2027. "New link" makes a new one.'
    )
    assert feed_text(FeedState("not_live"), KYIV) == "There was no link to stop."
    assert feed_text(FeedState("no_address"), KYIV) == (
        "The operator has not set a public address for the bot, so there is no subscription "
        "link; the file above is what I can send."
    )
    refused = "Subscription links are for members of the group and moderators."
    assert feed_text(FeedState("refused"), KYIV) == refused
    assert feed_buttons(7, FeedState("refused")) is None

    def buttons(markup: Any) -> list[tuple[str, str]]:
        return [(b.text, b.callback_data) for b in markup.inline_keyboard[0]]

    assert buttons(feed_buttons(7, issued)) == [
        ("New link", "cfeed:new:7"),
        ("Stop the link", "cfeed:stop:7"),
    ]
    assert buttons(feed_buttons(7, FeedState("stopped", late))) == [("New link", "cfeed:new:7")]
    # After a press: "Stop the link" says what stopping means; a refusal offers no buttons.
    text, markup = pressed(7, FeedState("stopped", NOW), KYIV)
    assert text == (
        "Stopped: calendar apps using that address get nothing more from it. "
        '"New link" makes a new one.'
    )
    assert buttons(markup) == [("New link", "cfeed:new:7")]
    assert pressed(7, FeedState("no_address"), KYIV) == (refused, None)
    assert pressed(7, issued, KYIV) == (feed_text(issued, KYIV), feed_buttons(7, issued))


def test_subscribe_questions_put_the_introductions_choice_first() -> None:
    text, keyboard = cluster_question(Choice(["WASH", "Health", "<Edu>"], chosen=2))
    assert text == (
        "Which <b>cluster</b> do you answer for?\n"
        f"Your introduction names {FSI}&lt;Edu&gt;{PDI}: it is marked ✓."
    )
    assert [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard] == [
        [("✓ <Edu>", "dlsub:c:2"), ("WASH", "dlsub:c:0")],  # a button is plain text
        [("Health", "dlsub:c:1")],
        [("No cluster", "dlsub:c:-1")],
    ]
    text, keyboard = organisation_question(Choice(["UNICEF"]), cluster_index=-1)
    assert text == "And which <b>organisation</b>?"
    assert [[(b.text, b.callback_data) for b in row] for row in keyboard.inline_keyboard] == [
        [("UNICEF", "dlsub:o:-1:0")],
        [("No organisation", "dlsub:o:-1:-1")],
    ]
