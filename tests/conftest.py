"""Fixtures: a config, a fresh database (SQLite, or TEST_DATABASE_URL), and the simulator."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, make_url, text

from config.loader import Environment, LoadedConfig, load_settings
from moderation.clock import FakeClock
from simulation.http import FakeTelegramServer
from simulation.simulator import Simulator
from storage.db import upgrade
from tests.processes import fake_telegram

# Speed is measured by the benchmarks in bench/, never by a test: Hypothesis's per-example
# deadline (200 ms) only fails tests at random when the machine is busy.
settings.register_profile("imbot", deadline=None)
# On CI (CI=true) every property test runs the same examples each time, so a run on a clean
# clone repeats the run that was checked before landing; locally each run explores new ones.
settings.register_profile("imbot-ci", deadline=None, derandomize=True, database=None)
settings.load_profile("imbot-ci" if os.environ.get("CI") else "imbot")

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
GROUP_ID = -1001234567890
MODERATOR_ID = 111111111


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite in a temporary folder, or a fresh schema on TEST_DATABASE_URL (PostgreSQL)."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server else "?"
    yield f"{server}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> LoadedConfig:
    return LoadedConfig(
        settings=load_settings(EXAMPLE),
        path=tmp_path / "config.yaml",
        environment=Environment(database_url=database_url, bot_token=None),
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file at the newest revision, migrated once per run by the real migrations."""
    path = tmp_path_factory.mktemp("template") / "head.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
async def sim(
    config: LoadedConfig, clock: FakeClock, request: pytest.FixtureRequest
) -> AsyncIterator[Simulator]:
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        # A copy of the migrated file instead of 24 migrations per test (0.3 s each); the
        # simulator still runs the upgrade, which finds the database at the newest revision.
        # The migrations themselves are tested on empty databases in test_migrations/test_ops.
        shutil.copy(request.getfixturevalue("migrated_sqlite"), url.database)
    simulator = Simulator(config, clock)
    moderator = simulator.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    simulator.telegram.started.add(moderator.id)
    await simulator.start()
    yield simulator
    await simulator.stop()
    assert not simulator.errors, f"the bot raised: {simulator.errors!r}"
    # Every delivery of a button press in every test answered exactly once (Telegram takes one
    # answer; a press delivered again after a restart is tried again, and refused).
    answers = Counter(
        str(c["callback_query_id"]) for c in simulator.telegram.calls_to("answerCallbackQuery")
    )
    wrong = {q: (n, answers[q]) for q, n in simulator.presses.items() if answers[q] != n}
    assert not wrong, f"presses not answered once per delivery (id: (deliveries, answers)): {wrong}"


@pytest.fixture
def server() -> Iterator[FakeTelegramServer]:
    """The fake Bot API over HTTP, for tests that run real `imbot run` processes."""
    _telegram, served = fake_telegram()
    yield served
    served.stop()
