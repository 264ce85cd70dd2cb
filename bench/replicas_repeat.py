"""Two real ``imbot run`` replicas on one PostgreSQL, one due reminder per partner, N times.

    .venv/bin/python -m bench.replicas_repeat [--runs 20] [--partners 1000] [--mode stop]

Each run: a fresh schema, the fake Bot API over HTTP (simulation/http.py), ``--partners``
people due one reminder, two replicas started together (lease ``--lease``, 3 s). ``--mode``:
``plain`` (both run to the end), ``stop`` (the replica sending is stopped with SIGSTOP after
``--stop-after`` messages, for ``--stop-for`` seconds, longer than the lease, then resumed with
SIGCONT) or ``hog`` (a process keeps one core busy for the whole run). Counted at the fake:
partners who got the reminder more than once (duplicates) and those without it when the run
ended (missing: lost, or still waiting when ``--timeout`` ran out). Prints each run,
then the median time per run (replicas started → every row marked sent) and the load average
before and after. A script, not a test: it needs ``TEST_DATABASE_URL`` (or the local server).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import database, summary
from simulation.http import FakeTelegramServer
from storage.db import Database
from storage.models import ReminderOutbox
from tests.processes import (
    BotProcess,
    fake_telegram,
    outbox_statuses,
    seed_partners,
    wait_for,
    write_config,
)
from tests.stalls import cpu_hog, pause, resume, sender, sent_by, tally


@dataclass(frozen=True)
class Run:
    seconds: float  # started → every row marked sent (or the timeout)
    twice: int
    lost: int
    by_replica: dict[str, int]
    stopped: str  # the replica stopped (mode stop), else ""
    error: str = ""


def one_run(args: argparse.Namespace, folder: Path) -> Run:
    telegram, server = fake_telegram()
    processes: list[BotProcess] = []
    stopped = ""
    error = ""
    try:
        with database("postgresql") as url:
            partners = seed_partners(url, telegram, args.partners)
            config = write_config(folder, lease=args.lease, stall_limit=args.stall_limit)
            with hog_if(args.mode == "hog"):
                began = time.monotonic()
                for name in ("a", "b"):
                    processes.append(BotProcess(name, config, url, server.url(name), folder))
                try:
                    if args.mode == "stop":
                        victim = sender(server, processes, args.stop_after, args.timeout)
                        stopped = victim.name
                        pause(victim)
                        time.sleep(args.stop_for)
                        resume(victim)
                    settle(url, server, partners, args.timeout)
                except AssertionError as exc:
                    error = f"{str(exc).splitlines()[0]}; unfinished: {unfinished(url)}"
                    for process in processes:
                        noted = [
                            line
                            for line in process.output().splitlines()
                            if " WARNING " in line or " ERROR " in line
                        ]
                        print(f"--- {process.name}", *noted[-15:], sep="\n", flush=True)
                seconds = time.monotonic() - began
            result = tally(server, partners)
            by_replica = {p.name: sent_by(server, p) for p in processes}
            for process in processes:
                resume(process)
                with contextlib.suppress(Exception):
                    process.terminate(60)
    finally:
        for process in processes:
            process.stop_quietly()
        server.stop()
    return Run(seconds, result.twice, result.lost, by_replica, stopped, error)


def unfinished(url: str) -> dict[str, int]:
    """The rows not marked sent, by status, whether begun, and note: why a run timed out."""
    database = Database(url)
    with database.transaction() as session:
        rows = session.query(ReminderOutbox).filter(ReminderOutbox.status != "sent")
        found = Counter(
            f"{r.status}{' begun' if r.wire_at else ''}: {r.note or ''}"[:80] for r in rows
        )
    database.dispose()
    return dict(found)


def settle(url: str, server: FakeTelegramServer, partners: list[int], timeout: float) -> None:
    wanted = {"sent": len(partners)}
    wait_for(lambda: outbox_statuses(url) == wanted, timeout, "every row marked sent")
    time.sleep(4)  # two dispatcher runs more: a late duplicate would show


@contextlib.contextmanager
def hog_if(wanted: bool) -> Iterator[None]:
    if not wanted:
        yield
        return
    with cpu_hog():
        yield


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--mode", choices=["plain", "stop", "hog"], default="stop")
    parser.add_argument("--lease", default="3s")
    parser.add_argument("--stall-limit", default="2m")
    parser.add_argument("--stop-after", type=int, default=100, help="messages before SIGSTOP")
    parser.add_argument("--stop-for", type=float, default=8.0, help="seconds stopped")
    parser.add_argument("--timeout", type=float, default=300.0, help="per run, in seconds")
    args = parser.parse_args()
    before = load()
    print(f"load average before: {before}", flush=True)
    runs: list[Run] = []
    for number in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="imbot-replicas-") as folder:
            run = one_run(args, Path(folder))
        runs.append(run)
        print(
            f"run {number}: {run.seconds:.1f} s, twice {run.twice}, missing {run.lost}, "
            f"sent by {run.by_replica}"
            + (f", stopped {run.stopped}" if run.stopped else "")
            + (f", ERROR {run.error}" if run.error else ""),
            flush=True,
        )
    after = load()
    twice, lost = sum(r.twice for r in runs), sum(r.lost for r in runs)
    failed = sum(1 for r in runs if r.twice or r.lost or r.error)
    median = statistics.median(r.seconds for r in runs)
    print(f"load average after: {after}", flush=True)
    summary(
        "replicas_repeat",
        f"{args.runs} runs ({args.mode}, {args.partners} partners): {failed} failed, "
        f"{twice} duplicates, {lost} missing at the end, median {median:.1f} s per run; "
        f"load {before} → {after}",
        failed == 0,
    )


if __name__ == "__main__":
    main()
