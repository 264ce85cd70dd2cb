"""The membership lifecycle end to end: check-ins, leaving, refusals by Telegram, the
moderators' /expiring and /readmit, and retention, driven by the clock through the fake Bot
API. Departures are in tests/test_lifecycle_departures.py; expiry, /extend and lost sponsors in
tests/test_lifecycle_expiry.py; the helpers in tests/lifecycle.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from handlers.lifecycle import render
from handlers.lifecycle.common import policy_of
from i18n import _, use_locale
from moderation.introductions import IntroStatus
from moderation.roster import MemberStatus
from simulation.faketg import FakeMember
from simulation.simulator import Simulator
from storage.contacts import ContactRepository
from storage.models import MembershipEvent, User
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.helpers import events, status
from tests.lifecycle import causes, member, mira, out_of_country, question, row_of, until
from tests.test_console import run_console
from tests.test_joins import intro_of, veteran
from tests.test_languages import choose


# --------------------------------------------------------------------------- check-ins
async def test_checkins_stale_list_and_answers(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/start")
    quiet = await veteran(sim, "Quiet")  # never started the bot
    olena = await member(sim, ivan, "Olena", "Petrenko")
    mark = sim.mark()
    await sim.advance(timedelta(days=89))
    assert not any("quick check" in m.text for m in sim.since(mark))
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))  # 90 days after joining, 09:05
    ask_ivan = sim.unique_reply(mark, ivan.id)
    assert "are you still working on the response in the country?" in ask_ivan.text
    group_note = [m for m in sim.since(mark, GROUP_ID) if "quick check" in m.text]
    assert len(group_note) == 1 and quiet.id in group_note[0].mentions
    assert ivan.id not in group_note[0].mentions
    # The deep link asks privately.
    await sim.dm(quiet, "/start checkin")
    assert "are you still working on the response" in sim.last(quiet.id).text
    await sim.press(ivan, ask_ivan, "Yes, still here")
    assert "I will ask again in about 90 days" in sim.last(ivan.id).text
    await sim.press(olena, question(sim, olena), "I am leaving soon")
    assert "/leaving DATE" in sim.last(olena.id).text
    await sim.advance(timedelta(days=14, minutes=5))
    mark = sim.mark()
    await sim.dm(mira(sim), "/stale")
    listing = sim.unique_reply(mark, MODERATOR_ID).text
    assert "Quiet Koval — asked Sun, 21 Feb 2027" in listing
    assert "Ivan Koval" not in listing and "Olena" not in listing
    assert "not removed automatically" in listing
    assert status(sim, quiet.id) is MemberStatus.MEMBER
    await sim.dm(ivan, "/stale")
    assert sim.last(ivan.id).text == "Sorry, only the group's moderators can use this command."


async def test_lifecycle_questions_follow_the_persons_language_choice(sim: Simulator) -> None:
    """Telegram in English, /language Français: the check-in and its buttons are in French."""
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await choose(sim, olena, "Français")
    mark = sim.mark()
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
    ask = question(sim, olena)
    assert ask in sim.since(mark, olena.id)
    with use_locale("fr"):
        expected = checkin_question(sim)
        labels = [_("Yes, still here"), _("I am leaving soon"), _("I have left the country")]
    assert ask.raw_text == expected
    assert [b["text"] for b in ask.buttons()] == labels
    await sim.press(olena, ask, labels[2])  # "I have left": the departure question, in French
    row = row_of(sim, olena.id)
    assert row is not None
    with use_locale("fr"):
        buttons = render.departure_buttons(row.id).inline_keyboard
    departure = question(sim, olena)
    assert [b["text"] for b in departure.buttons()] == [b.text for line in buttons for b in line]
    assert "Today is your departure date" not in departure.text


def checkin_question(sim: Simulator) -> str:
    group = sim.services.settings.groups[0]
    policy = policy_of(sim.services, group)
    return (
        render.checkin_question(group, policy, sim.clock.now())
        .replace("<b>", "")
        .replace("</b>", "")
    )


async def test_checkin_i_have_left_asks_the_departure_question(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "I have left the country")
    assert any("Today is your departure date" in m.text for m in sim.since(mark, olena.id))
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.REMOVED


async def test_checkin_removal_when_configured(config, clock) -> None:
    from dataclasses import replace

    settings = config.settings
    group = settings.groups[0]
    strict = group.model_copy(
        update={"membership": group.membership.model_copy(update={"checkin_removes": True})}
    )
    config = replace(config, settings=settings.model_copy(update={"groups": [strict]}))
    async with Simulator(config, clock) as sim:
        ivan = await veteran(sim)
        await until(sim, datetime(2027, 2, 21, 7, 5, tzinfo=UTC))
        assert status(sim, ivan.id) is MemberStatus.MEMBER
        await sim.advance(timedelta(days=14, minutes=5))
        assert status(sim, ivan.id) is MemberStatus.REMOVED
        assert "check-in: no answer" in causes(sim, ivan.id)
        assert not sim.errors


# --------------------------------------------------------------------------- leaving
async def test_leave_command_and_leaving_the_group_are_recorded_not_chased(
    sim: Simulator,
) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leave")
    await sim.press(olena, sim.last(olena.id), "No, I stay")
    assert status(sim, olena.id) is MemberStatus.MEMBER
    await sim.dm(olena, "/leave")
    mark = sim.mark()
    await sim.press(olena, sim.last(olena.id), "Yes, take me out")
    assert status(sim, olena.id) is MemberStatus.REMOVED
    assert sim.since(mark, GROUP_ID) == []  # no announcement for a voluntary leave
    assert "Done: you have left Ukraine IM community" in sim.last(olena.id).text
    removed = [e for e in events(sim, olena.id) if e.new_status == "removed"]
    assert removed[-1].cause == "voluntary" and removed[-1].actor_id == olena.id
    await sim.dm(olena, "/leave")
    assert sim.last(olena.id).text == "You are not a member of any group I run."
    # Leaving through Telegram is recorded and never chased.
    await sim.dm(ivan, "/start")
    await sim.leave(ivan)
    assert causes(sim, ivan.id)[-1] == "left"
    mark = sim.mark()
    await sim.advance(timedelta(days=120))
    assert sim.since(mark, ivan.id) == []


# --------------------------------------------------------------------------- refusals
async def test_removing_an_admin_is_reported_once(sim: Simulator) -> None:
    ivan = await veteran(sim)
    await sim.dm(ivan, "/leaving today")
    sim.group.members[ivan.id] = FakeMember("administrator")
    await sim.advance(timedelta(minutes=1))  # the admin check learns he is an admin
    assert status(sim, ivan.id) is MemberStatus.ADMIN
    await sim.press(ivan, question(sim, ivan), "No, I leave the group")
    refusals = [m for m in sim.telegram.sent(MODERATOR_ID) if "is an admin of the group" in m.text]
    assert len(refusals) == 1
    await sim.advance(timedelta(days=3))
    assert len([m for m in sim.telegram.sent(MODERATOR_ID) if "is an admin" in m.text]) == 1
    assert sim.telegram.calls_to("banChatMember") == []
    mark = sim.mark()
    await sim.dm(mira(sim), "/expiring")
    assert "refused by Telegram (protected)" in sim.unique_reply(mark, MODERATOR_ID).text


async def test_missing_right_reported_retried_daily_then_done(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    bot = sim.group.members[sim.telegram.bot.id]
    sim.group.members[sim.telegram.bot.id] = FakeMember(
        "administrator", rights={**bot.rights, "can_restrict_members": False}
    )
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.MEMBER
    assert any("could not remove members" in m.text for m in sim.since(mark, MODERATOR_ID))
    calls = len(sim.telegram.calls_to("banChatMember"))
    await sim.advance(timedelta(hours=6))
    assert len(sim.telegram.calls_to("banChatMember")) == calls  # no loop
    sim.group.members[sim.telegram.bot.id] = bot  # rights given back
    await sim.advance(timedelta(hours=19))
    assert status(sim, olena.id) is MemberStatus.REMOVED


async def test_already_gone_is_reported_and_the_roster_catches_up(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(olena, "/leaving today")
    sim.telegram.fail_next("banChatMember", 400, "Bad Request: user not found")
    mark = sim.mark()
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert any("no longer in it" in m.text for m in sim.since(mark, MODERATOR_ID))
    assert status(sim, olena.id) is MemberStatus.LEFT
    await sim.advance(timedelta(days=1))
    assert len(sim.telegram.calls_to("banChatMember")) == 1


# --------------------------------------------------------------------------- moderators
async def test_expiring_lists_what_is_coming(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await member(sim, ivan, "Sam", "Surge", category="Surge", extra=["14 Dec"])
    await out_of_country(sim, ivan)
    await sim.dm(olena, "/leaving 1 Dec")
    mark = sim.mark()
    await sim.dm(ivan, "/expiring")
    assert sim.unique_reply(mark, ivan.id).text.startswith("Sorry, only the group's moderators")
    await sim.dm(mira(sim), "/expiring")
    text = sim.unique_reply(mark, MODERATOR_ID).text
    assert "departures and expiries in the next 30 days" in text
    assert text.index("Olena Petrenko: leaves the country Tue, 1 Dec 2026") < text.index(
        "Sam Surge: surge / short mission until Mon, 14 Dec 2026; sponsor Ivan Koval"
    )
    assert "Otto" not in text  # ends in 8 weeks
    await sim.dm(mira(sim), "/expiring 60d")
    assert "Otto Remote: outside the country (sponsored) until Mon, 18 Jan 2027" in (
        sim.last(MODERATOR_ID).text
    )
    await sim.dm(mira(sim), "/expiring soon")
    assert "expected a duration" in sim.last(MODERATOR_ID).text


async def test_readmit_after_removal_gives_a_fresh_sponsored_link(sim: Simulator) -> None:
    moderator = mira(sim)
    sim.group.members[MODERATOR_ID] = FakeMember("creator")
    await sim.say(moderator, "Hello")
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    await sim.dm(moderator, "/readmit @olena")
    assert (
        sim.last(MODERATOR_ID).text == "Olena Petrenko is still a member of Ukraine IM community."
    )
    await sim.dm(olena, "/leaving today")
    await sim.press(olena, question(sim, olena), "No, I leave the group")
    assert status(sim, olena.id) is MemberStatus.REMOVED
    await sim.dm(ivan, "/readmit @olena")
    assert sim.last(ivan.id).text == "Sorry, only the group's moderators can use this command."
    mark = sim.mark()
    await sim.dm(moderator, "/readmit @olena")
    created = sim.telegram.calls_to("createChatInviteLink")[-1]
    assert created["member_limit"] == 1
    link = next(
        w
        for m in sim.since(mark, olena.id)
        for w in m.text.split()
        if w.startswith("https://t.me/+")
    )
    assert "I sent the link to Olena Petrenko." in sim.last(MODERATOR_ID).text
    assert any(c.startswith("moderator: readmission offered") for c in causes(sim, olena.id))
    await sim.join(olena, link=link)
    intro = intro_of(sim, olena.id)
    assert intro is not None and intro.status is IntroStatus.PENDING
    assert intro.sponsor_id == MODERATOR_ID and intro.full_name == "Olena Petrenko"
    assert intro.sponsor_done_at is not None  # pre-filled from the former introduction
    await sim.advance(timedelta(minutes=15))
    row = row_of(sim, olena.id)
    assert row is not None and row.removal_cause is None  # a new admission starts afresh


# --------------------------------------------------------------------------- retention
async def test_former_members_personal_data_is_erased_after_retention(sim: Simulator) -> None:
    ivan = await veteran(sim)
    olena = await member(sim, ivan, "Olena", "Petrenko")
    with sim.services.db.transaction() as session:
        assert ContactRepository(session).by_user(olena.id) is not None  # pre-filled
    await sim.leave(olena)
    await sim.advance(timedelta(days=364))
    with sim.services.db.transaction() as session:
        assert session.get(User, olena.id) is not None
    await sim.advance(timedelta(days=2))
    with sim.services.db.transaction() as session:
        assert session.get(User, olena.id) is None
        assert ContactRepository(session).by_user(olena.id) is None
        assert session.get(User, ivan.id) is not None  # present members are kept
    assert intro_of(sim, olena.id) is None
    assert events(sim, olena.id) == []
    with sim.services.db.transaction() as session:
        anonymous = session.query(MembershipEvent).filter(MembershipEvent.user_id == 0).all()
        assert len(anonymous) == 1 and anonymous[0].new_status == "erased"
        assert "Olena" not in anonymous[0].cause and "retention" in anonymous[0].cause


def test_console_shows_the_lifecycle(tmp_path: Path) -> None:
    output = run_console(
        tmp_path,
        [
            ":as ivan",
            ":dm",
            "/start",
            "/invite",
            "Olena Petrenko",
            "UNICEF",
            "WASH IMO",
            ":press 1",
            ":press 1",
            ":press 1",
            ":press 1",
            ":join olena 1",
            ":as olena",
            ":dm",
            "/start confirm_1",
            ":press 1",
            "/leaving in 3 days",
            ":clock +3d",
            ":press 1",
            "in 4 weeks",
            ":press 1",
            ":as ivan",
            ":press 1",
            ":as mira",
            "/expiring 60d",
            ":clock +21d",
            ":as ivan",
            ":press 2",
            ":clock +7d",
            ":roster",
            ":quit",
        ],
    )
    assert "you leave the country on Thursday, 26 November 2026" in output
    assert "Today is your departure date for Ukraine IM community" in output
    assert "Olena Petrenko: outside the country (sponsored) until Thu, 24 Dec 2026" in output
    assert "/extend Olena Petrenko 30d" in output
    assert "time-limited membership ended today" in output
    assert "Olena (@—) — removed, joined by invite_link" in output
    assert "the bot raised" not in output
