"""Deadline reminders through the simulator: subscribe, remind, buttons, outbox exactly-once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.common import NOT_A_MODERATOR
from handlers.deadlines import plan_outbox
from simulation.faketg import FakeUser
from simulation.simulator import Simulator
from storage.deadlines import DeadlineRepository
from storage.models import ReminderOutbox, Submission
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID, MODERATOR_ID

# SitRep inputs: every other Wednesday 12:00 Kyiv (10:00 UTC in winter) from 2 Dec 2026,
# reminders 2d and 3h before, overdue 3h after. The clock starts Mon, 23 Nov 2026, 09:00 UTC.
SITREP = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


async def partner(
    sim: Simulator, name: str, cluster: str = "WASH", org: str = "UNICEF"
) -> FakeUser:
    user = sim.user(name, username=f"{name.lower()}_im")
    sim.telegram.started.add(user.id)
    await sim.dm(user, "/start")
    mark = sim.mark()
    await sim.dm(user, "/subscribe")
    question = sim.unique_reply(mark, user.id)
    assert "cluster" in question.text
    await sim.press(user, question, cluster)
    await sim.press(user, sim.last(user.id), org)
    return user


async def run_until(sim: Simulator, when: datetime) -> None:
    """Keep the bot running until ``when``: the sweeps run at every moment one of them has work
    (a reminder falls due, a retry or a lease comes round) and at ``when``, as the job queue
    would run them (not every half hour of a week: most of the suite's time went there)."""
    if sim.clock.now() < when:
        await sim.advance_through(when - sim.clock.now())


def reminders(sim: Simulator, user: FakeUser, title: str = "SitRep inputs") -> list[str]:
    return [
        m.text
        for m in sim.telegram.sent(user.id)
        if title in m.text and "Press Submitted when you have sent it" in m.text
    ]


def outbox(sim: Simulator, user_id: int, deadline: str = "sitrep") -> list[ReminderOutbox]:
    with sim.services.db.transaction() as session:
        return [r for r in DeadlineRepository(session).outbox(deadline) if r.user_id == user_id]


async def test_subscribe_records_partner_and_lists_deadlines(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    final = sim.last(alice.id)
    assert "You are now a partner for WASH and UNICEF" in final.text
    assert "every other Wednesday at 12:00 Kyiv time; next: Wed, 2 Dec 2026, 12:00" in final.text
    with sim.services.db.transaction() as session:
        saved = DeadlineRepository(session).partner(alice.id)
        assert saved is not None and (saved.cluster, saved.organisation) == ("WASH", "UNICEF")
    mark = sim.mark()
    await sim.dm(alice, "/deadlines")
    listing = sim.unique_reply(mark, alice.id).text
    assert "• sitrep SitRep inputs" in listing
    assert "◦ displacement" in listing  # not for WASH


async def test_reminder_at_the_right_time_once_with_buttons_and_submitted_stops_it(
    sim: Simulator,
) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2) - timedelta(minutes=1))
    assert reminders(sim, alice) == []
    await run_until(sim, SITREP - timedelta(days=2) + timedelta(minutes=1))
    sent = reminders(sim, alice)
    assert len(sent) == 1
    assert "due Wed, 2 Dec 2026, 12:00 Kyiv time (in 2 days)" in sent[0]  # sent when due
    message = [m for m in sim.telegram.sent(alice.id) if m.buttons()][-1]
    labels = [b["text"] for b in message.buttons()]
    assert labels == ["✅ Submitted", "⏰ Snooze 2 hours", "Not applicable this time"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in message.buttons())
    # Running the dispatcher again sends nothing new.
    await sim.run_sweeps()
    assert len(reminders(sim, alice)) == 1
    await sim.press(alice, message, "Submitted")
    assert "is submitted for WASH (cluster)" in sim.last(alice.id).text
    with sim.services.db.transaction() as session:
        subs = session.query(Submission).all()
        assert [(s.deadline_id, s.occurrence_at, s.unit) for s in subs] == [
            ("sitrep", SITREP, "cluster:WASH")
        ]
    await run_until(sim, SITREP + timedelta(hours=4))
    assert len(reminders(sim, alice)) == 1  # neither the 3h reminder nor the overdue note
    rows = {r.kind: r.status for r in outbox(sim, alice.id) if r.occurrence_at == SITREP}
    assert rows == {"before:172800": "sent", "before:10800": "cancelled", "overdue": "cancelled"}


async def test_submission_counts_for_the_whole_cluster(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    bogdan = await partner(sim, "Bogdan", org="NRC")
    await run_until(sim, SITREP - timedelta(days=1))
    mark = sim.mark()
    await sim.dm(bogdan, "/submitted sitrep")
    assert "is submitted for WASH (cluster)" in sim.unique_reply(mark, bogdan.id).text
    await run_until(sim, SITREP + timedelta(hours=4))
    assert len(reminders(sim, alice)) == 1 and len(reminders(sim, bogdan)) == 1
    mark = sim.mark()
    await sim.dm(bogdan, "/submitted sitrep")
    assert "Already recorded" in sim.unique_reply(mark, bogdan.id).text


async def test_snooze_reminds_again_without_moving_the_deadline(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2))
    message = [m for m in sim.telegram.sent(alice.id) if m.buttons()][-1]
    await sim.press(alice, message, "Snooze")
    assert "again in 2 hours" in sim.last(alice.id).text
    await run_until(sim, SITREP - timedelta(days=2) + timedelta(hours=2))
    assert len(reminders(sim, alice)) == 2
    assert "due Wed, 2 Dec 2026, 12:00" in reminders(sim, alice)[-1]


