"""Reminder fan-out: one deadline occurrence to 5,000 partners at Telegram's pace.

    .venv/bin/python -m bench.fanout [--db sqlite|postgresql|URL] [--partners N] [--runs N]
                                     [--busy] [--latency SECONDS] [--jitter OUT_MS BACK_MS]
                                     [--in-flight N]

Runs in REAL time (about 175 s for 5,000 partners, twice per run): the bot is started as in
production — ``build_application`` with its rate limiter (bot/ratelimit.py), the JobQueue running
every sweep, the deadline dispatcher (handlers/deadlines.py) among them every 30 s — against the
fake Bot API with Telegram's flood limits enforced (simulation/faketg.py ``enforce_flood_limits``:
30 messages/s overall, 20/min per group, 429 with ``retry_after`` beyond). The bot's clock follows
real time from just after the reminder falls due. Reported: achieved messages/s over the span
from the first to the last delivery, as a fraction of 30/s (target ≥ 0.95); duplicates (partners
with more than one reminder, target 0) and losses (partners without one, target 0); 429s
received; process CPU time per reminder and the event loop's worst lag (a 10 ms timer), both
from the first reminder accepted to the last (the lag over the whole run, start-up included, is
printed per run).

Baseline, in the same run and under the same conditions: a bare python-telegram-bot
``Application`` with the same rate limiter (``WindowRateLimiter``) sending the same number of
messages (same text length, same buttons) with the same number under way at once.

Every Bot API call takes ``--latency`` seconds of real time (default 0.08: a round trip to the
real Telegram is 50–100 ms), half before the fake handles it, half after, so calls overlap as
they do over a network; ``--jitter 20-100 10-40`` draws each leg instead (uniform, ms).
``--in-flight`` overrides ``reminders.in_flight``.

``--busy``: another process keeps one core fully busy, 50 ordinary group messages a second
(``--traffic``) go through the bot (and through the baseline's no-op handler) during the
fan-out, and the latency is jittered and lopsided (20–100 ms out, 10–40 ms back) unless
``--jitter`` or ``--latency`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import statistics
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters

from bench.common import LagProbe, config_for, cpu_hog, database, engine_name, load, summary
from bot.app import build_application, build_services, on_startup
from bot.ratelimit import WindowRateLimiter
from config.schema import AudienceConfig, DeadlineConfig
from simulation.faketg import ApiError, FakeMember, FakeTelegram
from simulation.simulator import FAKE_TOKEN
from storage.models import Partner, ReminderOutbox, User

OCCURRENCE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday 12:00 Kyiv
LEAD = timedelta(hours=3)
PARTNER_BASE = 50_000_000
SPEAKER_BASE = 60_000_000
SPEAKERS = 600  # each speaks every 12 s at 50 msgs/s: a busy group, nobody flooding
CEILING = 30.0
TEXT = (
    "⏰ <b>SitRep inputs</b> (<code>sitrep</code>) is due Wed 25 Nov 12:00 (in 3 hours).\n"
    "Press <b>Submitted</b> when you have sent it, or use the buttons below."
)
CHATTER = ["Morning all", "Thanks, received.", "The WASH meeting moves to Thursday 14:00.", "👍"]
Jitter = tuple[tuple[float, float], tuple[float, float]] | None


@dataclasses.dataclass
class Result:
    rate: float
    duplicates: int
    losses: int
    refused: int
    cpu_ms: float  # process CPU time per reminder, first to last reminder
    lag_ms: float  # the event loop's worst lag, first to last reminder
    lag: LagProbe  # over the whole run (start-up included)
    traffic: int  # group messages processed meanwhile
    most_in_flight: int
    extra: str = ""

    @property
    def fraction(self) -> float:
        return self.rate / CEILING


class RealTimeClock:
    """The bot's clock: real time, starting at ``start``."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def fake(clock: Any, latency: float, jitter: Jitter, partners: int, group: int) -> FakeTelegram:
    telegram = FakeTelegram(clock)
    telegram.latency, telegram.jitter = latency, jitter
    telegram.add_group(group, "Coordination")
    for i in range(partners):
        telegram.started.add(telegram.add_user(f"Partner{i}", user_id=PARTNER_BASE + i).id)
    for i in range(SPEAKERS):
        speaker = telegram.add_user(f"Member{i}", "Koval", user_id=SPEAKER_BASE + i)
        telegram.groups[group].members[speaker.id] = FakeMember("member")
    return telegram


