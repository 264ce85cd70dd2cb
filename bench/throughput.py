"""Update throughput: the bot next to a bare python-telegram-bot Application, in one run.

    .venv/bin/python -m bench.throughput [--db sqlite|postgresql|URL] [--updates N] [--pace S]

20,000 realistic updates (ordinary group messages from roster members, some commands in the
group and in private, some joins with their chat_member updates) go through the real
``Application.process_update`` over the offline fake transport (bot/faketg.py). The same
update JSON then goes through a bare ``Application`` with one no-op handler on the same
transport. Both run in this process, pinned to one core, so the ratio is measured side by side.
Each update is timed (wall and CPU) including ``Update.de_json``; updates the fake Telegram
sends back because of what the bot did (a newcomer's restriction) are processed and counted
with the join that caused them. Simulated time moves ``--pace`` seconds (default 1) between
updates, so members write at a human pace; with 0 every message carries the same second and
the members flood (measured for comparison in bench/README.md). The write-behind timer that
the job queue runs every second is run every 1,000 updates, its time charged to the update.

Targets: ≥ 1,000 ordinary group messages/s on one core on SQLite; ≤ 2× the bare framework's
CPU per ordinary message (the speed issue; it was ≤ 3× before). ``--runs`` (3) pairs, each the
bot then the bare framework on the same updates; the summary gives the median and the range of
the per-run ratios, the longest a single ordinary message held the event loop, and the load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

from bench.common import config_for, database, engine_name, load, one_core, summary
from moderation.clock import FakeClock
from simulation.faketg import JSON, ApiError, FakeMember, FakeTelegram
from simulation.simulator import FAKE_TOKEN, Simulator

GROUP_ID = -1001234567890
MESSAGES = [
    "Morning all",
    "Does anyone have the latest 3W for Kharkiv oblast?",
    "Thanks, received.",
    "The WASH cluster meeting moves to Thursday 14:00.",
    "Please share the admin boundaries shapefile (COD-AB) if you have the 2024 update",
    "👍",
    "Where can I find the displacement figures for last week?",
    "Reminder: SitRep inputs are due on Wednesday at noon",
]
# The job queue's one-second write-behind timer (noted messages, last_seen) runs once per this
# many updates, as if they came at 1,000 a second (fewer than the bot handles: conservative).
TIMER_EVERY = 1000
COMMANDS_GROUP = ["/help", "/deadlines"]
COMMANDS_PRIVATE = ["/help", "/deadlines", "/start"]
FIRST = ["Olena", "Ivan", "Petro", "Anna", "Maria", "Oleksandr", "Iryna", "Dmytro", "Sofia"]
LAST = ["Koval", "Shevchenko", "Bondar", "Tkachenko", "Kravets", "Melnyk", "Boyko", "Rudenko"]


class Counter:
    def __init__(self) -> None:
        self.count: defaultdict[str, int] = defaultdict(int)
        self.wall: defaultdict[str, float] = defaultdict(float)
        self.cpu: defaultdict[str, float] = defaultdict(float)

        self.longest: defaultdict[str, float] = defaultdict(float)

    def add(self, kind: str, wall: float, cpu: float) -> None:
        self.count[kind] += 1
        self.wall[kind] += wall
        self.cpu[kind] += cpu
        self.longest[kind] = max(self.longest[kind], wall)

    def rate(self, kind: str) -> float:
        return self.count[kind] / self.wall[kind] if self.wall[kind] else 0.0

    def cpu_us(self, kind: str) -> float:
        return self.cpu[kind] / self.count[kind] * 1e6 if self.count[kind] else 0.0

    def total(self) -> tuple[int, float, float]:
        return sum(self.count.values()), sum(self.wall.values()), sum(self.cpu.values())


def make_world(telegram: FakeTelegram, members: int, rng: random.Random) -> list[int]:
    """Members who were in the group before the bot, half of them having started it."""
    ids = []
    for i in range(members):
        user = telegram.add_user(
            rng.choice(FIRST), rng.choice(LAST), f"member{i}" if i % 3 else None
        )
        telegram.groups[GROUP_ID].members[user.id] = FakeMember("member")
        if i % 2:
            telegram.started.add(user.id)
        ids.append(user.id)
    return ids


def make_updates(
    telegram: FakeTelegram,
    member_ids: list[int],
    total: int,
    rng: random.Random,
    clock: FakeClock,
    pace: timedelta,
) -> Iterator[tuple[str, JSON]]:
    """The workload: 93% ordinary group messages, 3% group commands, 2% private, 2% joins.

    Simulated time moves ``pace`` after each update (a join's updates share one moment), so
    each update carries the date it would have and the bot's clock agrees with it.
    """
    made = 0
    while made < total:
        roll = rng.random()
        speaker = rng.choice(member_ids)
        try:
            batch = one_update(telegram, speaker, roll, rng)
        except ApiError:
            continue  # muted for flooding (only when --pace leaves no time between messages)
        for item in batch[: total - made]:
            yield item
            made += 1
        clock.advance(pace)


def one_update(
    telegram: FakeTelegram, speaker: int, roll: float, rng: random.Random
) -> list[tuple[str, JSON]]:
    if roll < 0.93:
        return [("message", telegram.message(speaker, GROUP_ID, rng.choice(MESSAGES)))]
    if roll < 0.96:
        return [("command", telegram.message(speaker, GROUP_ID, rng.choice(COMMANDS_GROUP)))]
    if roll < 0.98:
        telegram.started.add(speaker)
        return [("command", telegram.message(speaker, speaker, rng.choice(COMMANDS_PRIVATE)))]
    newcomer = telegram.add_user(rng.choice(FIRST), rng.choice(LAST), f"new{len(telegram.users)}")
    return [("join", update) for update in telegram.join(newcomer.id, GROUP_ID)]


async def run_bot(
    url: str, members: int, total: int, seed: int, pace: timedelta
) -> tuple[Counter, list[tuple[str, JSON]]]:
    rng = random.Random(seed)
    clock = FakeClock()
    sim = Simulator(config_for(url), clock)
    await sim.start()
    member_ids = make_world(sim.telegram, members, rng)
    # Warm-up (not timed): every member speaks once, so the roster knows them.
    for user_id in member_ids:
        await sim.feed(sim.telegram.message(user_id, GROUP_ID, "hello"))
    clock.advance(timedelta(minutes=10))
    updates: list[tuple[str, JSON]] = []
    counter = Counter()
    app, telegram = sim.app, sim.telegram
    for index, (kind, data) in enumerate(
        make_updates(telegram, member_ids, total, rng, clock, pace)
    ):
        updates.append((kind, data))
        w0, c0 = time.perf_counter(), time.process_time()
        await app.process_update(Update.de_json(data, app.bot))
        while telegram.pending:  # what Telegram sends back because of the bot's calls
            await app.process_update(Update.de_json(telegram.pending.popleft(), app.bot))
        if index % TIMER_EVERY == TIMER_EVERY - 1:
            sim.services.write_behind()  # the one-second timer, charged to this update
        counter.add(kind, time.perf_counter() - w0, time.process_time() - c0)
    errors = list(sim.errors)
    await sim.stop()
    if errors:
        raise RuntimeError(f"the bot raised while benchmarking: {errors[:3]!r}")
    return counter, updates


async def run_bare(updates: list[tuple[str, JSON]]) -> Counter:
    telegram = FakeTelegram(FakeClock())
    handled = 0

    async def noop(update: Update, context: Any) -> None:
        nonlocal handled
        handled += 1

    request = telegram.request()
    app = (
        ApplicationBuilder().token(FAKE_TOKEN).request(request).get_updates_request(request).build()
    )
    app.add_handler(MessageHandler(filters.ALL, noop))
    await app.initialize()
    counter = Counter()
    for kind, data in updates:
        w0, c0 = time.perf_counter(), time.process_time()
        await app.process_update(Update.de_json(data, app.bot))
        counter.add(kind, time.perf_counter() - w0, time.process_time() - c0)
    await app.shutdown()
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--runs", type=int, default=3, help="runs, each the bot then bare PTB")
    parser.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="simulated seconds between updates (default 1: a busy group, each of 500 members "
        "writing every ~9 minutes; 0 makes everyone flood and be muted)",
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the bot's INFO/WARNING lines are not the benchmark
    one_core()
    loads = [load()]
    rates: list[float] = []
    ratios: list[float] = []
    longest: list[float] = []
    engine = ""
    for number in range(1, args.runs + 1):
        with database(args.db) as url:
            engine = engine_name(url)
            bot, updates = asyncio.run(
                run_bot(url, args.members, args.updates, args.seed, timedelta(seconds=args.pace))
            )
        bare = asyncio.run(run_bare(updates))
        print(
            f"run {number}: {engine}, {args.updates} updates, {args.members} members, "
            f"{args.pace:g} s simulated between updates, one core"
        )
        print_table(bot, bare)
        rates.append(bot.rate("message"))
        ratios.append(bot.cpu_us("message") / bare.cpu_us("message"))
        longest.append(bot.longest["message"] * 1000)
        loads.append(load())
    print(f"load: {' → '.join(loads)}")
    rate, ratio = statistics.median(rates), statistics.median(ratios)
    summary(
        "throughput",
        f"{engine}, {args.runs} runs: {rate:.0f} ({min(rates):.0f}–{max(rates):.0f}) "
        f"ordinary group messages/s on one core (target ≥ 1000), {ratio:.1f}× "
        f"({min(ratios):.1f}–{max(ratios):.1f}) the bare framework's CPU per message "
        f"(target ≤ 2×); longest single message {max(longest):.0f} ms; {loads[0]}",
        ok=rate >= 1000 and ratio <= 2,
    )


def print_table(bot: Counter, bare: Counter) -> None:
    header = ("kind", "count", "bot upd/s", "bot CPU µs", "bare CPU µs", "ratio")
    print("{:<10}{:>7}{:>12}{:>12}{:>13}{:>8}".format(*header))
    for kind in ("message", "command", "join"):
        ratio = bot.cpu_us(kind) / bare.cpu_us(kind) if bare.cpu_us(kind) else 0.0
        print(
            f"{kind:<10}{bot.count[kind]:>7}{bot.rate(kind):>12.0f}{bot.cpu_us(kind):>12.0f}"
            f"{bare.cpu_us(kind):>13.0f}{ratio:>7.1f}×"
        )
    n, wall, cpu = bot.total()
    bn, _, bcpu = bare.total()
    print(
        f"{'all':<10}{n:>7}{n / wall:>12.0f}{cpu / n * 1e6:>12.0f}{bcpu / bn * 1e6:>13.0f}"
        f"{(cpu / n) / (bcpu / bn):>7.1f}×"
    )


if __name__ == "__main__":
    main()
