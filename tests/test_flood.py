"""Telegram's flood limits: the fake's 429 mode, the dispatcher honouring RetryAfter, and the
bot's sliding-window rate limiter staying under the limits without losing anything."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import ExtBot

from bot.ratelimit import WindowRateLimiter
from moderation.clock import FakeClock
from moderation.roster import UserInfo
from simulation.faketg import FakeTelegram
from simulation.simulator import FAKE_TOKEN, Simulator
from storage.deadlines import DeadlineRepository
from storage.roster import RosterRepository
from tests.conftest import GROUP_ID

SITREP = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # see tests/test_deadlines.py
DUE = SITREP - timedelta(days=2)  # the first reminder of the sitrep deadline


def add_partners(sim: Simulator, count: int) -> list[int]:
    ids = []
    with sim.services.db.transaction() as session:
        roster, deadlines = RosterRepository(session), DeadlineRepository(session)
        for i in range(count):
            user = sim.user(f"Partner{i}")
            sim.telegram.started.add(user.id)
            roster.upsert_user(UserInfo(user.id, user.first_name), sim.clock.now())
            roster.set_reachable(user.id, True)
            deadlines.set_partner(user.id, "WASH", None, sim.clock.now())
            ids.append(user.id)
    return ids


def sitrep_reminders(sim: Simulator, user_id: int) -> int:
    return sum(m.text.startswith("⏰ SitRep inputs") for m in sim.telegram.sent(user_id))


async def test_dispatcher_honours_retry_after_without_duplicates_or_losses(
    sim: Simulator,
) -> None:
    ids = add_partners(sim, 8)
    await sim.advance(DUE - timedelta(minutes=1) - sim.clock.now())  # earlier catch-up notes
    flood = sim.telegram.enforce_flood_limits(
        per_second=3, clock=lambda: sim.clock.now().timestamp()
    )
    await sim.advance(timedelta(minutes=1))  # the dispatcher runs: 3 sent, then a 429
    assert sum(sitrep_reminders(sim, i) for i in ids) == 3
    assert flood.refused == 1  # it stopped at the first 429 instead of hammering
    with sim.services.db.transaction() as session:
        rows = [
            r
            for r in DeadlineRepository(session).outbox("sitrep")
            if r.user_id in ids and r.due_at == DUE
        ]
    waiting = [r for r in rows if r.status == "pending"]
    assert len(waiting) == 5
    throttled = [r for r in waiting if r.not_before and r.not_before > sim.clock.now()]
    assert len(throttled) == 1 and throttled[0].not_before == DUE + timedelta(seconds=1)
    for _ in range(10):
        await sim.advance(timedelta(seconds=1))
    assert {i: sitrep_reminders(sim, i) for i in ids} == dict.fromkeys(ids, 1)
    with sim.services.db.transaction() as session:
        statuses = Counter(
            r.status
            for r in DeadlineRepository(session).outbox("sitrep")
            if r.user_id in ids and r.due_at == DUE
        )
    assert statuses == {"sent": 8}
    # Never more than 3 accepted in any second, as the fake enforces.
    times = [t for t, _ in flood.accepted]
    assert all(sum(1 for u in times if t - 1 < u <= t) <= 3 for t in times)


async def test_window_limiter_stays_within_the_limits_and_loses_nothing() -> None:
    now = [1000.0]

    async def sleep(seconds: float) -> None:
        now[0] += max(seconds, 0.0)
        await asyncio.sleep(0)

    telegram = FakeTelegram(FakeClock())
    telegram.add_group(GROUP_ID, "Group")
    users = [telegram.add_user(f"U{i}") for i in range(60)]
    telegram.started.update(u.id for u in users)
    flood = telegram.enforce_flood_limits(per_second=30, per_group_minute=20, clock=lambda: now[0])
    limiter = WindowRateLimiter(clock=lambda: now[0], sleep=sleep)
    bot: ExtBot[int] = ExtBot(
        FAKE_TOKEN,
        request=telegram.request(),
        get_updates_request=telegram.request(),
        rate_limiter=limiter,
    )
    await bot.initialize()
    started = now[0]
    sends = [bot.send_message(u.id, f"hello {u.first_name}") for u in users]
    sends += [bot.send_message(GROUP_ID, f"note {i}") for i in range(25)]
    await asyncio.gather(*sends)
    await bot.shutdown()
    assert flood.refused == 0
    assert Counter(chat for _, chat in flood.accepted) == {
        **{u.id: 1 for u in users},
        GROUP_ID: 25,
    }
    assert now[0] - started >= 60  # 25 in one group cannot go out within one minute


async def test_window_limiter_retries_a_429_after_the_wait() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += max(seconds, 0.0)
        await asyncio.sleep(0)

    telegram = FakeTelegram(FakeClock())
    user = telegram.add_user("Ann")
    telegram.started.add(user.id)
    telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", 7)
    bot: ExtBot[int] = ExtBot(
        FAKE_TOKEN,
        request=telegram.request(),
        get_updates_request=telegram.request(),
        rate_limiter=WindowRateLimiter(clock=lambda: now[0], sleep=sleep),
    )
    await bot.initialize()
    await bot.send_message(user.id, "hello")
    await bot.shutdown()
    assert len(telegram.sent(user.id)) == 1
    assert now[0] >= 7


class VirtualTime:
    """Time that moves only when every task is waiting: sleeps wake in deadline order."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self.order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.timers, (self.now + max(seconds, 0.0), next(self.order), future))
        await future

    async def run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(200):  # let everything that can run, run
                await asyncio.sleep(0)
            if task.done():
                break
            assert self.timers, "every task waits and no timer is set"
            when, _order, future = heapq.heappop(self.timers)
            self.now = max(self.now, when)
            future.set_result(None)
        task.result()


