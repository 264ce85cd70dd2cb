"""Writes that must follow something already done outside the database (a message sent)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from storage.db import reason_of

log = logging.getLogger(__name__)

T = TypeVar("T")
MARK_RETRY = timedelta(seconds=60)  # longest wait to record what was already done


class SentButNotMarked(Exception):
    """Telegram accepted a message but the database never recorded it (it stays claimed)."""

    def __init__(self, row_id: int) -> None:
        super().__init__(f"reminder {row_id} was sent but could not be marked sent")
        self.row_id = row_id


async def retry_database(action: Callable[[], T], within: timedelta, what: str) -> T:
    """Run a database action, retrying while the database is unreachable for up to ``within``.

    For writes that must follow something already done outside (a message Telegram accepted).
    """
    give_up = time.monotonic() + within.total_seconds()
    delay = 0.5
    while True:
        try:
            return action()
        except OperationalError as exc:
            left = give_up - time.monotonic()
            if left <= 0:
                log.error(
                    "%s: the database stayed unreachable (%s); giving up",
                    what,
                    reason_of(exc),
                )
                raise
            log.warning("%s: the database is unreachable (%s); retrying", what, reason_of(exc))
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 5.0)
