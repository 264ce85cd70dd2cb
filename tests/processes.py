"""Real ``imbot run`` processes against the fake Bot API over HTTP, for the operations tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from moderation.clock import SystemClock
from simulation.faketg import FakeTelegram
from simulation.http import FakeTelegramServer
from storage.db import Database
from storage.models import Partner, ReminderOutbox, User

GROUP_ID = -1001234567890
TOKEN = "123456:PROCESS-TEST-token"
FIRST_PARTNER = 5_000_001

needs_postgresql = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="needs PostgreSQL: set TEST_DATABASE_URL="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test",
)


def write_config(
    folder: Path, lease: str, extra: dict[str, object] | None = None, stall_limit: str = "2m"
) -> Path:
    """A deadline whose reminder (3 h before, due 1-2 h ago) is due for every WASH partner.

    ``stall_limit`` also bounds how long a sent reminder's mark is retried (half of it, at most
    60 s): a database outage longer than that would let the row be taken over and sent again.
    """
    now = datetime.now(UTC)
    occurrence = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    settings: dict[str, object] = {
        "timezone": "UTC",
        "moderators": [],
        "clusters": ["WASH"],
        "organisations": ["UNICEF"],
        "groups": [{"chat_id": GROUP_ID, "title": "Process test group"}],
        "sweep_every": {"deadline-dispatch": "2s"},
        "reminders": {"lease": lease, "stall_limit": stall_limit},
        "http": {"listen": "127.0.0.1", "port": 0},  # any free port: read it from the log
        "deadlines": [
            {
                "id": "sitrep",
                "title": "SitRep inputs",
                "rule": f"FREQ=DAILY;BYHOUR={occurrence.hour};BYMINUTE=0",
                "starts": (now - timedelta(days=2)).date().isoformat(),
                "remind": ["3h"],
                "audience": {"clusters": "all"},
            }
        ],
        **(extra or {}),
    }
    path = folder / "imbot.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path


def seed_partners(database_url: str, telegram: FakeTelegram, count: int) -> list[int]:
    """``count`` people who started the bot and are WASH partners, in the database and fake."""
    database = Database(database_url)
    database.upgrade()
    now = datetime.now(UTC)
    ids = list(range(FIRST_PARTNER, FIRST_PARTNER + count))
    with database.transaction() as session:
        for user_id in ids:
            session.add(
                User(
                    id=user_id,
                    first_name=f"Partner{user_id}",
                    started_bot=True,
                    first_seen=now,
                    last_seen=now,
                )
            )
            session.add(Partner(user_id=user_id, cluster="WASH", created_at=now, updated_at=now))
    database.dispose()
    for user_id in ids:
        telegram.add_user(f"Partner{user_id}", user_id=user_id)
        telegram.started.add(user_id)
    return ids


def fake_telegram() -> tuple[FakeTelegram, FakeTelegramServer]:
    telegram = FakeTelegram(SystemClock())
    telegram.add_group(GROUP_ID, "Process test group")
    return telegram, FakeTelegramServer(telegram).start()


class BotProcess:
    def __init__(
        self,
        name: str,
        config: Path,
        database_url: str,
        api_url: str,
        folder: Path,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        environment = {
            **os.environ,
            "DATABASE_URL": database_url,
            "BOT_TOKEN": TOKEN,
            "BOT_API_URL": api_url,
            **(env or {}),
        }
        environment.pop("IMBOT_CONFIG", None)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from bot.entry import main; main()",
                    "run",
                    "--config",
                    str(config),
                    *args,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=Path(__file__).resolve().parent.parent,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def http_port(self, timeout: float = 30) -> int:
        """The port the process's HTTP server listens on, as its log says at start."""
        found: list[int] = []

        def logged() -> bool:
            match = re.search(r"HTTP server listening on \S+ port (\d+)", self.output())
            if match:
                found.append(int(match.group(1)))
            return bool(match)

        wait_for(logged, timeout, f"{self.name}'s HTTP server")
        return found[0]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop_quietly(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def deliveries(server: FakeTelegramServer, partners: list[int]) -> Counter[int]:
    """How many reminders each partner received (sendMessage accepted by the fake)."""
    wanted = set(partners)
    counts: Counter[int] = Counter()
    for call in server.sent():
        chat_id = int(call.params["chat_id"])
        if chat_id in wanted and "SitRep inputs" in str(call.params.get("text", "")):
            counts[chat_id] += 1
    return counts


def outbox_statuses(database_url: str) -> Counter[str]:
    database = Database(database_url)
    with database.transaction() as session:
        statuses = Counter(row.status for row in session.query(ReminderOutbox))
    database.dispose()
    return statuses


def marked_sent(database_url: str, user_ids: set[int]) -> int:
    """How many of these recipients' reminders are marked sent in the outbox."""
    database = Database(database_url)
    with database.transaction() as session:
        rows = session.query(ReminderOutbox.user_id).filter(ReminderOutbox.status == "sent")
        count = sum(1 for (user_id,) in rows if user_id in user_ids)
    database.dispose()
    return count