def stalled(i: int) -> tuple[float, float]:
    """80 ms round trips, some held up on our side for 150 ms before going out (every 7th) or
    after the answer came (every 5th): a busy event loop."""
    return 0.04 + (0.15 if i % 7 == 3 else 0.0), 0.04 + (0.15 if i % 5 == 1 else 0.0)


@pytest.mark.parametrize(
    ("legs", "even"),
    [
        (lambda i: (0.04, 0.04), True),
        (lambda i: (0.07, 0.01), False),  # a lopsided route: the limiter assumes halves
        (lambda i: (0.01, 0.07), False),
        (stalled, False),
    ],
    ids=["even", "long-way-there", "long-way-back", "stalls"],
)
async def test_window_limiter_with_latency_keeps_the_window_and_nearly_the_pace(
    legs: Callable[[int], tuple[float, float]], even: bool
) -> None:
    """Eight requests under way, as the reminder dispatcher keeps them, each taking ``there``
    to reach Telegram and ``back`` for the answer (virtual time). Telegram never sees more
    than 30 in a second; with an even 80 ms round trip the pace is ≥ 0.95 × 30/s (counting
    each request until a second after its *answer* would cap it at 30/1.08 = 27.8/s)."""
    time_ = VirtualTime()
    limiter = WindowRateLimiter(clock=time_.clock, sleep=time_.sleep)
    arrivals: list[float] = []
    slots = asyncio.Semaphore(8)

    async def send(i: int) -> None:
        there, back = legs(i)

        async def telegram() -> dict[str, object]:
            await time_.sleep(there)
            arrivals.append(time_.now)
            await time_.sleep(back)
            return {}

        async with slots:
            await limiter.process_request(
                telegram, (), {}, "sendMessage", {"chat_id": 50_000_000 + i}, None
            )

    async def fan_out() -> None:
        await asyncio.gather(*(send(i) for i in range(300)))

    await time_.run(fan_out())
    assert len(arrivals) == 300
    assert max(sum(1 for u in arrivals if t - 1 < u <= t) for t in arrivals) <= 30
    if even:
        # The sustained pace, leaving out the first second's burst: from the 31st to the 271st.
        pace = 240 / (arrivals[270] - arrivals[30])
        assert pace >= 0.95 * 30, pace
