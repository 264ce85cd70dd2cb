"""/deadline add|edit|pause|resume|remove through the simulator, clock-driven, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from config.loader import LoadedConfig
from handlers.common import NOT_A_MODERATOR
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.deadlines import DeadlineRepository
from storage.models import DeadlineChange, DeadlineRow, ReminderOutbox, Submission
from tests.conftest import GROUP_ID, MODERATOR_ID
from tests.test_deadlines import SITREP, outbox, partner, reminders, run_until

# "every Friday 12:00" from Mon 23 Nov 2026: Fri, 27 Nov 2026, 12:00 Kyiv = 10:00 UTC.
FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
WEEKLY = ["wash-3w", "WASH 3W inputs", "https://example.org/3w", "clusters: WASH"]
FRIDAYS = [*WEEKLY, "every Friday 12:00", "Europe/Kyiv", "1d, 2h, overdue 1h"]


def mira(sim: Simulator) -> FakeUser:
    return sim.telegram.users[MODERATOR_ID]


async def say(sim: Simulator, user: FakeUser, text: str) -> str:
    """``text`` privately; the one reply's text."""
    mark = sim.mark()
    await sim.dm(user, text)
    return sim.unique_reply(mark, user.id).text


async def add(sim: Simulator, answers: list[str], save: bool = True) -> str:
    """Go through /deadline add with ``answers``; returns the summary shown before saving."""
    moderator = mira(sim)
    await say(sim, moderator, "/deadline add")
    reply = ""
    for answer in answers:
        reply = await say(sim, moderator, answer)
    assert "Please check the new deadline" in reply, reply
    if save:
        mark = sim.mark()
        await sim.press(moderator, sim.last(MODERATOR_ID), "Save")
        assert "Saved" in sim.unique_reply(mark, MODERATOR_ID).text
    return reply


def row(sim: Simulator, deadline_id: str) -> DeadlineRow | None:
    with sim.services.db.transaction() as session:
        return session.get(DeadlineRow, deadline_id)


def counts(sim: Simulator) -> tuple[int, int, int]:
    with sim.services.db.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(DeadlineRow)) or 0,
            session.scalar(select(func.count()).select_from(DeadlineChange)) or 0,
            session.scalar(select(func.count()).select_from(ReminderOutbox)) or 0,
        )