async def group_traffic(
    app: Application[Any, Any, Any, Any, Any, Any],
    telegram: FakeTelegram,
    group: int,
    per_second: float,
    done: asyncio.Event,
) -> int:
    """Ordinary group messages at ``per_second`` through ``app`` until ``done``."""
    if per_second <= 0:
        return 0
    sent, start = 0, time.monotonic()
    while not done.is_set():
        speaker = SPEAKER_BASE + sent % SPEAKERS
        sent += 1
        try:
            data = telegram.message(speaker, group, CHATTER[sent % len(CHATTER)])
        except ApiError:  # muted (it should not happen at this pace): the next speaker
            continue
        await app.process_update(Update.de_json(data, app.bot))
        while telegram.pending:  # what Telegram sends back because of the bot's calls
            await app.process_update(Update.de_json(telegram.pending.popleft(), app.bot))
        await asyncio.sleep(max(0.0, start + sent / per_second - time.monotonic()))
    return sent


def counted(
    telegram: FakeTelegram, partners: int, probe: LagProbe, talked: int, extra: str = ""
) -> Result:
    """The run's result: rate, duplicates, losses, 429s, from what the fake Bot API accepted;
    CPU ms per reminder and the worst loop lag (ms) from the first reminder accepted to the
    last."""
    flood = telegram.flood
    assert flood is not None
    reminders = [(t, chat) for t, chat in flood.accepted if chat >= PARTNER_BASE]
    per_partner = Counter(chat for _, chat in reminders)
    duplicates = sum(1 for n in per_partner.values() if n > 1)
    span = reminders[-1][0] - reminders[0][0] if len(reminders) > 1 else 0.0
    rate = (len(reminders) - 1) / span if span else 0.0
    cpu, lag = probe.between(reminders[0][0], reminders[-1][0]) if reminders else (0.0, 0.0)
    cpu_ms = cpu / max(len(reminders) - 1, 1) * 1000
    losses = partners - len(per_partner)
    most_in_flight = telegram.most_in_flight["sendMessage"]
    return Result(
        rate,
        duplicates,
        losses,
        flood.refused,
        cpu_ms,
        lag * 1000,
        probe,
        talked,
        most_in_flight,
        extra,
    )


