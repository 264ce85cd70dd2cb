"""The bot's HTTP server in real `imbot run` processes: health, readiness, metrics, webhook.

Each process gets ``http.port: 0`` and the test reads the bound port from its log. Metrics are
parsed with Prometheus's own text parser; readiness follows the database's schema revision.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.startup import CANNOT_LISTEN
from simulation.http import FakeTelegramServer
from storage.db import Database
from tests.processes import BotProcess, needs_postgresql, wait_for, write_config
from tests.test_outage import TcpProxy

SECRET = "hook_Secret-7"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop_quietly()


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def healthcheck(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "healthcheck", "--url", url],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parent.parent,
    )


def test_polling_replica_answers_health_readiness_and_metrics_that_count_updates(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Petrenko", "olena_p", user_id=7_100_001)
    bot = BotProcess("a", write_config(tmp_path, lease="30s"), database_url, server.url(), tmp_path)
    processes.append(bot)
    base = f"http://127.0.0.1:{bot.http_port()}"
    wait_for(lambda: "receives updates" in bot.output(), 30, "polling to start")
    with httpx.Client(timeout=10) as client:
        health = client.get(f"{base}/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert health.headers["content-type"] == "application/json"
        ready = client.get(f"{base}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "ready",
            "database": "ok",
            "schema": "current",
            "role": "polling",
            "last_update_age_seconds": None,
            "problems": [],
        }
        assert client.get(f"{base}/nothing-here").status_code == 404
        refused = client.post(f"{base}/healthz")
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
        assert client.head(f"{base}/healthz").status_code == 200

        before = samples(client.get(f"{base}/metrics").text)
        assert before[("imbot_updates_total", (("kind", "message"),))] == 0
        assert before[("imbot_replica_role", (("role", "polling"),))] == 1
        assert before[("imbot_replica_role", (("role", "standby"),))] == 0
        assert before[("imbot_database_up", ())] == 1
        assert before[("imbot_outbox_depth", (("outbox", "reminders"), ("state", "due")))] == 0
        assert ("imbot_sweep_lag_seconds", (("sweep", "deadline-dispatch"),)) in before

        server.push_update(telegram.message(olena.id, olena.id, "/start"))
        wait_for(lambda: bool(server.sent()), 30, "the reply to /start")

        def counted() -> bool:
            now = samples(client.get(f"{base}/metrics").text)
            return now[("imbot_updates_total", (("kind", "message"),))] == 1

        wait_for(counted, 30, "the update counted")
        response = client.get(f"{base}/metrics")
        assert response.headers["content-type"].startswith("text/plain")
        after = samples(response.text)
        assert after[("imbot_update_handling_seconds_count", ())] >= 1
        assert after[("imbot_messages_sent_total", (("method", "sendMessage"),))] >= 1
        assert after[("imbot_telegram_429_total", ())] == 0
        assert after[("process_resident_memory_bytes", ())] > 0
        for personal in ("Olena", "Petrenko", "olena_p", str(olena.id)):
            assert personal not in response.text
        ready = client.get(f"{base}/readyz").json()
        assert ready["status"] == "ready" and ready["last_update_age_seconds"] is not None
    assert healthcheck(f"{base}/healthz").returncode == 0
    assert healthcheck(f"{base}/readyz").returncode == 0
    assert bot.terminate() == 0


def test_readyz_is_503_while_the_schema_is_behind_and_ready_again_after(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    bot = BotProcess("a", write_config(tmp_path, lease="30s"), database_url, server.url(), tmp_path)
    processes.append(bot)
    base = f"http://127.0.0.1:{bot.http_port()}"
    wait_for(lambda: "receives updates" in bot.output(), 30, "polling to start")
    database = Database(database_url)
    with database.engine.begin() as connection:
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0001_roster'"))
    try:
        with httpx.Client(timeout=10) as client:
            behind = client.get(f"{base}/readyz")
            assert behind.status_code == 503
            assert behind.json()["schema"] == "behind"
            assert behind.json()["problems"] == ["database schema behind"]
            assert client.get(f"{base}/healthz").status_code == 200  # alive all the same
            assert healthcheck(f"{base}/readyz").returncode == 1
            with database.engine.begin() as connection:
                connection.execute(
                    text("UPDATE alembic_version SET version_num = :head"), {"head": head}
                )
            again = client.get(f"{base}/readyz")
            assert (again.status_code, again.json()["status"]) == (200, "ready")
    finally:
        database.dispose()
    assert bot.terminate() == 0


@pytest.mark.postgresql
@needs_postgresql
def test_readyz_is_503_during_a_database_outage_and_ready_again_after(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    bot = BotProcess(
        "a", write_config(tmp_path, lease="30s"), through_proxy, server.url(), tmp_path
    )
    processes.append(bot)
    try:
        base = f"http://127.0.0.1:{bot.http_port()}"
        wait_for(lambda: "receives updates" in bot.output(), 30, "polling to start")
        with httpx.Client(timeout=20) as client:
            assert client.get(f"{base}/readyz").status_code == 200
            proxy.cut()
            down = client.get(f"{base}/readyz")
            assert down.status_code == 503
            assert (down.json()["database"], down.json()["problems"]) == (
                "unreachable",
                ["database unreachable"],
            )
            assert client.get(f"{base}/healthz").status_code == 200
            metrics = samples(client.get(f"{base}/metrics").text)
            assert metrics[("imbot_database_up", ())] == 0
            assert metrics[("imbot_database_errors_total", ())] >= 1
            proxy.open()

            def ready() -> bool:
                return client.get(f"{base}/readyz").status_code == 200

            wait_for(ready, 30, "ready again")
            assert samples(client.get(f"{base}/metrics").text)[("imbot_database_up", ())] == 1
        assert bot.terminate() == 0
    finally:
        bot.stop_quietly()
        proxy.stop()


def test_webhook_posts_reach_the_shared_server_only_with_the_secret(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Petrenko", "olena_p", user_id=7_100_002)
    url = "https://bot.example.org/tg-hook"
    bot = BotProcess(
        "w",
        write_config(tmp_path, lease="30s"),
        database_url,
        server.url(),
        tmp_path,
        args=("--webhook-url", url),
        env={"WEBHOOK_SECRET": SECRET},
    )
    processes.append(bot)
    base = f"http://127.0.0.1:{bot.http_port()}"
    wait_for(lambda: "receiving updates by webhook" in bot.output(), 30, "the webhook")
    registered = [c for c in server.telegram.calls if c.method == "setWebhook"]
    assert registered and registered[-1].params["url"] == url
    assert registered[-1].params["secret_token"] == SECRET
    start = json.dumps(telegram.message(olena.id, olena.id, "/start"))
    with httpx.Client(timeout=10) as client:
        missing = client.post(f"{base}/tg-hook", content=start)
        wrong = client.post(f"{base}/tg-hook", content=start, headers={HEADER: SECRET + "x"})
        junk = client.post(f"{base}/tg-hook", content=b"[1, 2", headers={HEADER: SECRET})
        assert (missing.status_code, wrong.status_code, junk.status_code) == (403, 403, 400)
        assert client.get(f"{base}/tg-hook").status_code == 405
        ready = client.get(f"{base}/readyz").json()
        assert (ready["status"], ready["role"]) == ("ready", "webhook")
        assert server.sent() == []  # nothing refused was processed
        right = client.post(f"{base}/tg-hook", content=start, headers={HEADER: SECRET})
        assert right.status_code == 200
        wait_for(lambda: bool(server.sent()), 30, "the reply to /start")
        metrics = samples(client.get(f"{base}/metrics").text)
        assert metrics[("imbot_updates_total", (("kind", "message"),))] == 1
        assert metrics[("imbot_replica_role", (("role", "webhook"),))] == 1
    replies = [c for c in server.sent() if int(c.params["chat_id"]) == olena.id]
    # As the person reads it: without the direction isolates around their name.
    read = str(replies[0].params["text"]).translate(dict.fromkeys(range(0x2066, 0x206A)))
    assert len(replies) == 1 and "Hello Olena" in read
    assert SECRET not in bot.output()
    assert bot.terminate() == 0


def test_port_taken_is_one_clear_line_and_exit_code_6(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = BotProcess(
            "p",
            write_config(tmp_path, lease="30s"),
            database_url,
            server.url(),
            tmp_path,
            args=("--port", str(port)),
        )
        processes.append(bot)
        assert bot.process.wait(60) == CANNOT_LISTEN
    output = bot.output()
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use). Check --listen "
        "and --port: another process may use the port, or the address is not this machine's."
    ]
    assert not [c for c in server.telegram.calls if c.method == "getUpdates"]  # failed first


def test_healthcheck_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = healthcheck(f"http://127.0.0.1:{port}/healthz")
    assert result.returncode == 1
    assert result.stderr.startswith(f"unhealthy: cannot reach http://127.0.0.1:{port}/healthz")


@pytest.mark.postgresql
@needs_postgresql
def test_a_standby_is_ready_and_both_replicas_show_in_the_metrics(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    config = write_config(tmp_path, lease="30s")
    leader = BotProcess("a", config, database_url, server.url("a"), tmp_path)
    processes.append(leader)
    wait_for(lambda: "receives updates" in leader.output(), 30, "the first replica polling")
    standby = BotProcess("b", config, database_url, server.url("b"), tmp_path)
    processes.append(standby)
    wait_for(lambda: "standby" in standby.output(), 30, "the second replica standing by")
    base = f"http://127.0.0.1:{standby.http_port()}"
    assert standby.http_port() != leader.http_port()
    with httpx.Client(timeout=10) as client:
        ready = client.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert (ready.json()["status"], ready.json()["role"]) == ("ready", "standby")

        def both_running() -> bool:
            found = samples(client.get(f"{base}/metrics").text)
            return (
                found[("imbot_replicas_running", (("role", "polling"),))] == 1
                and found[("imbot_replicas_running", (("role", "standby"),))] == 1
            )

        wait_for(both_running, 40, "both heartbeats")
        mine = samples(client.get(f"{base}/metrics").text)
        assert mine[("imbot_replica_role", (("role", "standby"),))] == 1
    assert standby.terminate() == 0
    assert leader.terminate() == 0


def test_a_calendar_feed_is_served_by_the_running_bot_cached_and_revocable(
    database_url: str, tmp_path: Path, server: FakeTelegramServer, processes: list[BotProcess]
) -> None:
    """/calendar in private chat gives an address under http.public_url; the real process
    serves it (ETag → 304), and "Stop the link" makes it 404 at once."""
    telegram = server.telegram
    olena = telegram.add_user("Olena", "Petrenko", "olena_p", user_id=7_100_001)
    extra: dict[str, object] = {
        "moderators": [olena.id],
        "http": {"port": 0, "public_url": "https://bot.example.org"},
    }
    settings = write_config(tmp_path, "30s", extra)
    bot = BotProcess("a", settings, database_url, server.url(), tmp_path)
    processes.append(bot)
    base = f"http://127.0.0.1:{bot.http_port()}"
    wait_for(lambda: "receives updates" in bot.output(), 30, "polling to start")
    server.push_update(telegram.message(olena.id, olena.id, "/start"))
    wait_for(lambda: bool(server.sent()), 30, "the reply to /start")
    server.push_update(telegram.message(olena.id, olena.id, "/calendar"))

    def offer() -> str | None:
        found = [c for c in server.sent() if "/calendar/" in str(c.params.get("text", ""))]
        return str(found[-1].params["text"]) if found else None

    wait_for(lambda: offer() is not None, 30, "the subscription link")
    links = re.findall(r"https://bot\.example\.org(/calendar/[A-Za-z0-9_-]+\.ics)", offer() or "")
    assert len(links) == 1, offer()
    with httpx.Client(timeout=10) as client:
        feed = client.get(base + links[0])
        assert feed.status_code == 200, feed.text
        assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
        assert "SitRep inputs" in feed.text and "BEGIN:VEVENT" in feed.text
        again = client.get(base + links[0], headers={"If-None-Match": feed.headers["etag"]})
        assert (again.status_code, again.content) == (304, b"")
        guessed = client.get(base + links[0].replace(links[0][11:15], "AAAA"))
        assert guessed.status_code == 404 and "Olena" not in guessed.text

        (chat, message_id), message = max(
            (key, m) for key, m in telegram.messages.items() if key[0] == olena.id
        )
        stop = next(b["callback_data"] for b in message.buttons() if "stop" in b["callback_data"])
        server.push_update(telegram.press(olena.id, chat, message_id, stop))
        wait_for(lambda: client.get(base + links[0]).status_code == 404, 30, "the link stopped")
    assert bot.terminate() == 0