async def test_not_applicable_and_buttons_of_others_are_refused(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    mallory = sim.user("Mallory")
    await run_until(sim, SITREP - timedelta(days=2))
    message = [m for m in sim.telegram.sent(alice.id) if m.buttons()][-1]
    data = message.buttons()[0]["callback_data"]
    await sim.feed(
        sim.telegram.forged_press(mallory.id, alice.id, message.message_id, data),
        sim.telegram.forged_press(alice.id, alice.id, message.message_id, "dl:s:99999"),
        sim.telegram.forged_press(alice.id, alice.id, message.message_id, "dl:x:<b>"),
    )
    answers = [c.get("text") for c in sim.telegram.calls_to("answerCallbackQuery")]
    assert "This reminder is not yours." in answers
    assert "This button is not valid any more." in answers
    with sim.services.db.transaction() as session:
        assert session.query(Submission).count() == 0
    await sim.press(alice, message, "Not applicable")
    assert "not applicable this time" in sim.last(alice.id).text
    with sim.services.db.transaction() as session:
        assert [s.status for s in session.query(Submission)] == ["not_applicable"]


async def test_restart_neither_loses_nor_repeats(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2))
    assert len(reminders(sim, alice)) == 1
    # A second bot process on the same database (or the same bot after a restart).
    other = Simulator(sim.services.config, sim.clock)
    other.telegram = sim.telegram
    other.app = sim.app
    await other.start()
    await other.run_sweeps()
    await sim.run_sweeps()
    assert len(reminders(sim, alice)) == 1
    await other.stop()


async def test_crash_after_claim_is_retried_after_the_lease(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2) - timedelta(minutes=1))
    sim.clock.advance(timedelta(minutes=1))
    with sim.services.db.transaction() as session:
        repo = DeadlineRepository(session)
        plan_outbox(sim.services, repo, sim.clock.now())
        # The process dies right after claiming.
        lease = timedelta(minutes=5)
        claimed = repo.claim(sim.clock.now(), 100, lease, "dead:1", lease * 2)
    assert [r.kind for r in claimed if r.user_id == alice.id] == ["before:172800"]
    await sim.run_sweeps()
    assert reminders(sim, alice) == []  # still leased to the dead process
    await sim.advance(timedelta(minutes=6))
    assert len(reminders(sim, alice)) == 1


