"""`imbot db copy` (SQLite → PostgreSQL when TEST_DATABASE_URL is set) and backup/restore."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from bot.cli import main
from config.loader import Environment, LoadedConfig, load_settings
from moderation.clock import FakeClock
from simulation.simulator import Simulator
from storage.backup import BackupError, backup, copy_database, digests, read_header, restore
from storage.backup import row_counts as counts_of
from storage.db import Database, head_revision
from storage.deadlines import DeadlineRepository
from tests.conftest import EXAMPLE, MODERATOR_ID
from tests.test_joins import veteran

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[Simulator]:
    """An SQLite deployment that has been used: members, introductions, partners, reminders."""
    url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    config = LoadedConfig(
        load_settings(EXAMPLE), tmp_path / "c.yaml", Environment(database_url=url, bot_token=None)
    )
    sim = Simulator(config, FakeClock(NOW))
    mira = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(mira.id)
    await sim.start()
    await sim.dm(mira, "/start")
    ivan = await veteran(sim, "Ivan")
    await sim.dm(ivan, "/start")
    newcomer = sim.user("Olena", "Petrenko", "olena_p")
    await sim.join(newcomer)
    with sim.services.db.transaction() as session:
        DeadlineRepository(session).set_partner(ivan.id, "WASH", "UNICEF", NOW)
    await sim.advance(timedelta(days=2))  # reminders planned and sent, introduction reminders
    await sim.advance(timedelta(days=2))  # the newcomer removed
    yield sim
    await sim.stop()


def content(engine: Engine) -> tuple[dict[str, int], dict[str, str]]:
    with engine.connect() as connection:
        return counts_of(connection), digests(connection)


async def test_copy_is_verified_idempotent_and_refuses_a_non_empty_target(
    source: Simulator, database_url: str
) -> None:
    engine = source.services.db.engine
    counts, fingerprint = content(engine)
    assert sum(counts.values()) > 20
    for busy in ("users", "memberships", "membership_events", "introductions", "reminder_outbox"):
        assert counts[busy] > 0, busy
    target = Database(database_url)

    report = copy_database(engine, target.engine)
    assert report.counts == counts and not report.already_identical
    assert content(target.engine) == (counts, fingerprint)

    again = copy_database(engine, target.engine)  # harmless a second time
    assert again.already_identical and content(target.engine) == (counts, fingerprint)

    with target.engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET first_name = 'Changed' WHERE id = :id"), {"id": MODERATOR_ID}
        )
    with pytest.raises(BackupError, match=r"not empty .* --force"):
        copy_database(engine, target.engine)
    copy_database(engine, target.engine, force=True)
    assert content(target.engine) == (counts, fingerprint)

    if target.engine.dialect.name == "postgresql":  # sequences moved past the copied ids
        with target.engine.connect() as connection:
            highest = connection.scalar(text("SELECT MAX(id) FROM membership_events"))
            following = connection.scalar(
                text("SELECT nextval(pg_get_serial_sequence('membership_events', 'id'))")
            )
        assert following > highest
    target.dispose()


async def test_copy_refuses_a_source_behind_the_schema(
    source: Simulator, database_url: str
) -> None:
    engine = source.services.db.engine
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003_deadlines'"))
    target = Database(database_url)
    with pytest.raises(BackupError, match=r"at schema revision 0003_deadlines.*imbot db upgrade"):
        copy_database(engine, target.engine)
    assert not _has_tables(target.engine)  # refused before touching the target
    target.dispose()


def _has_tables(engine: Engine) -> bool:
    from sqlalchemy import inspect

    return "users" in inspect(engine).get_table_names()


def test_db_copy_command(source: Simulator, database_url: str) -> None:
    env = {"DATABASE_URL": source.services.config.database_url, "IMBOT_CONFIG": str(EXAMPLE)}
    first = CliRunner().invoke(main, ["db", "copy", "--to", database_url], env=env)
    assert first.exit_code == 0, first.output
    assert "copied and verified" in first.output and "  users: " in first.output
    second = CliRunner().invoke(main, ["db", "copy", "--to", database_url], env=env)
    assert second.exit_code == 0 and "already holds exactly this data" in second.output
    target = Database(database_url)
    with target.engine.begin() as connection:
        connection.execute(text("DELETE FROM membership_events"))
    refused = CliRunner().invoke(main, ["db", "copy", "--to", database_url], env=env)
    assert refused.exit_code == 1
    assert "not empty" in refused.output and "--force" in refused.output
    forced = CliRunner().invoke(main, ["db", "copy", "--to", database_url, "--force"], env=env)
    assert forced.exit_code == 0 and "copied and verified" in forced.output
    assert content(target.engine) == content(source.services.db.engine)
    target.dispose()


async def test_backup_and_restore_round_trip(
    source: Simulator, database_url: str, tmp_path: Path
) -> None:
    engine = source.services.db.engine
    path = tmp_path / "imbot.backup.gz"
    counts = backup(engine, path, NOW)
    header = read_header(path)
    assert header["format"] == "imbot-backup" and header["version"] == 1
    assert header["revision"] == head_revision() and header["counts"] == counts
    with gzip.open(path, "rt") as file:
        lines = file.read().splitlines()
    assert json.loads(lines[-1]) == {"end": True, "rows": sum(counts.values())}

    target = Database(database_url)
    assert restore(target.engine, path) == counts
    assert content(target.engine) == content(engine)
    with pytest.raises(BackupError, match="not empty"):
        restore(target.engine, path)
    assert restore(target.engine, path, force=True) == counts
    target.dispose()


async def test_restore_refuses_damaged_foreign_or_mismatched_files(
    source: Simulator, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "good.gz"
    backup(source.services.db.engine, path, NOW)
    with gzip.open(path, "rt") as file:
        lines = file.read().splitlines()
    target = Database(database_url)

    def write(name: str, body: list[str]) -> Path:
        out = tmp_path / name
        with gzip.open(out, "wt") as file:
            file.write("\n".join(body) + "\n")
        return out

    truncated = write("truncated.gz", lines[: len(lines) // 2])
    with pytest.raises(BackupError, match="truncated"):
        restore(target.engine, truncated)
    assert sum(content(target.engine)[0].values()) == 0  # nothing half-restored

    old = json.loads(lines[0]) | {"revision": "0003_deadlines"}
    mismatched = write("old.gz", [json.dumps(old), *lines[1:]])
    with pytest.raises(BackupError, match=f"revision 0003_deadlines.*schema is {head_revision()}"):
        restore(target.engine, mismatched)

    newer = json.loads(lines[0]) | {"version": 2}
    with pytest.raises(BackupError, match="format version 2"):
        restore(target.engine, write("v2.gz", [json.dumps(newer), *lines[1:]]))

    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    with pytest.raises(BackupError, match="not an imbot backup"):
        restore(target.engine, plain)
    assert sum(content(target.engine)[0].values()) == 0
    target.dispose()


def test_backup_and_restore_commands(source: Simulator, database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "cli.backup.gz"
    source_env = {"DATABASE_URL": source.services.config.database_url, "IMBOT_CONFIG": str(EXAMPLE)}
    made = CliRunner().invoke(main, ["backup", str(path)], env=source_env)
    assert made.exit_code == 0 and "rows from" in made.output, made.output
    target_env = {"DATABASE_URL": database_url, "IMBOT_CONFIG": str(EXAMPLE)}
    Database(database_url).upgrade()
    restored = CliRunner().invoke(main, ["restore", str(path)], env=target_env)
    assert restored.exit_code == 0 and "restored" in restored.output, restored.output
    refused = CliRunner().invoke(main, ["restore", str(path)], env=target_env)
    assert refused.exit_code == 1 and "--force" in refused.output
    target = Database(database_url)
    assert content(target.engine) == content(source.services.db.engine)
    target.dispose()
