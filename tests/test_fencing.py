"""Fenced delivery: two dispatchers (two applications on one database) whose claims overlap
because one of them outlived its lease. The oracle is what the fake Bot API delivered to each
partner, never the outbox's own bookkeeping."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

import handlers.deadlines as dispatcher
from config.loader import LoadedConfig
from delivery import engine
from delivery.outcome import Outcome
from simulation.faketg import JSON
from simulation.simulator import Simulator
from storage import outbox
from storage.deadlines import DeadlineRepository
from storage.models import ReminderOutbox
from tests.test_deadlines_fanout import delivered, partners_due, rows_of

LEASE = timedelta(minutes=5)


@pytest.fixture
async def second(sim: Simulator, config: LoadedConfig) -> AsyncIterator[Simulator]:
    """Another replica: its own application and services, the same database, fake Bot API
    and clock."""
    other = Simulator(config, sim.clock, telegram=sim.telegram)
    other.services.replica_id = "replica-b:2"
    await other.start(migrate=False)
    yield other
    await other.stop()


def same_settings(source: Simulator, target: Simulator) -> None:
    target.services.config = dataclasses.replace(
        target.services.config, settings=source.services.settings
    )


async def test_a_batch_outliving_its_lease_is_taken_over_without_a_duplicate(
    sim: Simulator, second: Simulator
) -> None:
    """Replica A claims 20 reminders and sends them four at a time; after its sixth reached
    Telegram, the clock passes A's lease and replica B runs: B takes what A had not begun,
    A notices its lost claim at its next send and stops. Every partner gets one reminder."""
    ids = await partners_due(sim, 20, latency=0.05, in_flight=4)
    same_settings(sim, second)
    arrived = [0]
    stalled = asyncio.Event()
    real = sim.telegram.handle

    def handle(method: str, params: JSON, files: Any) -> Any:
        if method == "sendMessage" and int(params["chat_id"]) in ids:
            arrived[0] += 1
            if arrived[0] == 6:
                stalled.set()
        return real(method, params, files)

    sim.telegram.handle = handle  # type: ignore[method-assign]
    first = asyncio.create_task(dispatcher.dispatch(sim.app))
    await stalled.wait()
    sim.clock.advance(LEASE + timedelta(seconds=1))  # A is stalled past its lease
    await dispatcher.dispatch(second.app)
    await first  # A resumes: its sends under way land, then it finds its claim lost
    counts = delivered(sim, ids)
    assert counts == dict.fromkeys(ids, 1), counts
    rows = rows_of(sim, ids)
    assert {r.status for r in rows} == {"sent"}
    assert not any(r.maybe_twice for r in rows)
    # Both sent some: B really took over part of A's batch.
    by_b = [r for r in rows if (r.claim_token or "").startswith("replica-b:")]
    assert 0 < len(by_b) < len(rows) - 6, [r.claim_token for r in rows]


async def test_a_send_on_the_wire_is_not_taken_over_before_the_stall_limit(
    sim: Simulator, second: Simulator
) -> None:
    """A's reminder reached Telegram and A stalls before marking it, longer than the lease:
    B does not send it again (its send began). Only past the stall limit is it taken over,
    and then counted as possibly sent twice."""
    ids = await partners_due(sim, 1, latency=0, in_flight=1)
    same_settings(sim, second)
    token = engine.new_token(sim.services)
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        repo = DeadlineRepository(session)
        dispatcher.plan_outbox(sim.services, repo, now)
        (row,) = repo.claim(now, 10, LEASE, token, timedelta(minutes=10))
        assert repo.begin(row.id, token, now)
    sim.clock.advance(LEASE + timedelta(minutes=1))
    await dispatcher.dispatch(second.app)
    assert delivered(sim, ids) == {}
    with sim.services.db.transaction() as session:
        assert not DeadlineRepository(session).finish(row.id, "someone-else:1", "sent", now)
        assert DeadlineRepository(session).finish(row.id, token, "sent", now)
    sim.clock.advance(timedelta(minutes=20))
    await dispatcher.dispatch(second.app)
    assert delivered(sim, ids) == {}  # marked by its owner: never sent again


async def test_a_dead_senders_row_goes_out_after_the_stall_limit_and_is_counted(
    sim: Simulator, second: Simulator
) -> None:
    ids = await partners_due(sim, 1, latency=0, in_flight=1)
    same_settings(sim, second)
    token = engine.new_token(sim.services)
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        repo = DeadlineRepository(session)
        dispatcher.plan_outbox(sim.services, repo, now)
        (row,) = repo.claim(now, 10, LEASE, token, timedelta(minutes=10))
        assert repo.begin(row.id, token, now)  # … and the process is SIGKILLed
    sim.clock.advance(timedelta(minutes=9))
    await dispatcher.dispatch(second.app)
    assert delivered(sim, ids) == {}
    sim.clock.advance(timedelta(minutes=2))
    await dispatcher.dispatch(second.app)
    assert delivered(sim, ids) == dict.fromkeys(ids, 1)
    with sim.services.db.transaction() as session:
        assert outbox.maybe_twice(session) == 1
        stored = session.get(ReminderOutbox, row.id)
        assert stored is not None and stored.status == "sent" and stored.maybe_twice


async def test_finish_and_release_need_the_claimants_token(sim: Simulator) -> None:
    await partners_due(sim, 2, latency=0, in_flight=1)
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        repo = DeadlineRepository(session)
        dispatcher.plan_outbox(sim.services, repo, now)
        first, second_row = repo.claim(now, 10, LEASE, "a:1", timedelta(minutes=10))
        assert not repo.finish(first.id, "b:1", "sent", now)
        assert not repo.release(second_row.id, "b:1", now, "not mine")
        assert not repo.begin(first.id, "b:1", now)
        assert repo.release(second_row.id, "a:1", now, "mine")
        assert not repo.finish(second_row.id, "a:1", "sent", now)  # released: no longer held
        stored = repo.outbox_row(first.id)
        assert stored is not None and stored.status == "sending" and stored.claim_token == "a:1"


def test_every_telegram_error_maps_to_one_outcome() -> None:
    from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

    from delivery.outcome import outcome_of, retry_after

    assert outcome_of(RetryAfter(3)) is Outcome.THROTTLED and retry_after(RetryAfter(3)) == 3
    assert outcome_of(Forbidden("Forbidden: bot was blocked by the user")) is Outcome.UNREACHABLE
    assert outcome_of(BadRequest("Bad Request: chat not found")) is Outcome.UNREACHABLE
    assert outcome_of(BadRequest("Bad Request: message is too long")) is Outcome.REFUSED
    assert outcome_of(TimedOut()) is Outcome.RETRY
    assert outcome_of(NetworkError("Bad Gateway")) is Outcome.RETRY
    assert retry_after(NetworkError("x")) == 0
