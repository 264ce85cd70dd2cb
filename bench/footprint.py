"""Footprint and cold start of the real ``imbot run`` process, against the fake Bot API over HTTP,
paired in each run with a bare python-telegram-bot ``Application`` polling the same fake server.

    .venv/bin/python -m bench.footprint [--db sqlite|postgresql|URL] [--members N]
                                        [--contacts N] [--runs N]

The database is filled once: 10,000 members on the roster and 100,000 contacts in the directory,
with Faker names in five locales (``bench.people``). Each run then starts, one after the other:

* a bare PTB ``Application`` (one ``/start`` handler answering "hello"), polling the fake;
* the same bare ``Application`` that first imports the libraries the bot is built on
  (SQLAlchemy's ORM, pydantic's models, PyYAML, click, Babel, dateutil, prometheus_client,
  the database's driver and its SQLAlchemy dialect), with the collector paused meanwhile as
  ``bot.entry`` does: the floor of any bot on this stack, which shows how much of the ≤ 2×
  budget is left for the bot's own code;
* ``imbot run --config config/example.yaml --port 0`` (``DATABASE_URL``, ``BOT_TOKEN`` and
  ``BOT_API_URL`` in the environment), through the ``imbot`` script's entry point
  (``bot.entry``), as a deployment starts it — migration check included.

The project's modules are byte-compiled first, as ``pip install`` leaves them in a deployment
(the processes inherit ``PYTHONDONTWRITEBYTECODE`` and would otherwise compile ~200 modules at
every start).

For both: the wall time from spawning the process to its first ``getUpdates``, and to its first
reply to a private ``/start`` that the fake hands out in answer to that first ``getUpdates``;
the process's CPU time (utime + stime from ``/proc/PID/stat``) when that reply arrives. Then the
bot alone: every member says something in the group, one ``/contact`` lookup builds the
directory's search index, and once the index holds the directory (``imbot_contacts_index_size``
on the bot's ``/metrics``: a lookup before the build is answered from SQL meanwhile) and it has
answered ``/readyz`` (as a deployment's health check asks it), its VmRSS and VmHWM (peak) are
read from ``/proc/PID/status``.

Targets (the speed issue): RSS < 120 MB (judged on the peak), cold start to the first reply
< 1 s wall, and ≤ 2× the bare PTB process's CPU; medians over the runs.
"""

from __future__ import annotations

import argparse
import compileall
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import EXAMPLE, config_for, database, engine_name, load, summary
from bench.people import MEMBER_BASE, Person, contact_rows, member_rows, names
from moderation.clock import SystemClock
from simulation.faketg import JSON, FakeMember, FakeTelegram
from simulation.http import FakeTelegramServer

GROUP_ID = -1001234567890  # the example configuration's group
TOKEN = "123456:FOOTPRINT-bench-token"
ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
BARE = """
import os
from telegram.ext import Application, CommandHandler

async def start(update, context):
    await update.effective_message.reply_text("hello")

app = Application.builder().token(os.environ["BOT_TOKEN"]).base_url(os.environ["BOT_API_URL"])
app = app.build()
app.add_handler(CommandHandler("start", start))
app.run_polling()
"""
STACKED = (
    "import gc\ngc.disable()\n"
    "import sqlalchemy.orm, pydantic, yaml, click, babel.dates, dateutil, prometheus_client\n"
    # `import pydantic` alone loads next to nothing (its names load on first use): the bot's
    # settings need the model machinery, as any pydantic user does.
    "from pydantic import BaseModel\n"
    "{driver}\n" + BARE.replace("app.run_polling()", "gc.enable()\napp.run_polling()")
)
# The database's driver and SQLAlchemy's dialect for it: psycopg alone is ~0.15 s and 10 MB.
DRIVERS = {
    "SQLite": "import sqlite3, sqlalchemy.dialects.sqlite",
    "PostgreSQL": "import psycopg, sqlalchemy.dialects.postgresql.psycopg",
}
IMBOT = ["-c", "from bot.entry import main; main()", "run", "--config", str(EXAMPLE)]


