"""What every benchmark shares: a throwaway database (SQLite file or PostgreSQL schema),
the example configuration pointed at it, a one-line summary format, an event-loop lag probe
and a CPU hog (another process keeping one core busy)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine, text

from config.loader import Environment, LoadedConfig, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(url: str | None = None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a new schema on a PostgreSQL server."""
    if not url or url == "sqlite":
        folder = tempfile.mkdtemp(prefix="imbot-bench-")
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    if url == "postgresql":
        url = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def config_for(url: str) -> LoadedConfig:
    return LoadedConfig(
        settings=load_settings(EXAMPLE),
        path=Path(tempfile.mkdtemp(prefix="imbot-bench-")) / "config.yaml",
        environment=Environment(database_url=url, bot_token=None),
    )


def engine_name(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99."""
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def one_core() -> None:
    """Pin this process to one CPU, so 'per core' figures mean what they say."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def summary(name: str, text_: str, ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("  [target met]" if ok else "  [TARGET MISSED]")
    print(f"SUMMARY {name}: {text_}{verdict}", flush=True)


def load() -> str:
    """The load average (1 min) and the number of cores, for the record."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


class LagProbe:
    """How late the event loop runs a timer: a task sleeping ``period`` (10 ms) in a loop
    records how much later than asked each sleep ended. ``worst`` is the longest stall seen
    (in seconds), ``over`` how many ticks were later than 50 ms. It also samples the process's
    CPU time, so a benchmark can take the CPU and the worst lag over a span of its own
    (``between``; times from ``time.monotonic``)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period, self.worst, self.over, self.ticks = period, 0.0, 0, 0
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, CPU, lateness)
        self._task: asyncio.Task[None] | None = None

    def between(self, start: float, end: float) -> tuple[float, float]:
        """The process CPU time spent from ``start`` to ``end`` and the worst lag meanwhile."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return 0.0, 0.0
        return inside[-1][1] - inside[0][1], max(s[2] for s in inside)

    def start(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.period)
            after = time.monotonic()
            late = after - before - self.period
            self.samples.append((after, time.process_time(), late))
            self.ticks += 1
            self.worst = max(self.worst, late)
            self.over += late > 0.05

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def text(self) -> str:
        return f"loop lag worst {self.worst * 1000:.0f} ms ({self.over} ticks > 50 ms)"

    @property
    def worst_ms(self) -> float:
        return self.worst * 1000

    async def __aenter__(self) -> LagProbe:
        self.start()
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


def _spin() -> None:  # pragma: no cover - runs in the hog process
    while True:
        pass


@contextmanager
def cpu_hog(on: bool = True) -> Iterator[None]:
    """Another process keeping one core fully busy while the block runs."""
    if not on:
        yield
        return
    hog = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
    hog.start()
    try:
        yield
    finally:
        hog.terminate()
        hog.join()