async def run_bot(url: str, args: argparse.Namespace, jitter: Jitter) -> Result:
    config = config_for(url)
    deadline = DeadlineConfig(
        id="sitrep",
        title="SitRep inputs",
        rule="FREQ=WEEKLY;BYDAY=WE;BYHOUR=12;BYMINUTE=0",
        starts=date(2026, 11, 25),
        remind=[LEAD],
        audience=AudienceConfig(everyone=True),
    )
    update: dict[str, object] = {"deadlines": [deadline]}
    if args.in_flight is not None:
        policy = config.settings.reminders.model_copy(update={"in_flight": args.in_flight})
        update["reminders"] = policy
    config = dataclasses.replace(config, settings=config.settings.model_copy(update=update))
    clock = RealTimeClock(OCCURRENCE - LEAD + timedelta(seconds=1))
    services = build_services(config, clock)
    services.db.upgrade()
    group = config.settings.groups[0].chat_id
    telegram = fake(clock, args.latency, jitter, args.partners, group)
    now = clock.now()
    with services.db.transaction() as session:
        for i in range(args.partners):
            user_id = PARTNER_BASE + i
            session.add(
                User(
                    id=user_id,
                    first_name=f"Partner{i}",
                    is_bot=False,
                    started_bot=True,
                    blocked_bot=False,
                    first_seen=now,
                    last_seen=now,
                )
            )
            session.add(Partner(user_id=user_id, cluster="WASH", created_at=now, updated_at=now))
    telegram.enforce_flood_limits()
    app = build_application(services, FAKE_TOKEN, request=telegram.request(), rate_limit=True)
    await app.initialize()
    await app.start()
    if args.traffic:  # every speaker known to the bot before the fan-out, as in a live group
        for i in range(SPEAKERS):
            data = telegram.message(SPEAKER_BASE + i, group, "hello")
            await app.process_update(Update.de_json(data, app.bot))
    probe, done = LagProbe().start(), asyncio.Event()
    traffic = asyncio.create_task(group_traffic(app, telegram, group, args.traffic, done))
    await on_startup(app)  # schedules the sweeps, the dispatcher among them, as in production
    started = time.monotonic()
    while time.monotonic() - started < args.timeout:
        await asyncio.sleep(1)
        with services.db.transaction() as session:
            open_rows = session.scalar(
                select(func.count())
                .select_from(ReminderOutbox)
                .where(ReminderOutbox.status.in_(["pending", "sending"]))
            )
            total = session.scalar(select(func.count()).select_from(ReminderOutbox))
        if total and not open_rows:
            break
    done.set()
    talked = await traffic
    await probe.stop()
    with services.db.transaction() as session:
        statuses = dict(
            session.execute(
                select(ReminderOutbox.status, func.count()).group_by(ReminderOutbox.status)
            ).all()
        )
    await app.stop()
    await app.shutdown()
    services.db.dispose()
    assert telegram.flood is not None
    group_sends = sum(1 for _, chat in telegram.flood.accepted if chat == group)
    extra = f"outbox {dict(statuses)}, bot's group messages {group_sends}"
    return counted(telegram, args.partners, probe, talked, extra)


async def run_bare(args: argparse.Namespace, jitter: Jitter, in_flight: int) -> Result:
    """A bare PTB Application, the same limiter, the same sends and traffic."""
    clock = RealTimeClock(OCCURRENCE - LEAD)
    group = -1001234567890
    telegram = fake(clock, args.latency, jitter, args.partners, group)
    telegram.enforce_flood_limits()
    request = telegram.request()
    app = (
        ApplicationBuilder()
        .token(FAKE_TOKEN)
        .request(request)
        .get_updates_request(request)
        .rate_limiter(WindowRateLimiter(max_retries=5))
        .build()
    )

    async def noop(update: Update, context: Any) -> None:
        return None

    app.add_handler(MessageHandler(filters.ALL, noop))
    await app.initialize()
    await app.start()
    probe, done = LagProbe().start(), asyncio.Event()
    traffic = asyncio.create_task(group_traffic(app, telegram, group, args.traffic, done))
    slots = asyncio.Semaphore(in_flight)

    async def one(row_id: int, user_id: int) -> None:
        try:
            buttons = [
                [
                    InlineKeyboardButton("✅ Submitted", callback_data=f"dl:s:{row_id}"),
                    InlineKeyboardButton("⏰ Snooze 1 day", callback_data=f"dl:z:{row_id}"),
                ],
                [InlineKeyboardButton("Not applicable this time", callback_data=f"dl:n:{row_id}")],
            ]
            await app.bot.send_message(user_id, TEXT, reply_markup=InlineKeyboardMarkup(buttons))
        finally:
            slots.release()

    tasks = []
    for i in range(args.partners):
        await slots.acquire()
        tasks.append(asyncio.create_task(one(i + 1, PARTNER_BASE + i)))
    await asyncio.gather(*tasks)
    done.set()
    talked = await traffic
    await probe.stop()
    await app.stop()
    await app.shutdown()
    return counted(telegram, args.partners, probe, talked)


