"""Files from a self-hosted Bot API server: a moderator's CSV import in a real `imbot run`.

The bot fetches an uploaded file in two steps, as Telegram documents: ``getFile`` on the Bot
API address answers a ``file_path``, and the file itself is at
``<file address>/bot<token>/<file_path>``. Telegram's file address is
``https://api.telegram.org/file/bot``; a self-hosted server serves files at ``/file/bot`` on its
own address, unless it runs with ``--local``, when ``file_path`` is an absolute path on its disk.
Each test runs the bot against the fake Bot API over HTTP and checks where the file came from
(the fake records the prefix each download used) and that the moderator got the dry-run report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from config.loader import file_url_for
from simulation.http import FakeTelegramServer
from tests.processes import BotProcess, wait_for, write_config

MODERATOR = 7_300_001
CSV = (
    b"name,organisation,clusters,phone,email,telegram,focal_point\n"
    b"Petro Shevchenko,NRC,Shelter/NFI,+380 44 123 4567,petro@nrc.org,@petro_s,yes\n"
    b"Anna Bondar,IOM,CCCM,,anna@iom.int,,no\n"
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    started: list[BotProcess] = []
    yield started
    for process in started:
        process.stop_quietly()


def import_report(
    server: FakeTelegramServer,
    processes: list[BotProcess],
    tmp_path: Path,
    database_url: str,
    api_url: str,
    settings: dict[str, object] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Start the bot, let the moderator send a CSV in private chat, return the bot's answer."""
    telegram = server.telegram
    if MODERATOR not in telegram.users:
        telegram.add_user("Oksana", "Moroz", "oksana_m", user_id=MODERATOR)
    config = write_config(
        tmp_path, lease="30s", extra={"moderators": [MODERATOR], **(settings or {})}
    )
    bot = BotProcess("bot", config, database_url, api_url, tmp_path, env=env)
    processes.append(bot)
    wait_for(lambda: "receives updates" in bot.output(), 60, "the bot to poll")
    server.push_update(telegram.document(MODERATOR, MODERATOR, "partners.csv", CSV))

    def answered() -> bool:
        return any(int(call.params["chat_id"]) == MODERATOR for call in server.sent() if call.ok)

    wait_for(answered, 60, "the bot's answer to the CSV")
    texts = [str(c.params["text"]) for c in server.sent() if int(c.params["chat_id"]) == MODERATOR]
    return texts[-1]


def test_file_address_follows_a_self_hosted_bot_api_url(
    server: FakeTelegramServer, processes: list[BotProcess], tmp_path: Path, database_url: str
) -> None:
    # Only BOT_API_URL is set (with the prefix "selfhosted"): the file must come from the same
    # server, at /selfhosted/file/bot…, not from api.telegram.org.
    report = import_report(server, processes, tmp_path, database_url, server.url("selfhosted"))
    assert report.startswith("Dry run of <b>\u2068partners.csv\u2069</b>") and "2 new" in report, (
        report
    )
    assert [(d.client, d.ok) for d in server.downloads] == [("selfhosted", True)]
    assert server.downloads[0].params["path"].endswith("_partners.csv")


def test_file_address_from_its_own_environment_variable(
    server: FakeTelegramServer, processes: list[BotProcess], tmp_path: Path, database_url: str
) -> None:
    # Files served under another prefix than the API (as behind a proxy that splits them).
    files = f"http://{server.host}:{server.port}/files/file/bot"
    report = import_report(
        server,
        processes,
        tmp_path,
        database_url,
        server.url("api"),
        env={"BOT_API_FILE_URL": files},
    )
    assert "2 new" in report, report
    assert [(d.client, d.ok) for d in server.downloads] == [("files", True)]
    assert {c.client for c in server.calls} == {"api"}  # every API call still went to the API


