"""Start-up failures of a real ``imbot run``: one line saying what to check, its exit code,
no traceback (unless ``--debug``), never the token."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulation.http import FakeTelegramServer
from tests.processes import TOKEN, BotProcess, write_config

WEBHOOK_SECRET = "process-test-webhook-secret"


def finished(bot: BotProcess) -> tuple[int, list[str]]:
    code = bot.process.wait(60)
    return code, [line for line in bot.output().splitlines() if line.strip()]


INFO_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ")


def assert_clean(lines: list[str], *, expected_in: str) -> None:
    """Apart from ordinary INFO log lines (migrations, start-up), exactly one line: the reason."""
    text = "\n".join(lines)
    problems = [line for line in lines if not INFO_LOG.match(line)]
    assert len(problems) == 1, text
    assert problems[0] == lines[-1], text
    assert problems[0].startswith("error: "), text
    assert expected_in.lower() in problems[0].lower(), text
    assert "Traceback" not in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert WEBHOOK_SECRET not in text


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    tmp_path: Path,
    api_url: str,
    database_url: str,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> BotProcess:
    config = write_config(tmp_path, "10m")
    return BotProcess("bot", config, database_url, api_url, tmp_path, args, env)


def test_a_rejected_token_is_one_line_exit_4_without_the_token(
    tmp_path: Path, server: FakeTelegramServer, database_url: str
) -> None:
    server.reject_tokens = True
    code, lines = finished(start(tmp_path, server.url(), database_url))
    assert code == 4
    assert_clean(lines, expected_in="rejected BOT_TOKEN")


def test_with_debug_the_traceback_is_shown_but_never_the_token(
    tmp_path: Path, server: FakeTelegramServer, database_url: str
) -> None:
    server.reject_tokens = True
    bot = start(tmp_path, server.url(), database_url, ("--debug",))
    code = bot.process.wait(60)
    assert code == 4
    assert "Traceback" in bot.output()
    assert "rejected BOT_TOKEN" in bot.output().splitlines()[-1]
    assert TOKEN.split(":")[1] not in bot.output()


def test_telegram_unreachable_is_one_line_exit_5(tmp_path: Path, database_url: str) -> None:
    absent = f"http://127.0.0.1:{free_port()}/bot"
    code, lines = finished(start(tmp_path, absent, database_url))
    assert code == 5
    assert_clean(lines, expected_in="cannot reach Telegram at http://127.0.0.1:")


def test_a_taken_port_is_one_line_exit_6(
    tmp_path: Path, server: FakeTelegramServer, database_url: str, occupied_port: int
) -> None:
    args = ("--webhook-url", "https://bot.example.org/hook", "--port", str(occupied_port))
    bot = start(tmp_path, server.url(), database_url, args, {"WEBHOOK_SECRET": WEBHOOK_SECRET})
    code, lines = finished(bot)
    assert code == 6
    assert_clean(lines, expected_in=f"cannot listen on 127.0.0.1:{occupied_port}")


def test_a_webhook_url_telegram_refuses_is_one_line_exit_7(
    tmp_path: Path, server: FakeTelegramServer, database_url: str
) -> None:
    args = ("--webhook-url", "http://bot.example.org/hook", "--port", str(free_port()))
    bot = start(tmp_path, server.url(), database_url, args, {"WEBHOOK_SECRET": WEBHOOK_SECRET})
    code, lines = finished(bot)
    assert code == 7
    assert_clean(lines, expected_in="An HTTPS URL must be provided")


def test_webhook_mode_without_a_secret_is_one_line_exit_2(
    tmp_path: Path, server: FakeTelegramServer, database_url: str
) -> None:
    args = ("--webhook-url", "https://bot.example.org/hook")
    code, lines = finished(start(tmp_path, server.url(), database_url, args))
    assert code == 2
    assert_clean(lines, expected_in="WEBHOOK_SECRET")


def test_an_unreachable_database_is_one_line_exit_3(
    tmp_path: Path, server: FakeTelegramServer
) -> None:
    missing = f"sqlite:///{tmp_path / 'no-such-folder' / 'imbot.db'}"
    code, lines = finished(start(tmp_path, server.url(), missing))
    assert code == 3
    assert_clean(lines, expected_in="Check DATABASE_URL")


def test_an_impossible_date_is_a_config_error_with_its_line(
    tmp_path: Path, server: FakeTelegramServer, database_url: str
) -> None:
    config = write_config(tmp_path, "10m")
    text = config.read_text()
    starts = next(line for line in text.splitlines() if "starts:" in line)
    config.write_text(text.replace(starts, starts.split("starts:")[0] + "starts: 2026-02-30"))
    line_number = text.splitlines().index(starts) + 1
    bot = BotProcess("bot", config, database_url, server.url(), tmp_path)
    code, lines = finished(bot)
    assert code == 2
    assert "Traceback" not in bot.output()
    assert any(f"{config}:{line_number}: '2026-02-30' is not a date" in line for line in lines)