def spread(values: list[float], fmt: str) -> str:
    """Median (min–max)."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--partners", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3, help="runs, each bot then baseline")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--busy", action="store_true", help="CPU hog + group traffic + jitter")
    parser.add_argument("--traffic", type=float, default=None, help="group msgs/s (busy: 50)")
    parser.add_argument("--latency", type=float, default=None, help="round trip per call (s)")
    parser.add_argument(
        "--jitter",
        nargs=2,
        default=None,
        metavar=("OUT", "BACK"),
        help="each leg drawn in ms, e.g. 20-100 10-40 (busy default)",
    )
    parser.add_argument("--in-flight", type=int, default=None, help="reminders.in_flight")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.jitter is None and args.busy and args.latency is None:
        args.jitter = ["20-100", "10-40"]
    jitter: Jitter = None
    if args.jitter is not None:
        legs = [tuple(float(x) / 1000 for x in leg.split("-")) for leg in args.jitter]
        jitter = ((legs[0][0], legs[0][1]), (legs[1][0], legs[1][1]))
    args.latency = 0.08 if args.latency is None else args.latency
    args.traffic = (50.0 if args.busy else 0.0) if args.traffic is None else args.traffic
    network = (
        f"jitter {args.jitter[0]} ms out, {args.jitter[1]} ms back"
        if jitter
        else f"latency {args.latency * 1000:.0f} ms"
    )
    conditions = (
        f"{'busy: a CPU hog on one core, ' if args.busy else ''}"
        f"{args.traffic:.0f} group msgs/s, {network}"
    )
    in_flight = args.in_flight or config_for("sqlite:///:memory:").settings.reminders.in_flight
    print(
        f"{args.partners} partners, real time, flood limits enforced, {conditions}, "
        f"in flight {in_flight}, pid {os.getpid()}",
        flush=True,
    )
    bots: list[Result] = []
    bares: list[Result] = []
    loads = [load()]
    name = "SQLite"
    for number in range(1, args.runs + 1):
        with cpu_hog(args.busy):
            with database(args.db) as url:
                name = engine_name(url)
                bot = asyncio.run(run_bot(url, args, jitter))
            bare = asyncio.run(run_bare(args, jitter, in_flight))
        for who, result in (("bot ", bot), ("bare", bare)):
            print(
                f"  run {number} {who}: {result.rate:.2f} msgs/s ({result.fraction:.3f} of 30/s), "
                f"duplicates {result.duplicates}, losses {result.losses}, 429s {result.refused}, "
                f"CPU {result.cpu_ms:.2f} ms/reminder, loop lag {result.lag_ms:.0f} ms "
                f"(whole run, start-up included: {result.lag.text()}), "
                f"group msgs {result.traffic}, most in flight {result.most_in_flight}"
                f"{'; ' + result.extra if result.extra else ''}",
                flush=True,
            )
        bots.append(bot)
        bares.append(bare)
        loads.append(load())
    print(f"load: {' → '.join(loads)}")
    fractions = [b.fraction for b in bots]
    ratio = [b.cpu_ms / max(p.cpu_ms, 1e-9) for b, p in zip(bots, bares, strict=True)]
    duplicates = sum(b.duplicates for b in bots)
    losses = sum(b.losses for b in bots)
    worst_lag = max(b.lag_ms for b in bots)
    summary(
        "fanout",
        f"{name}, {args.partners} partners, {conditions}, {args.runs} runs: "
        f"{spread(fractions, '.3f')} of 30/s (target ≥ 0.95; bare PTB + same limiter "
        f"{spread([p.fraction for p in bares], '.3f')}), duplicates {duplicates}, "
        f"losses {losses}, 429s {sum(b.refused for b in bots)}; CPU/reminder "
        f"{spread([b.cpu_ms for b in bots], '.2f')} ms vs bare "
        f"{spread([p.cpu_ms for p in bares], '.2f')} ms = {spread(ratio, '.1f')}× "
        f"(target ≤ 3×); loop lag worst {worst_lag:.0f} ms (bare "
        f"{max(p.lag_ms for p in bares):.0f} ms; target < 50); {loads[0]}",
        ok=statistics.median(fractions) >= 0.95
        and duplicates == 0
        and losses == 0
        and statistics.median(ratio) <= 3
        and worst_lag < 50,
    )


if __name__ == "__main__":
    main()
