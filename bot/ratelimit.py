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

When did Telegram count a request? Somewhere between sending it and getting the answer; the
limiter takes the middle of that round trip (its arrival when the way there and the way back
take equally long). Counting it instead until one period after the *answer* would never
exceed a window whatever the network did, but caps the pace at ``limit / (period + round
trip)``: 27.8/s at 80 ms, short of the 0.95 × 30/s the reminder fan-out must reach (bench/
README.md). With the middle, a window Telegram sees can only be exceeded when some request's
way there took longer than its way back by more than twice the next request's way there (the
in-flight requests count fully, from when they are sent): on one connection to Telegram,
tens of milliseconds of jitter are far from that, and a 429 is still honoured.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
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


class SlidingWindow:
    """At most ``limit`` requests in any ``period`` seconds, a request counting from when it is
    taken until ``period`` after the middle of its round trip (when Telegram received it, if
    the way there and back take equally long)."""

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

    def release(self, slot: list[float], sent_at: float | None = None) -> None:
        """The request came back (or never went: ``sent_at`` None): it counts from the middle
        of its round trip."""
        now = self.clock()
        slot[0] = now if sent_at is None else (sent_at + now) / 2


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

    @staticmethod
    def _release(taken: list[tuple[SlidingWindow, list[float]]], sent_at: float | None) -> None:
        for window, slot in taken:
            window.release(slot, sent_at)