def fill(url: str, people: list[Person], contacts: list[Person]) -> None:
    from bot.app import build_services
    from moderation.roster import JoinMethod, MemberStatus
    from storage.contact_index import bump_version
    from storage.models import Contact, Group, Membership, User

    services = build_services(config_for(url))
    services.db.upgrade()
    now = services.clock.now()
    with services.db.transaction() as session:
        session.add(
            Group(
                chat_id=GROUP_ID,
                title="Ukraine IM community",
                bot_status="administrator",
                bot_is_admin=True,
                bot_rights="",
            )
        )
        session.flush()
        users = member_rows(people, now)
        rows = [
            dict(
                chat_id=GROUP_ID,
                user_id=MEMBER_BASE + i,
                status=MemberStatus.MEMBER,
                join_method=JoinMethod.UNKNOWN,
                joined_at=now,
                updated_at=now,
            )
            for i in range(len(people))
        ]
        for start in range(0, len(people), 5000):
            session.execute(insert(User), users[start : start + 5000])
            session.execute(insert(Membership), rows[start : start + 5000])
        made = contact_rows(contacts, now)
        for start in range(0, len(made), 5000):
            session.execute(insert(Contact), made[start : start + 5000])
        bump_version(session)  # a bulk insert bypasses the ORM's own bump
    services.db.dispose()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (fields 14 and 15, after the command's name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@dataclass
class Mark:
    wall: float  # seconds since the process was spawned
    cpu: float  # the process's CPU seconds then
    rss: float = 0.0


class Stopwatch(FakeTelegramServer):
    """The fake Bot API noting, for one process, its first getUpdates (and handing it a private
    ``/start`` then) and every message it sends to ``watch``."""

    def __init__(self, telegram: FakeTelegram, greeting: Callable[[], JSON], watch: int) -> None:
        super().__init__(telegram)
        self.greeting, self.watch = greeting, watch
        self.spawned, self.pid = 0.0, 0
        self.first_poll: Mark | None = None
        self.replies: list[Mark] = []

    def mark(self) -> Mark:
        wall = time.perf_counter() - self.spawned
        return Mark(wall, cpu_seconds(self.pid), memory(self.pid)[0])

    async def call(self, client: str, method: str, params: JSON, files: Any) -> tuple[int, JSON]:
        if method == "getUpdates" and self.first_poll is None and self.pid:
            self.first_poll = self.mark()
            self.push_update(self.greeting())
        status, body = await super().call(client, method, params, files)
        if method == "sendMessage" and status == 200 and int(params["chat_id"]) == self.watch:
            self.replies.append(self.mark())
        return status, body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def index_size(port: int) -> int:
    """``imbot_contacts_index_size`` from the bot's /metrics (0 while it cannot be read)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("imbot_contacts_index_size"):
            return int(float(line.split()[-1]))
    return 0


def ready(port: int) -> bool:
    """The bot's /readyz, as the Dockerfile's and compose's health checks ask it every 15 s."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def wait(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 600
    while not condition():
        if process.poll() is not None:
            raise SystemExit(f"the process exited ({process.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.005)


@dataclass
class Run:
    poll: Mark
    reply: Mark
    rss: float = 0.0
    peak: float = 0.0
    members_seconds: float = 0.0
    lookup_found: bool = False
    extra: dict[str, float] = field(default_factory=dict)


def start_process(
    args: list[str], server: Stopwatch, url: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "BOT_TOKEN": TOKEN, "BOT_API_URL": server.url()}
    env.pop("IMBOT_CONFIG", None)
    with log.open("wb") as out:
        server.spawned = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    server.pid = process.pid
    return process


def world(people: list[Person]) -> tuple[FakeTelegram, int]:
    telegram = FakeTelegram(SystemClock())
    group = telegram.add_group(GROUP_ID, "Ukraine IM community")
    for i, p in enumerate(people):
        user = telegram.add_user(
            p.first_name, p.last_name, p.username, p.language_code, MEMBER_BASE + i
        )
        group.members[user.id] = FakeMember("member")
    return telegram, MEMBER_BASE  # the first member asks


def one_run(
    url: str,
    people: list[Person],
    query: str,
    folder: Path,
    bare: str | None = None,
    name: str = "imbot",
) -> Run:
    """One start of ``imbot run``, or of the Python code ``bare`` (a bare PTB process); its
    output goes to ``folder/NAME.log``."""
    telegram, asker = world(people)
    server = Stopwatch(telegram, lambda: telegram.message(asker, asker, "/start"), asker)
    server.start()
    port = free_port()
    args = ["-c", bare] if bare else [*IMBOT, "--port", str(port)]
    process = start_process(args, server, url, folder / f"{name}.log")
    try:
        wait(lambda: bool(server.replies), process, f"{name}'s first reply")
        assert server.first_poll is not None
        run = Run(server.first_poll, server.replies[0])
        if not bare:
            started = time.perf_counter()
            texts = ("Good morning", "Thanks!", "Any news on the WASH meeting?", "👍")
            with server.lock:  # the server's thread uses the fake too
                for i in range(len(people)):
                    server.push_update(telegram.message(MEMBER_BASE + i, GROUP_ID, texts[i % 4]))
                server.push_update(telegram.message(asker, asker, f"/contact {query}"))
            wait(lambda: len(server.replies) >= 2, process, "the /contact answer")
            run.members_seconds = time.perf_counter() - started
            answer = server.sent()[-1].params.get("text", "")
            run.lookup_found = query.lower() in str(answer).lower()
            # A lookup before the index is built is answered from SQL while the build runs:
            # the memory is read once the index holds the directory (its metric says so).
            wait(lambda: index_size(port) > 0, process, "the contact index's build")
            # A deployment's health check has asked by then (every 10-15 s from the start).
            wait(lambda: ready(port), process, "the bot's readiness (/readyz)")
            run.rss, run.peak = memory(process.pid)
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        return run
    except BaseException:
        print((folder / f"{name}.log").read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        server.stop()


def spread(values: list[float], unit: str = "", digits: int = 2) -> str:
    """The median and the range: '0.81 s (0.77–0.95)'."""
    middle = statistics.median(values)
    return f"{middle:.{digits}f}{unit} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # As a deployment's `pip install` does: byte-compiled modules, not compiled at each start.
    for package in ROOT.iterdir():
        if package.is_dir() and package.name != "tests" and not package.name.startswith("."):
            compileall.compile_dir(package, quiet=1)
    logging.disable(logging.WARNING)
    logging.getLogger("tornado").setLevel(logging.CRITICAL)  # a long poll cut short at the end
    folder = Path(tempfile.mkdtemp(prefix="imbot-footprint-"))
    t0 = time.perf_counter()
    everyone = names(args.members + args.contacts)
    people, contacts = everyone[: args.members], everyone[args.members :]
    query = next(p.last_name for p in contacts[3:] if p.last_name)
    loads: list[float] = []
    bots: list[Run] = []
    bares: list[Run] = []
    floors: list[Run] = []
    with database(args.db) as url:
        fill(url, people, contacts)
        print(f"{engine_name(url)}: names made and filled in {time.perf_counter() - t0:.1f}s")
        for number in range(1, args.runs + 1):
            loads.append(os.getloadavg()[0])
            bares.append(one_run(url, people, query, folder, BARE, "bare"))
            stacked = STACKED.replace("{driver}", DRIVERS[engine_name(url)])
            floors.append(one_run(url, people, query, folder, stacked, "bare-libraries"))
            bots.append(one_run(url, people, query, folder))
            bot, bare, floor = bots[-1], bares[-1], floors[-1]
            print(
                f"run {number} ({load()}): imbot run first getUpdates {bot.poll.wall:.2f}s, "
                f"first reply {bot.reply.wall:.2f}s wall, {bot.reply.cpu:.2f}s CPU, RSS "
                f"{bot.reply.rss:.0f} MB | bare PTB {bare.poll.wall:.2f}s, {bare.reply.wall:.2f}s "
                f"wall, {bare.reply.cpu:.2f}s CPU, RSS {bare.reply.rss:.0f} MB | bare PTB with the "
                f"bot's libraries {floor.reply.cpu:.2f}s CPU | after "
                f"{args.members} members spoke ({bot.members_seconds:.1f}s) and /contact "
                f"{query!r} ({'found' if bot.lookup_found else 'NOT FOUND'}): RSS {bot.rss:.0f} "
                f"MB, peak {bot.peak:.0f} MB",
                flush=True,
            )
    ratios = [b.reply.cpu / p.reply.cpu for b, p in zip(bots, bares, strict=True)]
    floor_ratios = [f.reply.cpu / p.reply.cpu for f, p in zip(floors, bares, strict=True)]
    peaks = [b.peak for b in bots]
    walls = [b.reply.wall for b in bots]
    summary(
        "footprint",
        f"{engine_name(url)}, real `imbot run` over HTTP, {args.members} members, "
        f"{args.contacts} contacts, {args.runs} runs: RSS {spread([b.rss for b in bots], ' MB', 0)}"
        f", peak {spread(peaks, ' MB', 0)} (target < 120 MB); cold start to first getUpdates "
        f"{spread([b.poll.wall for b in bots], ' s')}, to first reply {spread(walls, ' s')} wall "
        f"(target < 1 s; bare PTB {spread([p.reply.wall for p in bares], ' s')}), CPU "
        f"{spread([b.reply.cpu for b in bots], ' s')} vs bare "
        f"{spread([p.reply.cpu for p in bares], ' s')} = {spread(ratios, '×', 1)} (target ≤ 2×; "
        f"bare PTB importing the bot's libraries: {spread(floor_ratios, '×', 1)}); "
        f"load average {min(loads):.2f}–{max(loads):.2f} on {os.cpu_count()} cores",
        ok=statistics.median(peaks) < 120
        and statistics.median(walls) < 1
        and statistics.median(ratios) <= 2,
    )


if __name__ == "__main__":
    main()
