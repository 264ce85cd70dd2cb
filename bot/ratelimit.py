"""Telegram's flood limits as sliding windows: never more than N requests in any period.

PTB's ``AIORateLimiter`` is a leaky bucket: it lets a full bucket go out at once and then the
steady rate, so in some one-second windows it sends up to twice the limit, Telegram answers
429, and every request then waits the whole ``retry_after`` (a second or more). Measured with
the fake Bot API (bench/fanout.py) that kept a 5,000-reminder fan-out at ~60 % of 30/s. This
limiter keeps the time of each request and waits, when a window is full, exactly until its
oldest request leaves it: bursts are still allowed, the window is not exceeded, and at a
sustained load it sends at the limit. A ``RetryAfter`` that still comes (another process
sharing the token) pauses every request for the time Telegram asked, then the request is
retried, up to ``max_retries`` times.

When did Telegram count a request? Somewhere between sending it and getting the answer.
Counting it until one period after the *answer* never exceeds a window whatever the network
did, but caps the pace at ``limit / (period + round trip)``: 27.8/s at 80 ms, short of the
0.95 × 30/s the reminder fan-out must reach (bench/README.md). The limiter therefore counts a
request until one period after the *latest moment Telegram can have received it*: the answer
minus the shortest way back, taken as half the shortest recent round trip (over the last
``ROUND_TRIPS``). On an undisturbed request that is the middle of its round trip; a request
delayed on our side (a busy event loop, before it went out or after the answer came) is
counted as late as it may have arrived, never earlier. A window Telegram sees can only be
exceeded if the network's way back is shorter than half its shortest round trip (a lopsided
route), and a 429 is still honoured. Requests under way count from when they are sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
MARGIN = 0.001  # seconds: clocks compared with <=
ROUND_TRIPS = 64  # recent round trips whose shortest tells the shortest way back


class SlidingWindow:
    """At most ``limit`` requests in any ``period`` seconds, a request counting from when it is
    taken until ``period`` after it reached Telegram (as the limiter estimates it)."""

    def __init__(self, limit: int, period: float, clock: Clock, sleep: Sleep) -> None:
        self.limit, self.period, self.clock, self.sleep = limit, period, clock, sleep
        self.slots: list[list[float]] = []  # [estimated arrival], inf while in flight
        self.lock = asyncio.Lock()

    async def acquire(self) -> list[float]:
        async with self.lock:  # first come, first served
            while True:
                now = self.clock()
                self.slots = [s for s in self.slots if s[0] > now - self.period]
                if len(self.slots) < self.limit:
                    slot = [math.inf]
                    self.slots.append(slot)
                    return slot
                oldest = min(s[0] for s in self.slots)
                wait = oldest + self.period + MARGIN - now if oldest < math.inf else 0.01
                await self.sleep(wait)

    def release(self, slot: list[float], arrived_at: float | None = None) -> None:
        """The request is over: it counts until ``period`` after ``arrived_at`` (default now)."""
        slot[0] = self.clock() if arrived_at is None else arrived_at


class WindowRateLimiter(BaseRateLimiter[int]):
    """Overall and per-group limits (Telegram: 30 messages/s, 20/min in one group)."""

    def __init__(
        self,
        overall: tuple[int, float] = (30, 1.0),
        per_group: tuple[int, float] = (20, 60.0),
        max_retries: int = 5,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.clock, self.sleep, self.max_retries = clock, sleep, max_retries
        self.overall = SlidingWindow(*overall, clock, sleep)
        self.round_trips: deque[float] = deque(maxlen=ROUND_TRIPS)
        self.per_group = per_group
        self.groups: dict[int | str, SlidingWindow] = {}
        self.resume = asyncio.Event()
        self.resume.set()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _group(self, chat_id: object) -> SlidingWindow | None:
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        if isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0):
            if chat_id not in self.groups:
                self.groups[chat_id] = SlidingWindow(*self.per_group, self.clock, self.sleep)
            return self.groups[chat_id]
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        retries = rate_limit_args if rate_limit_args is not None else self.max_retries
        attempt = 0
        while True:
            await self.resume.wait()
            taken: list[tuple[SlidingWindow, list[float]]] = []
            sent_at: float | None = None
            try:  # a slot taken is given back even if the wait for the next one is cancelled
                if chat_id is not None:
                    group = self._group(chat_id)
                    if group is not None:
                        taken.append((group, await group.acquire()))
                    taken.append((self.overall, await self.overall.acquire()))
                sent_at = self.clock()
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._release(taken, sent_at)  # its round trip ended now, not after the wait
                taken = []
                if attempt >= retries:
                    raise
                attempt += 1
                wait = exc._retry_after  # the public property warns about its future type
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                log.info("flood limit on %s: waiting %.1fs before retrying", endpoint, seconds)
                self.resume.clear()  # everyone waits, as Telegram asked
                try:
                    await self.sleep(seconds + 0.1)
                finally:
                    self.resume.set()
            finally:
                self._release(taken, sent_at)

    def _release(
        self, taken: list[tuple[SlidingWindow, list[float]]], sent_at: float | None
    ) -> None:
        if not taken:
            return
        now = self.clock()
        arrived_at = now  # never went out (cancelled while waiting): as if just now
        if sent_at is not None:
            self.round_trips.append(now - sent_at)
            arrived_at = now - min(self.round_trips) / 2  # the answer minus the shortest way back
        for window, slot in taken:
            window.release(slot, arrived_at)