async def test_add_shows_summary_and_next_dates_then_reminds_on_time(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    summary = await add(sim, FRIDAYS)
    assert "Who: WASH" in summary
    assert "When: every Friday at 12:00 Kyiv time" in summary
    assert "Reminders: 1 day before, 2 hours before, an overdue note 1 hour after" in summary
    next_three = (
        "Fri, 27 Nov 2026, 12:00 Kyiv time; Fri, 4 Dec 2026, 12:00 Kyiv time; "
        "Fri, 11 Dec 2026, 12:00 Kyiv time"
    )
    assert f"Next: {next_three}" in summary
    saved = row(sim, "wash-3w")
    assert saved is not None and saved.source == "command" and saved.updated_by == MODERATOR_ID
    assert saved.rule == "FREQ=WEEKLY;BYDAY=FR;BYHOUR=12;BYMINUTE=0"
    assert (saved.remind, saved.overdue_after_s, saved.timezone) == (
        "86400,7200",
        3600,
        "Europe/Kyiv",
    )
    with sim.services.db.transaction() as session:
        assert [c.action for c in DeadlineRepository(session).changes("wash-3w")] == ["add"]
    await run_until(sim, FRIDAY - timedelta(days=1) - timedelta(minutes=1))
    assert reminders(sim, alice, "WASH 3W inputs") == []
    await run_until(sim, FRIDAY - timedelta(days=1) + timedelta(minutes=1))
    sent = reminders(sim, alice, "WASH 3W inputs")
    assert len(sent) == 1 and "due Fri, 27 Nov 2026, 12:00 Kyiv time" in sent[0]
    assert "https://example.org/3w" in sent[0]
    mark = sim.mark()
    await sim.dm(alice, "/deadlines")
    assert "• wash-3w WASH 3W inputs: every Friday" in sim.unique_reply(mark, alice.id).text


async def test_friendly_forms_and_rrule_are_accepted(sim: Simulator) -> None:
    for number, (schedule, expected) in enumerate(
        [
            ("every other Wednesday 12:00 from 2026-12-02", "every other Wednesday at 12:00"),
            ("5th of each month 17:00", "the 5th of every month at 17:00"),
            ("2026-12-20 12:00", "once, on Sun, 20 Dec 2026 at 12:00"),
            ("every Monday 10:00", "every Monday at 10:00"),
            ("FREQ=MONTHLY;BYDAY=+1TU;BYHOUR=14;BYMINUTE=0", "the 1st Tuesday of every month"),
        ]
    ):
        answers = [f"d{number}", "Title", "Some text", "everyone", schedule, "UTC", "none"]
        summary = await add(sim, answers, save=False)
        assert f"When: {expected}" in summary, summary
        await say(sim, mira(sim), "/cancel")
    assert counts(sim)[1] == 0  # nothing was saved


async def test_every_bad_answer_is_explained_and_nothing_is_stored(sim: Simulator) -> None:
    moderator = mira(sim)
    before = counts(sim)
    await say(sim, moderator, "/deadline add")
    for text, expected in [
        ("sit rep", "is not a valid deadline id"),
        ("<b>x</b>", "is not a valid deadline id"),
        ("sitrep", "already used"),
        ("new-one", "What is its title?"),
        (" ", "Please type the title"),
        ("x" * 101, "Too long (101/100 characters)"),
        ("<i>Fancy</i> title", "description or link"),
        ("A" * 1001, "Too long (1001/1000 characters)"),
        ("short", "Who must submit?"),
        ("clusters: Space", "Space is not one of the configured clusters"),
        ("people: @nobody_here", "I don't know @nobody_here"),
        ("whatever", "Send “everyone”"),
        ("clusters: wash", "When is it due?"),
        ("every year on 31 February 12:00", "February has no day 31"),
        ("2027-02-31 12:00", "2027-02-31 is not a date that exists"),
        ("31st of each month 12:00", "not every month has a day 31"),
        ("FREQ=HOURLY;BYHOUR=1", "FREQ=HOURLY is not supported"),
        ("FREQ=WEEKLY;BYDAY=XX;BYHOUR=12", "invalid recurrence rule"),
        ("2020-01-01 12:00", "no date after now"),
        ("every Monday", "add a time of day"),
        ("blah blah 12:00", "I could not read that schedule"),
        ("every Monday 10:00", "time zone"),
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("Europe/Kyiv", "reminded"),
        ("8d", "reminder offset 8 days is not shorter than the time between two occurrences"),
        ("2d, overdue 8d", "reminder offset 8 days is not shorter"),
        ("tomorrow", "tomorrow is not a duration"),
        ("overdue", "say how long after the deadline"),
    ]:
        reply = await say(sim, moderator, text)
        assert expected in reply, (text, reply)
        assert "<b>x</b>" not in sim.last(MODERATOR_ID).html  # typed text is escaped
    assert counts(sim) == before
    assert "Cancelled; nothing was saved" in await say(sim, moderator, "/cancel")
    assert counts(sim) == before
    assert row(sim, "new-one") is None


async def test_non_moderators_and_group_chats_are_refused(sim: Simulator) -> None:
    ivan = sim.user("Ivan", username="ivan_k")
    sim.telegram.started.add(ivan.id)
    before = counts(sim)
    for text in ["/deadline add", "/deadline remove sitrep", "/deadline pause sitrep"]:
        assert await say(sim, ivan, text) == NOT_A_MODERATOR
    mark = sim.mark()
    await sim.say(ivan, "/deadline add")
    assert sim.unique_reply(mark, GROUP_ID).text == NOT_A_MODERATOR
    mark = sim.mark()
    await sim.say(mira(sim), "/deadline add")
    assert "in a private chat" in sim.unique_reply(mark, GROUP_ID).text
    # A forged "Remove" button from a member changes nothing.
    await say(sim, mira(sim), "/deadline remove sitrep")
    confirm = sim.last(MODERATOR_ID)
    data = next(b["callback_data"] for b in confirm.buttons() if b["text"] == "Remove")
    await sim.feed(sim.telegram.forged_press(ivan.id, MODERATOR_ID, confirm.message_id, data))
    answers = [c.get("text") for c in sim.telegram.calls_to("answerCallbackQuery")]
    assert NOT_A_MODERATOR in answers
    assert counts(sim) == before
    saved = row(sim, "sitrep")
    assert saved is not None and saved.removed_at is None
    for text, expected in [
        ("/deadline", "Usage: /deadline add"),
        ("/deadline edit", "Usage: /deadline add"),
        ("/deadline fly sitrep", "Usage: /deadline add"),
        ("/deadline edit <b>", "is not a valid deadline id"),
        ("/deadline edit nope", "There is no deadline nope"),
    ]:
        assert expected in await say(sim, mira(sim), text), text


async def test_schedule_edit_moves_future_reminders_and_keeps_the_past(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await add(sim, FRIDAYS)
    # The first Friday's reminders go out, and it passes.
    await run_until(sim, FRIDAY + timedelta(hours=2))
    first = {
        r.kind: r.status for r in outbox(sim, alice.id, "wash-3w") if r.occurrence_at == FRIDAY
    }
    assert first == {"before:86400": "sent", "before:7200": "sent", "overdue": "sent"}
    # Thursday 3 Dec, 10:00 UTC: the 1-day reminder for Fri 4 Dec has just gone out.
    await run_until(sim, FRIDAY + timedelta(days=6, minutes=1))
    second = FRIDAY + timedelta(days=7)
    assert len(reminders(sim, alice, "WASH 3W inputs")) == 4
    history = {(r.id, r.status, r.due_at) for r in outbox(sim, alice.id, "wash-3w")}
    moderator = mira(sim)
    await say(sim, moderator, "/deadline edit wash-3w")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Schedule")
    summary = await say(sim, moderator, "every Friday 15:00")
    assert "Next: Fri, 4 Dec 2026, 15:00" in summary
    mark = sim.mark()
    await sim.press(moderator, sim.last(MODERATOR_ID), "Save")
    assert "adjusted to the new schedule" in sim.unique_reply(mark, MODERATOR_ID).text
    rows = outbox(sim, alice.id, "wash-3w")
    # Past occurrence and the sent reminder: untouched.
    for r in rows:
        if (r.id, r.status, r.due_at) not in history:
            assert r.occurrence_at > sim.clock.now()
    old = {r.kind: (r.status, r.note) for r in rows if r.occurrence_at == second}
    assert old["before:86400"][0] == "sent"
    assert old["before:7200"] == ("cancelled", "cancelled by a schedule change")
    moved = second + timedelta(hours=3)
    await run_until(sim, moved - timedelta(days=1))
    rows = outbox(sim, alice.id, "wash-3w")
    # The moved occurrence is a new one, planned as usual once its first reminder is due.
    new = {r.kind: r.status for r in rows if r.occurrence_at == moved}
    assert new == {"before:86400": "sent", "before:7200": "pending", "overdue": "pending"}
    keys = [(r.occurrence_at, r.user_id, r.kind) for r in rows]
    assert len(keys) == len(set(keys))
    await run_until(sim, moved + timedelta(hours=2))
    texts = reminders(sim, alice, "WASH 3W inputs")
    assert len(texts) == 7  # each reminder of the moved deadline once, at its new time
    assert "due Fri, 4 Dec 2026, 15:00 Kyiv time (in 1 day)" in texts[4]
    assert "due Fri, 4 Dec 2026, 15:00 Kyiv time (in 2 hours)" in texts[5]
    with sim.services.db.transaction() as session:
        actions = [c.action for c in DeadlineRepository(session).changes("wash-3w")]
    assert actions == ["add", "edit"]


async def test_dropping_then_restoring_an_offset_revives_the_reminder_once(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await add(sim, FRIDAYS)
    await run_until(sim, FRIDAY - timedelta(days=1) + timedelta(minutes=1))
    assert len(reminders(sim, alice, "WASH 3W inputs")) == 1
    moderator = mira(sim)

    def statuses() -> dict[str, str]:
        rows = outbox(sim, alice.id, "wash-3w")
        return {r.kind: r.status for r in rows if r.occurrence_at == FRIDAY}

    for offsets, expected in [
        ("1d", {"before:86400": "sent", "before:7200": "cancelled", "overdue": "cancelled"}),
        (
            "1d, 2h, overdue 1h",
            {"before:86400": "sent", "before:7200": "pending", "overdue": "pending"},
        ),
    ]:
        await say(sim, moderator, "/deadline edit wash-3w")
        await sim.press(moderator, sim.last(MODERATOR_ID), "Reminders")
        assert "Please check the changed deadline" in await say(sim, moderator, offsets)
        await sim.press(moderator, sim.last(MODERATOR_ID), "Save")
        await sim.run_sweeps()
        assert statuses() == expected
    await run_until(sim, FRIDAY + timedelta(hours=2))
    assert len(reminders(sim, alice, "WASH 3W inputs")) == 3
    assert set(statuses().values()) == {"sent"}


async def test_pause_sends_nothing_and_resume_does_not_burst(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    moderator = mira(sim)
    assert "is paused" in await say(sim, moderator, "/deadline pause sitrep")
    assert "already paused" in await say(sim, moderator, "/deadline pause sitrep")
    saved = row(sim, "sitrep")
    assert saved is not None and saved.paused and saved.source == "override"
    # Paused across both SitRep reminders (2 days and 3 hours before Wed 2 Dec 12:00 Kyiv).
    await run_until(sim, SITREP - timedelta(hours=2))
    assert reminders(sim, alice) == []
    mark = sim.mark()
    await sim.dm(alice, "/deadlines")
    assert "sitrep" not in sim.unique_reply(mark, alice.id).text
    assert "running again" in await say(sim, moderator, "/deadline resume sitrep")
    await sim.run_sweeps()
    sent = reminders(sim, alice)
    assert len(sent) == 1 and "(in 2 hours)" in sent[0]  # only the newest missed reminder
    await run_until(sim, SITREP + timedelta(hours=4))
    assert len(reminders(sim, alice)) == 2  # and the overdue note, nothing else
    assert "is not paused" in await say(sim, moderator, "/deadline resume sitrep")


async def test_resume_long_after_gives_one_catch_up_note(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    moderator = mira(sim)
    await say(sim, moderator, "/deadline pause sitrep")
    await run_until(sim, SITREP - timedelta(hours=20))
    await say(sim, moderator, "/deadline resume sitrep")
    await sim.run_sweeps()
    sent = reminders(sim, alice)
    assert len(sent) == 1 and "I could not send reminders for a while" in sent[0]


async def test_remove_cancels_pending_keeps_history_and_the_id(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await add(sim, FRIDAYS)
    await run_until(sim, FRIDAY - timedelta(days=1))
    message = [m for m in sim.telegram.sent(alice.id) if m.buttons()][-1]
    await sim.press(alice, message, "Submitted")
    moderator = mira(sim)
    await say(sim, moderator, "/deadline remove wash-3w")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Keep it")
    assert "Nothing was removed" in sim.last(MODERATOR_ID).text
    assert row(sim, "wash-3w").removed_at is None  # type: ignore[union-attr]
    # A week on: the next Friday's 1-day reminder has gone out, the others are pending.
    await run_until(sim, FRIDAY + timedelta(days=6))
    assert len(reminders(sim, alice, "WASH 3W inputs")) == 2
    await say(sim, moderator, "/deadline remove wash-3w")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Remove")
    assert "Removed" in sim.last(MODERATOR_ID).text
    # Alice's 2-hour reminder and overdue note, and the moderators' overdue digest.
    assert "3 pending reminders were cancelled" in sim.last(MODERATOR_ID).text
    rows = outbox(sim, alice.id, "wash-3w")
    assert sorted(r.status for r in rows if r.occurrence_at == FRIDAY) == [
        "cancelled",
        "cancelled",
        "sent",
    ]
    later = {r.kind: (r.status, r.note) for r in rows if r.occurrence_at > FRIDAY}
    assert later == {
        "before:86400": ("sent", None),
        "before:7200": ("cancelled", "deadline removed"),
        "overdue": ("cancelled", "deadline removed"),
    }
    with sim.services.db.transaction() as session:
        assert session.query(Submission).filter_by(deadline_id="wash-3w").count() == 1
        assert [c.action for c in DeadlineRepository(session).changes("wash-3w")] == [
            "add",
            "remove",
        ]
    await run_until(sim, FRIDAY + timedelta(days=8))
    assert len(reminders(sim, alice, "WASH 3W inputs")) == 2
    mark = sim.mark()
    await sim.dm(alice, "/deadlines")
    assert "wash-3w" not in sim.unique_reply(mark, alice.id).text
    mark = sim.mark()
    await sim.dm(alice, "/submitted wash-3w")
    assert "There is no deadline wash-3w" in sim.unique_reply(mark, alice.id).text
    await say(sim, moderator, "/deadline add")
    assert "already used" in await say(sim, moderator, "wash-3w")


async def test_named_people_get_reminders_and_answer_for_themselves(sim: Simulator) -> None:
    olena = sim.user("Olena", username="olena_im")
    sim.telegram.started.add(olena.id)
    await sim.dm(olena, "/start")  # not a partner of any cluster
    answers = ["ops", "Ops report", "x", "people: @olena_im", "every Friday 12:00", "UTC", "1d"]
    summary = await add(sim, answers)
    assert "Who: people: Olena" in summary
    friday = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    await run_until(sim, friday - timedelta(days=1))
    message = [m for m in sim.telegram.sent(olena.id) if m.buttons()][-1]
    assert "Ops report" in message.text
    await sim.press(olena, message, "Submitted")
    assert "is submitted for Olena" in sim.last(olena.id).text
    with sim.services.db.transaction() as session:
        assert [s.unit for s in session.query(Submission)] == [f"user:{olena.id}"]


async def test_config_deadline_override_survives_restart_until_the_file_changes(
    sim: Simulator,
) -> None:
    moderator = mira(sim)
    await say(sim, moderator, "/deadline edit sitrep")
    assert "comes from the configuration file" in sim.last(MODERATOR_ID).text
    await sim.press(moderator, sim.last(MODERATOR_ID), "Title")
    await say(sim, moderator, "SitRep inputs (chat)")
    await sim.press(moderator, sim.last(MODERATOR_ID), "Save")
    assert "comes from the configuration file" in sim.last(MODERATOR_ID).text
    # Restart with the same file: the chat's version stays.
    await sim.stop()
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    await restarted.start()
    try:
        saved = row(restarted, "sitrep")
        assert saved is not None and saved.title == "SitRep inputs (chat)"
        assert saved.source == "override"
    finally:
        await restarted.stop()
    # Restart after someone changed sitrep in the file: the file wins again.
    config = sim.services.config
    settings = config.settings
    changed = [
        d.model_copy(update={"title": "SitRep inputs v2"}) if d.id == "sitrep" else d
        for d in settings.deadlines
    ]
    edited = LoadedConfig(
        settings=settings.model_copy(update={"deadlines": changed}),
        path=config.path,
        environment=config.environment,
    )
    again = Simulator(edited, sim.clock, telegram=sim.telegram)
    await again.start()
    try:
        saved = row(again, "sitrep")
        assert saved is not None and saved.title == "SitRep inputs v2" and saved.source == "config"
    finally:
        await again.stop()
        await sim.start(migrate=False)  # the fixture stops it again


async def test_a_form_continues_after_a_restart_and_its_used_button_is_refused(
    sim: Simulator,
) -> None:
    """Forms are kept in the database: Save after a restart saves (it used to say the form was
    gone); the same Save pressed again, or a button of the form from before forms were kept
    there, is refused and stores nothing."""
    moderator = mira(sim)
    await add(sim, FRIDAYS, save=False)
    summary = sim.last(MODERATOR_ID)
    await sim.stop()
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    await restarted.start()
    try:
        mark = restarted.mark()
        await restarted.press(moderator, summary, "Save")
        assert "Saved" in restarted.unique_reply(mark, MODERATOR_ID).text
        assert row(restarted, "wash-3w") is not None
        before = counts(restarted)
        await restarted.press(moderator, summary, "Save")
        old = restarted.telegram.forged_press(
            MODERATOR_ID, MODERATOR_ID, summary.message_id, "dla:save"
        )
        await restarted.feed(old)
        answers = [c.get("text") for c in sim.telegram.calls_to("answerCallbackQuery")]
        assert "This form is no longer open." in answers
        assert "This form is no longer open; start again with /deadline." in answers
        assert restarted.since(mark, MODERATOR_ID)[1:] == []
        assert counts(restarted) == before
    finally:
        await restarted.stop()
        await sim.start(migrate=False)
