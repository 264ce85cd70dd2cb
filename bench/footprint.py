"""Footprint: resident memory with 10,000 members and 100,000 contacts loaded (target < 150 MB),
and cold start to the first handled update (target < 2 s).

    .venv/bin/python -m bench.footprint [--db sqlite|postgresql|URL] [--members N] [--contacts N]

The database is filled first (members on the roster, contacts in the directory). Then a fresh
Python process is started — as ``imbot run`` would be, but on the fake Bot API — and the time
from launching it to the end of its first ``process_update`` is the cold start (interpreter,
imports, configuration, migration check, ``Application.initialize``, the start-up hook). That
process then has every member speak once in the group (the roster cache fills), runs one
``/contact`` lookup (the search index is built), and reports its resident set size (VmRSS) and
peak (VmHWM) from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import insert

from bench.common import config_for, database, engine_name, summary

GROUP_ID = -1001234567890
MEMBER_BASE = 20_000_000
MARKER = "FIRST-UPDATE-HANDLED"


def fill(url: str, members: int, contacts: int) -> None:
    from bench.contacts_lookup import contacts as make_contacts
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
        users = [
            dict(
                id=MEMBER_BASE + i,
                first_name=f"Member{i}",
                last_name="Koval",
                username=f"member{i}",
                language_code="en",
                is_bot=False,
                started_bot=i % 2 == 0,
                blocked_bot=False,
                first_seen=now,
                last_seen=now,
            )
            for i in range(members)
        ]
        rows = [
            dict(
                chat_id=GROUP_ID,
                user_id=MEMBER_BASE + i,
                status=MemberStatus.MEMBER,
                join_method=JoinMethod.UNKNOWN,
                joined_at=now,
                updated_at=now,
            )
            for i in range(members)
        ]
        for start in range(0, members, 5000):
            session.execute(insert(User), users[start : start + 5000])
            session.execute(insert(Membership), rows[start : start + 5000])
        made = make_contacts(contacts, random.Random(3), now)
        for start in range(0, contacts, 5000):
            session.execute(insert(Contact), made[start : start + 5000])
        bump_version(session)  # a bulk insert bypasses the ORM's own bump
    services.db.dispose()


def rss() -> tuple[float, float]:
    """Current and peak resident memory of this process, in MB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def child(url: str, members: int) -> None:
    """The fresh process: start the bot, handle one update, then load everything."""
    from telegram import Update

    from bot.app import on_startup
    from moderation.clock import FakeClock
    from simulation.faketg import FakeMember
    from simulation.simulator import Simulator

    sim = Simulator(config_for(url), FakeClock())
    sim.services.db.upgrade()  # as `imbot run` does: a no-op check when already at head
    await sim.app.initialize()
    await on_startup(sim.app)
    first = sim.telegram.add_user("Mira", "Moderator", "mira", user_id=MEMBER_BASE - 1)
    sim.group.members[first.id] = FakeMember("member")
    await sim.say(first, "Good morning")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(MARKER, f"{usage.ru_utime + usage.ru_stime:.3f}", flush=True)
    before = rss()[0]
    group = sim.telegram.chat_json(GROUP_ID)
    for i in range(members):  # raw updates: the fake's own world stays out of the figure
        sender = {"id": MEMBER_BASE + i, "is_bot": False, "first_name": f"Member{i}"}
        sender.update(last_name="Koval", username=f"member{i}", language_code="en")
        update = {
            "update_id": 10_000_000 + i,
            "message": {
                "message_id": 1_000_000 + i,
                "date": int(sim.clock.now().timestamp()),
                "chat": group,
                "from": sender,
                "text": "hello",
            },
        }
        await sim.app.process_update(Update.de_json(update, sim.app.bot))
    members_loaded = rss()[0]
    sim.telegram.started.add(first.id)
    await sim.dm(first, "/contact koval")  # builds the contact index
    current, peak = rss()
    print(f"RSS {current:.1f} {peak:.1f} {before:.1f} {members_loaded:.1f}", flush=True)
    await sim.app.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.child:
        asyncio.run(child(args.child, args.members))
        return
    with database(args.db) as url:
        t0 = time.perf_counter()
        fill(url, args.members, args.contacts)
        print(f"{engine_name(url)}: filled in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.footprint",
                "--child",
                url,
                "--members",
                str(args.members),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        cold = None
        cold_cpu = 0.0
        figures: list[float] = []
        for line in process.stdout:
            if line.startswith(MARKER):
                cold = time.perf_counter() - t0
                cold_cpu = float(line.split()[1])
            elif line.startswith("RSS"):
                figures = [float(x) for x in line.split()[1:]]
        if process.wait() != 0 or cold is None or not figures:
            raise SystemExit("the bot process failed")
    current, peak, at_start, members_loaded = figures
    load = os.getloadavg()[0]
    print(
        f"cold start to first handled update: {cold:.2f}s wall, {cold_cpu:.2f}s CPU "
        f"(load average {load:.1f} on {os.cpu_count()} cores; RSS then {at_start:.0f} MB)"
    )
    print(
        f"after {args.members} members spoke: RSS {members_loaded:.0f} MB; after a lookup over "
        f"{args.contacts} contacts: RSS {current:.0f} MB, peak {peak:.0f} MB"
    )
    summary(
        "footprint",
        f"{engine_name(url)}: RSS {current:.0f} MB (peak {peak:.0f}) with {args.members} members "
        f"and {args.contacts} contacts (target < 150 MB); cold start {cold:.2f}s wall, "
        f"{cold_cpu:.2f}s CPU (target < 2 s)",
        ok=peak < 150 and cold < 2,
    )


if __name__ == "__main__":
    main()
