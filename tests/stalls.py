"""Stalled replicas: stop a real process (SIGSTOP/SIGCONT), starve it with a CPU hog, tally.

Used by tests/test_stalls.py and bench/replicas_repeat.py, on top of tests/processes.py: the
oracle is always the fake Bot API's own record of the messages it accepted.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from simulation.http import FakeTelegramServer
from tests.processes import BotProcess, deliveries, outbox_statuses, wait_for


@dataclass(frozen=True)
class Tally:
    """What the partners received, per partner: the oracle of every stall test."""

    partners: int
    received: Counter[int]

    @property
    def lost(self) -> int:
        return self.partners - len(self.received)

    @property
    def twice(self) -> int:
        """Partners who received the reminder more than once."""
        return sum(1 for n in self.received.values() if n > 1)


def tally(server: FakeTelegramServer, partners: list[int]) -> Tally:
    return Tally(len(partners), deliveries(server, partners))


def sent_by(server: FakeTelegramServer, process: BotProcess) -> int:
    return len(server.sent(process.name))


def sender(
    server: FakeTelegramServer, processes: list[BotProcess], at_least: int, timeout: float = 180
) -> BotProcess:
    """The replica doing (most of) the sending, once ``at_least`` messages have gone out.

    Usually one replica sends everything (it holds the dispatcher's lock); on a busy machine
    the lock can pass between them mid-way, and both send their own claims.
    """

    def enough() -> bool:
        return sum(sent_by(server, p) for p in processes) >= at_least

    logs = "\n".join(p.output()[-2000:] for p in processes)
    wait_for(enough, timeout, f"{at_least} reminders sent\n{logs}")
    return max(processes, key=lambda p: sent_by(server, p))


def pause(process: BotProcess) -> None:
    """SIGSTOP: the process keeps its sockets (its database sessions, its locks) but runs
    nothing, as a process frozen by a debugger, a VM pause or swap would."""
    process.process.send_signal(signal.SIGSTOP)


def resume(process: BotProcess) -> None:
    process.process.send_signal(signal.SIGCONT)


@contextmanager
def cpu_hog() -> Iterator[subprocess.Popen[bytes]]:
    """A process keeping one core busy for as long as the block runs."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait(10)


def settle(
    database_url: str,
    server: FakeTelegramServer,
    partners: list[int],
    processes: list[BotProcess],
    timeout: float = 150,
) -> Tally:
    """Wait until every partner has the reminder and every row is marked sent, then wait a
    few dispatcher runs more so that a late duplicate would show; the tally."""

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in processes)

    wait_for(
        lambda: len(deliveries(server, partners)) == len(partners),
        timeout,
        f"every reminder delivered\n{logs()}",
    )
    wanted = {"sent": len(partners)}
    wait_for(lambda: outbox_statuses(database_url) == wanted, 60, f"rows marked\n{logs()}")
    time.sleep(5)  # two dispatcher runs (every 2 s) past the last mark
    return tally(server, partners)
