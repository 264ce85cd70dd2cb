"""The busiest path: an ordinary group message (storage/message_journal.py, the watcher).

Noted and counted in memory, written behind in batches; /purge and the flood limit still see
every message, across a restart and across replicas; nothing after the watcher is skipped that
would have acted on the message.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from telegram import Update

from handlers.moderation import ends_at_the_watcher, watch
from handlers.order import Stage
from simulation.simulator import Simulator
from storage.db import Database
from storage.message_journal import MessageJournal
from storage.models import RecentMessage
from storage.moderation import ModerationRepository, NotedMessage
from tests.conftest import GROUP_ID
from tests.helpers import database_unreachable
from tests.moderation_support import actions, member, mira

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHATS = itertools.count(-(10**12), -1)  # a fresh chat per hypothesis example


def stored(sim: Simulator) -> int:
    with sim.services.db.transaction() as session:
        return int(session.scalar(select(func.count(RecentMessage.id))) or 0)


@pytest.fixture
def database(database_url: str) -> Database:
    db = Database(database_url)
    db.upgrade()
    return db


# --------------------------------------------------------------------------- written behind
async def test_messages_are_written_behind_and_purge_sees_the_last_second(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sim.services.write_behind()
    before = stored(sim)
    said = [await sim.say(ivan, f"line {n}") for n in range(3)]
    assert stored(sim) == before  # nothing written on the message's path
    assert sim.services.journal.pending == 3
    mark = sim.mark()
    await sim.say(mira(sim), "/purge 2 @ivan")  # reads the table: the journal is written first
    deleted = [(GROUP_ID, s["message"]["message_id"]) for s in said[1:]]
    assert all(sim.telegram.messages[key].deleted for key in deleted)
    assert not sim.telegram.messages[(GROUP_ID, said[0]["message"]["message_id"])].deleted
    assert "Deleted 2 messages of Ivan Koval" in sim.unique_reply(mark, GROUP_ID).text
    with sim.services.db.transaction() as session:
        left = ModerationRepository(session).latest_messages(GROUP_ID, ivan.id, 10)
    assert [r.message_id for r in left][:1] == [said[0]["message"]["message_id"]]


async def test_the_timer_writes_every_second_and_a_full_batch_at_once(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sim.services.write_behind()
    before = stored(sim)
    await sim.say(ivan, "one")
    await sim.advance(timedelta(seconds=1))  # the one-second timer
    assert stored(sim) == before + 1
    journal = sim.services.journal
    for n in range(journal.batch):
        journal.note(GROUP_ID, 10_000 + n, ivan.id, sim.clock.now())
    assert journal.pending == 0 and stored(sim) == before + 1 + journal.batch
    journal.note(GROUP_ID, 10_000, ivan.id, sim.clock.now())  # noted twice: stored once
    journal.flush()
    assert stored(sim) == before + 1 + journal.batch


async def test_an_outage_keeps_the_notes_until_the_database_answers(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")
    sim.services.write_behind()
    before = stored(sim)
    with database_unreachable(sim):
        await sim.say(ivan, "is the database there?")
        sim.services.write_behind()  # logged, not raised
        with pytest.raises(SQLAlchemyError):
            sim.services.journal.flush()  # as /purge would: it must not read a stale table
    assert sim.services.journal.pending == 1 and stored(sim) == before
    sim.services.write_behind()
    assert sim.services.journal.pending == 0 and stored(sim) == before + 1


def test_a_long_outage_keeps_the_newest_notes(database: Database) -> None:
    journal = MessageJournal(database, batch=1_000, max_pending=5)
    away = Database("sqlite:////nonexistent-directory/imbot.db")
    journal.db = away
    for n in range(8):
        journal.note(GROUP_ID, n, 7, T0 + timedelta(seconds=n))
        journal.flush(quietly=True)
    assert journal.pending == 5 and journal.dropped == 3
    journal.db = database
    journal.flush()
    with database.transaction() as session:
        rows = ModerationRepository(session).latest_messages(GROUP_ID, 7, 10)
    assert sorted(r.message_id for r in rows) == [3, 4, 5, 6, 7]


# --------------------------------------------------------------------------- flood counting
async def test_the_flood_count_survives_a_restart(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan")  # message 1 of 8
    for n in range(4):
        await sim.say(ivan, f"msg {n}")
    sim.services.write_behind()  # the timer ran before the process stopped
    restarted = Simulator(sim.services.config, sim.clock, telegram=sim.telegram)
    await restarted.start()
    try:
        for n in range(2):
            await restarted.say(ivan, f"again {n}")
        assert actions(restarted, "flood") == []
        await restarted.say(ivan, "the eighth")
        assert len(actions(restarted, "flood")) == 1
    finally:
        await restarted.stop()


def test_webhook_replicas_count_each_others_messages(database: Database) -> None:
    """Two replicas behind a load balancer get a member's messages in turn."""
    first, second = MessageJournal(database), MessageJournal(database)
    per = timedelta(seconds=30)
    seen: list[int] = []
    for n in range(8):
        journal = (first, second)[n % 2]
        at = T0 + timedelta(seconds=2 * n)
        journal.note(GROUP_ID, n + 1, 7, at)
        seen.append(len(journal.times(GROUP_ID, 7, at - per, shared=True)))
        journal.flush()  # the other replica's timer: at most a second later
    assert seen[-1] == 8
    # Polling (one receiver): the window is read once, then kept in memory.
    alone = MessageJournal(database)
    assert len(alone.times(GROUP_ID, 7, T0 - per)) == 8
    second.note(GROUP_ID, 100, 7, T0 + timedelta(seconds=20))
    second.flush()
    assert len(alone.times(GROUP_ID, 7, T0 - per)) == 8  # not read again
    alone.forget_windows()  # e.g. this replica became the poller again
    assert len(alone.times(GROUP_ID, 7, T0 - per)) == 9


