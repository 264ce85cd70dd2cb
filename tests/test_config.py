"""Configuration validation and the CLI's refusals: each a clear message and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from bot.cli import main
from config.loader import ConfigError, Environment, load_settings
from storage.db import head_revision
from tests.conftest import EXAMPLE

VALID = """\
timezone: Europe/Kyiv
moderators: [111]
groups:
  - chat_id: -100123
    title: Test group
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return caught.value.problems


def test_example_config_is_valid() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.groups[0].membership.introduction_deadline.total_seconds() == 72 * 3600
    assert settings.timezone == "Europe/Kyiv"


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    found = problems(tmp_path, "groups: [\n  - chat_id: -1\n")
    assert len(found) == 1
    assert "invalid YAML" in found[0] and "config.yaml:" in found[0]


def test_unknown_key_lists_expected_keys_with_line(tmp_path: Path) -> None:
    found = problems(tmp_path, VALID + "    membrship: {}\n")
    assert found == [
        f"{tmp_path / 'config.yaml'}:6: groups[0].membrship: unknown key; "
        "expected one of: chat_id, title, timezone, membership, mentions, topics, "
        "delete_service_messages, languages"
    ]


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    text = """\
timezone: Europe/Atlantis
moderators: [abc]
groups:
  - chat_id: 5
    title: A
    membership: {introduction_deadline: soon}
  - chat_id: 5
    title: B
"""
    found = "\n".join(problems(tmp_path, text))
    assert "timezone: unknown time zone 'Europe/Atlantis'" in found
    assert "moderators[0]: Input should be a valid integer" in found
    assert "groups[0].chat_id: Input should be less than 0" in found
    assert "groups[0].membership.introduction_deadline: expected a duration" in found


def test_duplicate_group(tmp_path: Path) -> None:
    text = VALID + "  - chat_id: -100123\n    title: Again\n"
    assert any("duplicate group chat_id -100123" in p for p in problems(tmp_path, text))


def test_empty_and_non_mapping_files(tmp_path: Path) -> None:
    assert "empty" in problems(tmp_path, "")[0]
    assert "mapping" in problems(tmp_path, "- a\n- b\n")[0]
    assert "no such file" in ConfigErrorText(tmp_path / "missing.yaml")


def ConfigErrorText(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_reminders_must_come_before_deadline(tmp_path: Path) -> None:
    text = VALID + "    membership: {introduction_deadline: 24h, introduction_reminders: [30h]}\n"
    assert any("before introduction_deadline" in p for p in problems(tmp_path, text))


def test_check_config_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["check-config", str(EXAMPLE)])
    assert good.exit_code == 0 and "valid" in good.output
    bad = runner.invoke(main, ["check-config", str(write(tmp_path, VALID + "extra: 1\n"))])
    assert bad.exit_code == 2
    assert "extra: unknown key; expected one of: timezone" in bad.output


def test_run_refuses_invalid_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--config", str(write(tmp_path, "groups: 3\n"))], env={"BOT_TOKEN": "1:x"}
    )
    assert result.exit_code == 2
    assert "groups: Input should be a valid list" in result.output


def test_run_refuses_without_token(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--config", str(write(tmp_path, VALID))], env={"BOT_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "BOT_TOKEN is not set" in result.output


def test_webhook_needs_a_secret(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--config", str(write(tmp_path, VALID)), "--webhook-url", "https://x/y"],
        env={"BOT_TOKEN": "1:x", "WEBHOOK_SECRET": ""},
    )
    assert result.exit_code == 2 and "WEBHOOK_SECRET" in result.output


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["db", "upgrade", "--config", str(write(tmp_path, VALID))],
        env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
    )
    assert result.exit_code == 3
    assert (
        "cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:1/none" in result.output
    )
    assert "Traceback" not in result.output


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["db", "upgrade", "--config", str(write(tmp_path, VALID))],
        env={"DATABASE_URL": "not a url"},
    )
    assert result.exit_code == 3 and "DATABASE_URL is not usable" in result.output


def test_db_upgrade_and_roster_on_sqlite(tmp_path: Path) -> None:
    config = write(tmp_path, VALID)
    runner = CliRunner()
    upgraded = runner.invoke(
        main, ["db", "upgrade", "--config", str(config)], env={"DATABASE_URL": ""}
    )
    assert upgraded.exit_code == 0, upgraded.output
    assert (tmp_path / "imbot.sqlite3").exists()
    current = runner.invoke(
        main, ["db", "current", "--config", str(config)], env={"DATABASE_URL": ""}
    )
    assert f"current: {head_revision()}  newest: {head_revision()}" in current.output
    roster = runner.invoke(main, ["roster", "--config", str(config)], env={"DATABASE_URL": ""})
    assert roster.exit_code == 0 and "Test group (-100123): 0 people" in roster.output


def test_environment_reads_its_variables_in_any_case_and_the_constructor_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("BOT_TOKEN", "DATABASE_URL", "BOT_API_URL", "BOT_API_FILE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", "1:from-env")
    monkeypatch.setenv("database_url", "sqlite:///lower.sqlite3")
    monkeypatch.setenv("BOT_API_LOCAL", "true")
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("SOMETHING_ELSE", "ignored")
    read = Environment()
    assert read.bot_token is not None and read.bot_token.get_secret_value() == "1:from-env"
    assert read.database_url == "sqlite:///lower.sqlite3"
    assert read.bot_api_local is True
    assert read.webhook_secret is not None and read.webhook_secret.get_secret_value() == "s3cret"
    assert read.bot_api_url is None and "s3cret" not in repr(read)
    given = Environment(database_url="sqlite:///given.sqlite3", bot_token=None)
    assert given.database_url == "sqlite:///given.sqlite3" and given.bot_token is None
    assert given.bot_api_local is True  # the others still from the environment
    monkeypatch.setenv("BOT_API_LOCAL", "maybe")
    with pytest.raises(ValidationError):
        Environment()
