"""An event-loop lag probe: a task ticking every 10 ms records how late each tick woke up.

async with LagProbe() as probe:
    ...  # the work measured
probe.worst_ms  # the longest stall seen (lateness of the latest tick)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

TICK = 0.010


class LagProbe:
    def __init__(self, tick: float = TICK) -> None:
        self.tick = tick
        self.delays: list[float] = []  # ms each tick woke up after it was due
        self._task: asyncio.Task[None] | None = None
        self._due = 0.0

    async def _run(self) -> None:
        while True:
            self._due = time.perf_counter() + self.tick
            await asyncio.sleep(self.tick)
            self.delays.append(max(0.0, (time.perf_counter() - self._due) * 1000))

    @property
    def worst_ms(self) -> float:
        return max(self.delays, default=0.0)

    def over(self, limit_ms: float) -> int:
        return sum(d > limit_ms for d in self.delays)

    async def __aenter__(self) -> LagProbe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self.delays.append(max(0.0, (time.perf_counter() - self._due) * 1000))  # the last tick
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
