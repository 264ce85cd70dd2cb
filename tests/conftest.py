"""Fixtures: a config, a fresh database (SQLite, or TEST_DATABASE_URL), and the simulator."""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Connection, create_engine, make_url, text

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


@pytest.fixture(scope="session")
def head_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database at the newest revision, migrated once per run by the real migrations: an
    SQLite file, or a PostgreSQL database used as the template of the tests' databases."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        path = tmp_path_factory.mktemp("template") / "head.sqlite3"
        _migrate(f"sqlite:///{path}")
        yield str(path)
        return
    name = f"t_head_{uuid.uuid4().hex[:12]}"
    with _admin(server) as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"'))
    _migrate(_on_database(server, name))
    yield name
    with _admin(server) as admin:
        admin.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of the test's own: SQLite in a temporary folder, or a fresh database on the
    TEST_DATABASE_URL server (PostgreSQL). Tests that run the simulator get it at the newest
    revision, copied from ``head_database`` (24 migrations per test took 0.3 s each); the
    simulator still runs the upgrade, which finds nothing to do. Every other test gets it
    empty, as the migration and command-line tests need."""
    migrated = "sim" in request.fixturenames
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        path = tmp_path / "test.sqlite3"
        if migrated:
            shutil.copy(request.getfixturevalue("head_database"), path)
        yield f"sqlite:///{path}"
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{request.getfixturevalue("head_database")}"' if migrated else ""
    with _admin(server) as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"{template}'))
    yield _on_database(server, name)
    with _admin(server) as admin:
        admin.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _migrate(url: str) -> None:
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()  # a template database must have no connection when it is copied


@contextmanager
def _admin(server: str) -> Iterator[Connection]:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _on_database(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


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


@pytest.fixture
async def sim(config: LoadedConfig, clock: FakeClock) -> AsyncIterator[Simulator]:
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
