"""A stalled replica on PostgreSQL: stopped (SIGSTOP) past the lease, or starved of CPU.

Two real ``imbot run`` processes on one database and the fake Bot API over HTTP. The oracle is
the fake's record: every partner gets the reminder exactly once, none is lost. While the
sending replica is stopped, the other one must take over (the stopped one's sweep lock ends
with its idle session) instead of waiting for it to come back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from simulation.http import FakeTelegramServer
from storage.db import Database
from storage.models import Group
from storage.ops import AdvisoryLock
from tests.processes import BotProcess, needs_postgresql, seed_partners, wait_for, write_config
from tests.stalls import cpu_hog, pause, resume, sender, sent_by, settle

pytestmark = [pytest.mark.postgresql, needs_postgresql]

PARTNERS = 400
LEASE = "3s"


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        resume(process)  # a stopped process cannot act on SIGKILL's clean-up otherwise
        process.stop_quietly()


def start_two(
    database_url: str, server: FakeTelegramServer, tmp_path: Path, processes: list[BotProcess]
) -> list[int]:
    partners = seed_partners(database_url, server.telegram, PARTNERS)
    # The stall limit (2 min) is longer than any stop below: a message on the wire when its
    # sender stopped is its sender's to mark, never another's to send again.
    config = write_config(tmp_path, lease=LEASE, stall_limit="2m")
    for name in ("a", "b"):
        processes.append(BotProcess(name, config, database_url, server.url(name), tmp_path))
    return partners


def test_a_replica_stopped_past_the_lease_is_taken_over_and_sends_nothing_twice(
    database_url: str, server: FakeTelegramServer, tmp_path: Path, processes: list[BotProcess]
) -> None:
    partners = start_two(database_url, server, tmp_path, processes)
    victim = sender(server, processes, at_least=40)
    pause(victim)
    stopped = time.monotonic()
    survivor = next(p for p in processes if p is not victim)
    before = sent_by(server, survivor)
    # The victim holds the dispatcher's lock and a claim on every due row: the survivor can
    # only send once the server has ended the victim's idle lock session (after the lease).
    wait_for(
        lambda: sent_by(server, survivor) >= before + 20,
        60,
        f"the other replica taking over\n{survivor.output()[-3000:]}",
    )
    time.sleep(max(0.0, 2 * 3.0 - (time.monotonic() - stopped)))  # stopped ≥ twice the lease
    victim_during = sent_by(server, victim)
    resume(victim)

    result = settle(database_url, server, partners, processes)
    assert result.lost == 0, result
    assert result.twice == 0, result.received.most_common(3)
    assert sent_by(server, survivor) > before  # taken over while the victim was stopped
    assert sent_by(server, victim) >= victim_during  # it marks what was on the wire, no more
    for process in processes:
        assert process.process.poll() is None, process.output()[-3000:]  # both still running
        assert process.terminate() == 0, process.output()[-3000:]


def test_a_cpu_hog_during_the_fan_out_sends_nothing_twice(
    database_url: str, server: FakeTelegramServer, tmp_path: Path, processes: list[BotProcess]
) -> None:
    with cpu_hog():
        partners = start_two(database_url, server, tmp_path, processes)
        result = settle(database_url, server, partners, processes)
    assert result.lost == 0, result
    assert result.twice == 0, result.received.most_common(3)
    for process in processes:
        assert process.terminate() == 0, process.output()[-3000:]


# ---------------------------------------------------------------- the database's own limits
def test_a_sweep_lock_whose_holder_stops_touching_it_is_freed(database_url: str) -> None:
    database = Database(database_url)
    limit = timedelta(seconds=1)
    holder, rival = (AdvisoryLock(database.engine, "sweep:x", limit) for _ in range(2))
    assert holder.acquire()
    for _ in range(6):  # a live holder touches its lock more often than the limit: kept
        time.sleep(0.3)
        assert holder.alive()
    assert not rival.acquire()
    time.sleep(2.5)  # frozen: no touch for longer than the limit
    assert rival.acquire()  # the server ended the holder's session, and its lock
    assert not holder.alive()
    holder.release()  # harmless after the loss
    rival.release()
    # The connection went back to the pool without the limit: idle pooled ones must live.
    with database.engine.connect() as connection:
        assert connection.execute(text("SHOW idle_session_timeout")).scalar_one() == "0"
    database.dispose()


def test_a_transaction_left_idle_past_the_lease_is_ended(database_url: str) -> None:
    database = Database(database_url, idle_limit=timedelta(seconds=1))
    database.upgrade()
    other = Database(database_url)
    with database.transaction() as session:
        session.add(Group(chat_id=-1, title="Stalled group"))
    stalled = database.engine.connect()
    stalled.begin()
    stalled.execute(text("SELECT * FROM groups WHERE chat_id = -1 FOR UPDATE"))
    time.sleep(2.5)  # the process holding the row lock is frozen
    with other.engine.connect() as connection:  # the row is free again, without waiting
        connection.execute(text("SET lock_timeout = '2s'"))
        connection.execute(text("SELECT * FROM groups WHERE chat_id = -1 FOR UPDATE"))
    with pytest.raises(DBAPIError):  # the server ended it
        stalled.execute(text("SELECT 1"))
    stalled.invalidate()
    stalled.close()
    database.dispose()
    other.dispose()
