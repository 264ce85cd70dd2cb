"""The outbox engine every outbox uses: claim with a token, fly a bounded batch, mark.

A claim is made with a fresh token (this replica and a claim number). Each row then goes
through ``send(row)``, which must begin the row (``storage.outbox.FencedOutbox.begin``: the
fenced check that the claim still holds, right before the request) and mark it with the same
token. The flight keeps up to ``limit`` sends under way, started in due order; once one is
throttled (429), fails, finds its claim lost, or SIGTERM came, no more start: those under way
finish and are marked, and the caller puts back the rows never begun.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import OperationalError

from delivery.outcome import Outcome
from runtime.context import Services

log = logging.getLogger(__name__)

_claims = itertools.count(1)
_process = secrets.token_hex(3)  # two processes never share a token, even with one pid

THROTTLED_NOTE = "waiting for the flood limit"
LOST_NOTE = "claim lost to another process"
STOP_NOTE = "released at shutdown"
OUTAGE_NOTE = "database outage"


def new_token(services: Services) -> str:
    """The owner of one claim: this replica, this process, the claim's number."""
    return f"{services.replica_id[-40:]}:{_process}:{next(_claims)}"[:64]


W = TypeVar("W")


class Flight(Generic[W]):
    """The sends of one claimed batch under way: at most ``limit`` at once, begun in order.

    ``send(work, trouble)`` sends one item and returns its ``Outcome``; it calls
    ``trouble()`` when Telegram has the message but the database cannot record it yet.
    """

    def __init__(
        self,
        services: Services,
        limit: int,
        row_of: Callable[[W], int],
        send: Callable[[W, Callable[[], None]], Awaitable[Outcome]],
    ) -> None:
        self.services = services
        self.row_of, self.send = row_of, send
        self.slots = asyncio.Semaphore(limit)
        self.tasks: list[asyncio.Task[Outcome | None]] = []  # in due order
        self.rows: dict[asyncio.Task[Outcome | None], int] = {}  # task → row id
        self.halted = ""  # why no more begin: the note for the rows put back
        self.began: set[int] = set()  # rows handed to ``send``
        self.failures: list[BaseException] = []  # in due order
        self.unsent: set[int] = set()  # failed before Telegram had them: to put back

    async def run(self, work: Sequence[W]) -> dict[int, Outcome]:
        """Send ``work`` in order until halted; the outcomes of the sends that did not fail."""
        for item in work:
            if not await self._room():  # SIGTERM, a 429, a lost claim, the database, a failure
                break
            task = asyncio.create_task(self._send(item))
            self.tasks.append(task)
            self.rows[task] = self.row_of(item)
            # Let it run up to its send (its database reads, the request under way), so that
            # a failure there is seen before the next one starts.
            await asyncio.sleep(0)
        return await self._landed()

    def not_begun(self, work: Sequence[W]) -> list[int]:
        return [self.row_of(item) for item in work if self.row_of(item) not in self.began]

    def _stopping(self) -> bool:
        if self.services.stopping and not self.halted:
            self.halted = STOP_NOTE
        return bool(self.halted)

    async def _room(self) -> bool:
        """Wait for a free slot; False (and no slot taken) once nothing more may begin."""
        if self._stopping():
            return False
        await self.slots.acquire()
        if self._stopping():
            self.slots.release()
            return False
        return True

    async def _send(self, item: W) -> Outcome | None:
        # Every change of state below happens in this task before it yields to the loop, so
        # the flight sees it before it starts another send.
        row_id = self.row_of(item)
        try:
            if self._stopping():  # halted between its start and its first turn: not begun
                return None
            self.began.add(row_id)
            try:
                outcome = await self.send(item, self._trouble)
            except BaseException as exc:
                if isinstance(exc, OperationalError):
                    self.unsent.add(row_id)
                self.halted = self.halted or "a message of the batch failed"
                raise
            if outcome is Outcome.THROTTLED:
                self.halted = self.halted or THROTTLED_NOTE
            elif outcome is Outcome.LOST:
                # Our lease ran out and another process took the row: the rest of this batch
                # is most likely its too. Send none of it.
                self.halted = self.halted or LOST_NOTE
            return outcome
        finally:
            self.slots.release()

    def _trouble(self) -> None:
        """A sent message could not be marked yet: begin no more until the database is back."""
        self.halted = self.halted or OUTAGE_NOTE

    async def _landed(self) -> dict[int, Outcome]:
        if self.tasks:
            await asyncio.wait(self.tasks)
        outcomes: dict[int, Outcome] = {}
        for task in self.tasks:
            error = asyncio.CancelledError() if task.cancelled() else task.exception()
            if error is not None:
                if self.failures:
                    log.error("another message failed in the same batch: %r", error)
                self.failures.append(error)
                continue
            outcome = task.result()
            if outcome is not None:
                outcomes[self.rows[task]] = outcome
        return outcomes