def test_file_address_from_the_configuration_file(
    server: FakeTelegramServer, processes: list[BotProcess], tmp_path: Path, database_url: str
) -> None:
    files = f"http://{server.host}:{server.port}/fromconfig/file/bot"
    report = import_report(
        server,
        processes,
        tmp_path,
        database_url,
        server.url("api"),
        settings={"bot_api_file_url": files},
    )
    assert "2 new" in report, report
    assert [(d.client, d.ok) for d in server.downloads] == [("fromconfig", True)]


def test_local_mode_reads_the_file_from_the_servers_disk(
    server: FakeTelegramServer, processes: list[BotProcess], tmp_path: Path, database_url: str
) -> None:
    # A server started with --local answers an absolute path on its disk (shared with the bot).
    server.telegram.local_files = tmp_path / "bot-api-server"
    report = import_report(
        server,
        processes,
        tmp_path,
        database_url,
        server.url("local"),
        settings={"bot_api_local": True},
    )
    assert report.startswith("Dry run of <b>\u2068partners.csv\u2069</b>") and "2 new" in report, (
        report
    )
    assert server.downloads == []  # nothing fetched over HTTP
    getfile = [c for c in server.calls if c.method == "getFile"]
    assert len(getfile) == 1 and getfile[0].client == "local"


def test_local_mode_with_a_disk_the_bot_cannot_see_answers_politely(
    server: FakeTelegramServer, processes: list[BotProcess], tmp_path: Path, database_url: str
) -> None:
    # The server's working directory is not mounted into the bot's machine: the moderator is
    # told nothing was imported, the log says what to fix without the path (it holds the token).
    server.telegram.local_files = tmp_path / "on-another-machine"
    server.telegram.local_files_shared = False
    report = import_report(
        server,
        processes,
        tmp_path,
        database_url,
        server.url("local"),
        settings={"bot_api_local": True},
    )
    assert "cannot read uploaded files" in report and "Nothing was imported" in report, report
    assert server.downloads == []
    log = processes[0].output()
    assert "cannot read" in log and "working directory" in log
    assert "on-another-machine" not in log and "Traceback" not in log
    assert processes[0].process.poll() is None


def check_config(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environment, **env},
        cwd=ROOT,
    )


def config_file(tmp_path: Path, **settings: object) -> Path:
    path = tmp_path / "imbot.yaml"
    data = {"groups": [{"chat_id": -1001, "title": "G"}], **settings}
    path.write_text(yaml.safe_dump(data))
    return path


def test_local_mode_without_a_self_hosted_server_is_refused(tmp_path: Path) -> None:
    answer = check_config(config_file(tmp_path, bot_api_local=True), {})
    assert answer.returncode == 2, answer
    assert "bot_api_local" in answer.stderr and "BOT_API_URL" in answer.stderr
    assert "Traceback" not in answer.stderr
    answer = check_config(config_file(tmp_path), {"BOT_API_LOCAL": "true"})
    assert answer.returncode == 2 and "--local" in answer.stderr, answer
    fine = check_config(
        config_file(tmp_path, bot_api_local=True, bot_api_url="http://127.0.0.1:8081/bot"), {}
    )
    assert fine.returncode == 0, fine


def test_a_file_address_that_is_no_web_address_is_refused(tmp_path: Path) -> None:
    answer = check_config(config_file(tmp_path, bot_api_file_url="ftp://files.example.org"), {})
    assert answer.returncode == 2 and "bot_api_file_url" in answer.stderr, answer
    assert "Traceback" not in answer.stderr
    answer = check_config(config_file(tmp_path), {"BOT_API_FILE_URL": "files.example.org/bot"})
    assert answer.returncode == 2 and "BOT_API_FILE_URL" in answer.stderr, answer


def test_derived_file_addresses() -> None:
    # Telegram: https://api.telegram.org/bot<token>/METHOD, files at …/file/bot<token>/<path>.
    assert file_url_for("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    # telegram-bot-api (self-hosted, without --local) serves files the same way on its address.
    assert file_url_for("http://127.0.0.1:8081/bot") == "http://127.0.0.1:8081/file/bot"
    assert file_url_for("https://tg.example.org/api/bot/") == "https://tg.example.org/api/file/bot"