@pytest.mark.parametrize("seen_before", [False, True])
def test_a_burst_spread_over_webhook_replicas_within_a_second_is_caught(
    database: Database, seen_before: bool
) -> None:
    """14 messages in one second, in turn to two replicas; neither replica's timer has run."""
    first, second = MessageJournal(database), MessageJournal(database)
    per = timedelta(seconds=30)
    if seen_before:  # both replicas counted the member an hour ago: their windows exist
        for journal in (first, second):
            journal.times(GROUP_ID, 7, T0 - timedelta(hours=1) - per, shared=True)
    counts = []
    for n in range(14):
        journal = (first, second)[n % 2]
        at = T0 + timedelta(milliseconds=50 * n)
        journal.note(GROUP_ID, n + 1, 7, at)
        counts.append(len(journal.times(GROUP_ID, 7, at - per, shared=True)))
    assert counts[7] == 8  # the eighth message is seen as the eighth


def test_a_redelivered_message_counts_once(database: Database) -> None:
    per = timedelta(seconds=30)
    journal = MessageJournal(database)
    for _ in range(2):  # Telegram sends an update again after a poller's crash
        journal.note(GROUP_ID, 1, 7, T0)
        assert len(journal.times(GROUP_ID, 7, T0 - per)) == 1
    journal.flush()
    restarted = MessageJournal(database)
    restarted.note(GROUP_ID, 1, 7, T0)
    assert len(restarted.times(GROUP_ID, 7, T0 - per)) == 1
    restarted.note(GROUP_ID, 2, 7, T0 + timedelta(seconds=1))
    assert len(restarted.times(GROUP_ID, 7, T0 - per)) == 2


def test_after_a_failed_write_only_the_timer_tries_again(database: Database) -> None:
    journal = MessageJournal(database, batch=5)
    attempts = []
    write = journal._write

    def counting(rows: list[NotedMessage]) -> None:
        attempts.append(len(rows))
        write(rows)

    journal._write = counting  # type: ignore[method-assign]
    journal.db = Database("sqlite:////nonexistent-directory/imbot.db")
    for n in range(20):  # the database is away: one attempt at the fifth, then none
        journal.note(GROUP_ID, n, 7, T0)
    assert attempts == [5] and journal.pending == 20
    journal.db = database
    assert journal.flush(quietly=True) == 20  # the timer
    journal.note(GROUP_ID, 100, 7, T0)
    for n in range(4):
        journal.note(GROUP_ID, 101 + n, 7, T0)
    assert attempts == [5, 20, 5] and journal.pending == 0


