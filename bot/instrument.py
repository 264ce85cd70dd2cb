"""Where the metrics move: each update handled, and each database error."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from telegram.ext import SimpleUpdateProcessor

from runtime.metrics import Metrics, update_kind


class MeasuredUpdates(SimpleUpdateProcessor):
    """PTB's default processing (one update at a time), counted by kind and timed."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(max_concurrent_updates=1)
        self.metrics = metrics

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            self.metrics.update_seconds.observe(time.perf_counter() - started)
            self.metrics.updates.labels(update_kind(update)).inc()


def count_database_errors(engine: Engine, metrics: Metrics) -> None:
    """Every failed statement or connection attempt on ``engine`` moves the counter."""

    def on_error(_context: object) -> None:
        metrics.database_errors.inc()

    event.listen(engine, "handle_error", on_error)