async def test_downtime_gives_one_catch_up_note_not_a_flood(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    # The bot is down from now until 4 hours before the SitRep deadline: the 2-day reminder is
    # long stale, so one catch-up note replaces it.
    await sim.advance(SITREP - timedelta(hours=4) - sim.clock.now())
    sent = reminders(sim, alice)
    assert len(sent) == 1
    assert "I could not send reminders for a while" in sent[0]
    assert "(in 4 hours)" in sent[0]
    statuses = {r.kind: r.status for r in outbox(sim, alice.id) if r.occurrence_at == SITREP}
    assert statuses["before:172800"] == "sent"
    await run_until(sim, SITREP)
    assert len(reminders(sim, alice)) == 2  # the 3-hour reminder comes as planned


async def test_downtime_ending_just_before_the_deadline_sends_only_the_newest(
    sim: Simulator,
) -> None:
    alice = await partner(sim, "Alice")
    await sim.advance(SITREP - timedelta(hours=1) - sim.clock.now())
    sent = reminders(sim, alice)
    assert len(sent) == 1 and "(in 1 hour)" in sent[0]
    statuses = {r.kind: r.status for r in outbox(sim, alice.id) if r.occurrence_at == SITREP}
    assert statuses == {"before:172800": "merged", "before:10800": "sent", "overdue": "pending"}


async def test_missed_deadline_after_downtime_is_not_replayed(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await sim.advance(SITREP + timedelta(hours=12) - sim.clock.now())
    assert reminders(sim, alice) == []
    statuses = {r.status for r in outbox(sim, alice.id) if r.occurrence_at == SITREP}
    assert statuses <= {"skipped"}
    await sim.advance(timedelta(days=1))
    assert reminders(sim, alice) == []


async def test_retry_after_delays_and_never_drops(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2) - timedelta(minutes=1))
    sim.telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 40", 40)
    await sim.advance(timedelta(minutes=1))
    assert reminders(sim, alice) == []
    row = next(r for r in outbox(sim, alice.id) if r.kind == "before:172800")
    assert row.status == "pending" and row.not_before is not None
    await sim.advance(timedelta(seconds=20))
    assert reminders(sim, alice) == []
    await sim.advance(timedelta(seconds=30))
    assert len(reminders(sim, alice)) == 1


async def test_network_error_is_retried(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    await run_until(sim, SITREP - timedelta(days=2) - timedelta(minutes=1))
    sim.telegram.fail_next("sendMessage", 502, "Bad Gateway")
    await sim.advance(timedelta(minutes=1))
    assert reminders(sim, alice) == []
    await sim.advance(timedelta(minutes=1))
    assert len(reminders(sim, alice)) == 1


async def test_blocked_and_unstarted_partners_are_mentioned_in_the_group(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    bob = sim.user("Bob", username="bob_im")
    await sim.say(bob, "hello")  # the bot has seen Bob in the group, he never started it
    mira = sim.telegram.users[MODERATOR_ID]
    mark = sim.mark()
    await sim.dm(mira, "/assign @bob_im WASH")
    assert "is now a partner for WASH" in sim.unique_reply(mark, MODERATOR_ID).text
    await sim.feed(sim.telegram.block_bot(alice.id))
    await run_until(sim, SITREP - timedelta(days=2))
    digests = [m for m in sim.telegram.sent(GROUP_ID) if "SitRep inputs" in m.text]
    assert len(digests) == 1
    assert {alice.id, bob.id} <= set(digests[0].mentions)
    with sim.services.db.transaction() as session:
        user = RosterRepository(session).user(alice.id)
        assert user is not None and user.blocked_bot
    mark = sim.mark()
    await sim.dm(mira, "/missing sitrep")
    report = sim.unique_reply(mark, MODERATOR_ID).text
    assert "WASH (cluster): Alice" in report and "cannot be reached privately" in report
    assert "Health (cluster): no partner subscribed" in report


async def test_moderators_get_the_overdue_digest(sim: Simulator) -> None:
    await partner(sim, "Alice")
    await run_until(sim, SITREP + timedelta(hours=3))
    digest = [
        m
        for m in sim.telegram.sent(MODERATOR_ID)
        if m.text.startswith("Overdue") and "SitRep inputs" in m.text
    ]
    assert len(digest) == 1
    assert "WASH (cluster): Alice" in digest[0].text


async def test_admin_commands_and_bad_ids(sim: Simulator) -> None:
    alice = await partner(sim, "Alice")
    for text, expected in [
        ("/missing sitrep", NOT_A_MODERATOR),
        ("/assign @alice_im Health", NOT_A_MODERATOR),
        ("/submitted", "Usage: /submitted ID"),
        ("/submitted sit rep", "is not a valid deadline id"),
        ("/submitted <b>x</b>", "is not a valid deadline id"),
        ("/submitted nope", "There is no deadline nope"),
        ("/submitted displacement", "is not one of your deadlines"),
    ]:
        mark = sim.mark()
        await sim.dm(alice, text)
        assert expected in sim.unique_reply(mark, alice.id).text, text
    mira = sim.telegram.users[MODERATOR_ID]
    for text, expected in [
        ("/missing", "Usage: /missing ID"),
        ("/assign @nobody WASH", "I don't know @nobody"),
        ("/assign @alice_im <i>Space</i>", "is neither a configured cluster"),
    ]:
        mark = sim.mark()
        await sim.dm(mira, text)
        assert expected in sim.unique_reply(mark, MODERATOR_ID).text, text
    with sim.services.db.transaction() as session:
        assert session.query(Submission).count() == 0
        saved = DeadlineRepository(session).partner(alice.id)
        assert saved is not None and saved.cluster == "WASH"


async def test_subscribe_with_neither_changes_nothing(sim: Simulator) -> None:
    carol = sim.user("Carol")
    sim.telegram.started.add(carol.id)
    mark = sim.mark()
    await sim.dm(carol, "/subscribe")
    question = sim.unique_reply(mark, carol.id)
    await sim.press(carol, question, "No cluster")
    await sim.press(carol, sim.last(carol.id), "No organisation")
    assert "nothing changed" in sim.last(carol.id).text
    with sim.services.db.transaction() as session:
        assert DeadlineRepository(session).partner(carol.id) is None


async def test_calendar_expands_to_the_bot_occurrences(sim: Simulator) -> None:
    import icalendar
    import recurring_ical_events

    from moderation.deadlines import occurrences

    alice = sim.user("Alice")
    sim.telegram.started.add(alice.id)
    mark = sim.mark()
    await sim.dm(alice, "/calendar")
    reply = sim.since(mark, alice.id)[0]  # then a note on subscription links (no address set)
    assert reply.document is not None and reply.document[0] == "deadlines.ics"
    calendar = icalendar.Calendar.from_ical(reply.document[1])
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
    expanded: dict[str, set[datetime]] = {}
    for event in recurring_ical_events.of(calendar).between(start, end):
        uid = str(event["UID"]).removesuffix("@imbot")
        expanded.setdefault(uid, set()).add(event["DTSTART"].dt.astimezone(UTC))
    definitions = sim.services.settings.deadline_definitions()
    assert set(expanded) == {d.id for d in definitions}
    for d in definitions:
        assert expanded[d.id] == set(occurrences(d, start, end)), d.id
