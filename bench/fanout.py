"""Reminder fan-out: one deadline occurrence to 5,000 partners at Telegram's pace.

    .venv/bin/python -m bench.fanout [--db sqlite|postgresql|URL] [--partners N]
                                     [--latency SECONDS] [--in-flight N]

Runs in REAL time (about 170 s for 5,000 partners): the bot is started as in production —
``build_application`` with its rate limiter (bot/ratelimit.py), the JobQueue running every sweep,
the deadline dispatcher (handlers/deadlines.py) among them every 30 s — against the fake Bot API
with Telegram's flood limits enforced (bot/faketg.py ``enforce_flood_limits``: 30 messages/s
overall, 20/min per group, 429 with ``retry_after`` beyond). The bot's clock follows real time from
just after the reminder falls due. Reported: achieved messages/s over the span from the first to
the last delivery, as a fraction of 30/s (target ≥ 0.95); duplicates (partners with more than one
reminder, target 0) and losses (partners without one, target 0); 429s received.

Every Bot API call takes ``--latency`` seconds of real time (default 0.08: a round trip to the
real Telegram is 50–100 ms), half before the fake handles it, half after, so calls overlap as
they do over a network. ``--in-flight`` overrides ``reminders.in_flight`` (the dispatcher's
sends under way at once; 1 = one at a time, as before that setting existed).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bench.common import config_for, database, engine_name, summary
from bot.app import build_application, build_services, on_startup
from config.schema import AudienceConfig, DeadlineConfig
from simulation.faketg import FakeTelegram
from simulation.simulator import FAKE_TOKEN
from storage.models import Partner, ReminderOutbox, User

OCCURRENCE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday 12:00 Kyiv
LEAD = timedelta(hours=3)
PARTNER_BASE = 50_000_000
CEILING = 30.0


class RealTimeClock:
    """The bot's clock: real time, starting at ``start``."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


async def run(
    url: str, partners: int, give_up: float, latency: float, in_flight: int | None
) -> tuple[FakeTelegram, dict[str, int]]:
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
    if in_flight is not None:
        update["reminders"] = config.settings.reminders.model_copy(update={"in_flight": in_flight})
    config = dataclasses.replace(config, settings=config.settings.model_copy(update=update))
    clock = RealTimeClock(OCCURRENCE - LEAD + timedelta(seconds=1))
    services = build_services(config, clock)
    services.db.upgrade()
    telegram = FakeTelegram(clock)
    telegram.latency = latency
    for group in config.settings.groups:
        telegram.add_group(group.chat_id, group.title)
    now = clock.now()
    with services.db.transaction() as session:
        for i in range(partners):
            user = telegram.add_user(f"Partner{i}", user_id=PARTNER_BASE + i)
            telegram.started.add(user.id)
            session.add(
                User(
                    id=user.id,
                    first_name=user.first_name,
                    is_bot=False,
                    started_bot=True,
                    blocked_bot=False,
                    first_seen=now,
                    last_seen=now,
                )
            )
            session.add(
                Partner(
                    user_id=user.id,
                    cluster="WASH",
                    organisation=None,
                    created_at=now,
                    updated_at=now,
                )
            )
    telegram.enforce_flood_limits()
    app = build_application(services, FAKE_TOKEN, request=telegram.request(), rate_limit=True)
    await app.initialize()
    await app.start()
    await on_startup(app)  # schedules the sweeps, the dispatcher among them, as in production
    started = time.monotonic()
    while time.monotonic() - started < give_up:
        await asyncio.sleep(2)
        with services.db.transaction() as session:
            open_rows = session.scalar(
                select(func.count())
                .select_from(ReminderOutbox)
                .where(ReminderOutbox.status.in_(["pending", "sending"]))
            )
            total = session.scalar(select(func.count()).select_from(ReminderOutbox))
        if total and not open_rows:
            break
    with services.db.transaction() as session:
        statuses = dict(
            session.execute(
                select(ReminderOutbox.status, func.count()).group_by(ReminderOutbox.status)
            ).all()
        )
    await app.stop()
    await app.shutdown()
    return telegram, {str(k): int(v) for k, v in statuses.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgresql or a URL")
    parser.add_argument("--partners", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (s)")
    parser.add_argument(
        "--latency", type=float, default=0.08, help="simulated round trip per call (s)"
    )
    parser.add_argument(
        "--in-flight", type=int, default=None, help="reminders.in_flight (default: the setting)"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with database(args.db) as url:
        telegram, statuses = asyncio.run(
            run(url, args.partners, args.timeout, args.latency, args.in_flight)
        )
    flood = telegram.flood
    assert flood is not None
    reminders = [(t, chat) for t, chat in flood.accepted if chat >= PARTNER_BASE]
    per_partner = Counter(chat for _, chat in reminders)
    duplicates = sum(1 for n in per_partner.values() if n > 1)
    losses = args.partners - len(per_partner)
    span = reminders[-1][0] - reminders[0][0] if len(reminders) > 1 else 0.0
    rate = (len(reminders) - 1) / span if span else 0.0
    fraction = rate / CEILING
    in_flight = args.in_flight if args.in_flight is not None else "default"
    print(
        f"{engine_name(url)}, {args.partners} partners, real time, flood limits enforced, "
        f"latency {args.latency * 1000:.0f} ms, in flight {in_flight} "
        f"(most sendMessage calls under way at once: {telegram.most_in_flight['sendMessage']})"
    )
    print(f"delivered {len(reminders)} in {span:.1f}s: {rate:.2f} msgs/s ({fraction:.3f} of 30/s)")
    print(f"429 answers: {flood.refused}; outbox: {statuses}")
    summary(
        "fanout",
        f"{engine_name(url)}: {rate:.1f} msgs/s = {fraction:.3f} of 30/s (target ≥ 0.95), "
        f"duplicates {duplicates}, losses {losses}, 429s {flood.refused} "
        f"(real time, {args.latency * 1000:.0f} ms latency, at most "
        f"{telegram.most_in_flight['sendMessage']} sends in flight)",
        ok=fraction >= 0.95 and duplicates == 0 and losses == 0,
    )


if __name__ == "__main__":
    main()