def test_a_row_the_table_refuses_does_not_hold_up_the_others(database: Database) -> None:
    journal = MessageJournal(database)
    journal.note(GROUP_ID, 1, 7, T0)
    journal._pending.append(NotedMessage(GROUP_ID, None, 7, T0))  # type: ignore[arg-type]
    journal.note(GROUP_ID, 2, 7, T0)
    assert journal.flush() == 3 and journal.dropped == 1
    with database.transaction() as session:
        rows = ModerationRepository(session).latest_messages(GROUP_ID, 7, 10)
    assert sorted(r.message_id for r in rows) == [1, 2]


MESSAGES = st.lists(
    st.tuples(
        st.integers(1, 3),  # who
        st.integers(0, 20),  # seconds after the previous message
        st.sampled_from([None, None, None, "a", "b"]),  # album
    ),
    max_size=30,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=MESSAGES, flush_every=st.integers(1, 7), restart_at=st.integers(0, 30))
def test_the_window_in_memory_agrees_with_the_table(
    database: Database,
    messages: list[tuple[int, int, str | None]],
    flush_every: int,
    restart_at: int,
) -> None:
    """Whenever the flush happens and wherever a restart falls, the count in memory is the
    count the table gives (an album once, only the last ``per``)."""
    per = timedelta(seconds=30)
    chat = next(CHATS)
    journal = MessageJournal(database)
    at = T0
    for index, (who, gap, album) in enumerate(messages):
        if index == restart_at:
            journal.flush()
            journal = MessageJournal(database)  # a new process
        at += timedelta(seconds=gap)
        journal.note(chat, index + 1, who, at, f"{who}{album}" if album else None)
        in_memory = journal.times(chat, who, at - per)
        if index % flush_every == 0:
            journal.flush()
        reference = MessageJournal(database)
        reference._pending = list(journal._pending)  # as if it saw the same unwritten notes
        assert in_memory == reference.times(chat, who, at - per)
    journal.flush()


# --------------------------------------------------------------------------- nothing skipped
PLAIN = st.text(
    alphabet=st.characters(blacklist_characters="@", blacklist_categories=["Cs"]), min_size=1
).filter(lambda text: not text.startswith("/") and text.strip() != "")


async def test_ordinary_group_messages_end_at_the_watcher(sim: Simulator) -> None:
    """The watcher stops PTB after an ordinary group message; no later handler wanted it."""
    ivan = await member(sim, "Ivan")
    later = [
        handler
        for group, handlers in sim.app.handlers.items()
        for handler in handlers
        if group >= Stage.ROSTER_AND_WATCH and getattr(handler, "callback", None) is not watch
    ]
    assert len(later) > 50  # every feature's handlers are there

    def wanted_by(data: dict[str, Any]) -> list[object]:
        update = Update.de_json(data, sim.app.bot)
        assert ends_at_the_watcher(update, sim.services)
        return [h for h in later if h.check_update(update) not in (None, False)]

    bot_message = sim.telegram.message(sim.app.bot.id, GROUP_ID, "Welcome!")

    @settings(max_examples=60, deadline=None)
    @given(text=PLAIN, reply=st.booleans(), caption=st.booleans(), from_moderator=st.booleans())
    def check(text: str, reply: bool, caption: bool, from_moderator: bool) -> None:
        author = mira(sim) if from_moderator else ivan
        if caption:
            data = sim.telegram.photo(author.id, GROUP_ID, caption=text)
        else:
            data = sim.telegram.message(author.id, GROUP_ID, text)
        if reply:
            data["message"]["reply_to_message"] = bot_message["message"]
        assert wanted_by(data) == []

    check()
    # And the ones that must go on: commands and mentions (edits stop at the edit gate:
    # tests/test_edits.py).
    for data in (
        sim.telegram.message(ivan.id, GROUP_ID, "/help"),
        sim.telegram.message(ivan.id, GROUP_ID, "@all the meeting moved"),
    ):
        update = Update.de_json(data, sim.app.bot)
        assert not ends_at_the_watcher(update, sim.services)
        assert [h for h in later if h.check_update(update) not in (None, False)]


async def test_the_watcher_still_acts_on_ordinary_messages(sim: Simulator) -> None:
    """Stopping after the watcher changes nothing for the flood limit (it runs first)."""
    ivan = await member(sim, "Ivan")
    for n in range(7):
        await sim.say(ivan, f"msg {n}")
    assert len(actions(sim, "flood")) == 1
