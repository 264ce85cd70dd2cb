"""Operations: advisory locks, sweeps once per cluster, /status, `imbot status`, faults."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, func, make_url, select, text
from sqlalchemy.exc import OperationalError
from telegram.ext import JobQueue

from bot import ops
from bot.app import ALLOWED_UPDATES, build_application, build_services
from bot.cli import main
from config.loader import Environment, LoadedConfig, load_settings
from moderation.clock import FakeClock
from runtime.context import App, BotContext, Sweep
from runtime.replica import heartbeat
from simulation.faketg import FakeTelegram
from simulation.simulator import FAKE_TOKEN, Simulator
from storage.contacts.native import modelled
from storage.db import Database, current_revision, head_revision, known_revisions, upgrade
from storage.deadlines import DeadlineRepository
from storage.models import Base, ReminderOutbox, SweepRunRow, User
from storage.ops import AdvisoryLock, lock_key
from storage.retry import SentButNotMarked
from tests.conftest import EXAMPLE, MODERATOR_ID
from tests.helpers import marks_cannot_be_written
from tests.processes import needs_postgresql


def is_pg(url: str) -> bool:
    return url.startswith("postgresql")


# --------------------------------------------------------------------------- locks
def test_advisory_lock_has_one_holder_per_name_and_schema(database_url: str) -> None:
    database = Database(database_url)
    database.upgrade()
    first, second = (AdvisoryLock(database.engine, "sweep:x") for _ in range(2))
    other = AdvisoryLock(database.engine, "sweep:y")
    assert first.acquire()
    assert other.acquire()  # another name is another lock
    if is_pg(database_url):
        assert not second.acquire()  # another replica: refused, without waiting
        first.release()
        assert second.acquire()
        second.release()
    else:
        assert second.acquire()  # SQLite runs one process: every lock is granted
    other.release()
    database.dispose()


@pytest.mark.postgresql
@needs_postgresql
def test_held_locks_never_take_the_connections_the_work_needs(database_url: str) -> None:
    # Every sweep and the poller hold a lock at once at start-up: more locks than the work
    # pool has connections (5 + 5 overflow). The work must still get a connection at once.
    database = Database(database_url)
    database.upgrade()
    locks = [AdvisoryLock(database.lock_engine, f"sweep:{n}") for n in range(12)]
    assert all(lock.acquire() for lock in locks)
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    with database.transaction() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    for lock in locks:
        lock.release()
    # Lock connections are kept for the next runs: a sweep's idle limit must not follow its
    # connection to the poller, whose lock must last as long as the process.
    sweep = AdvisoryLock(database.lock_engine, "sweep:limited", timedelta(seconds=30))
    assert sweep.acquire()
    sweep.release()
    poller = AdvisoryLock(database.lock_engine, "polling")
    assert poller.acquire() and poller._connection is not None
    assert poller._connection.execute(text("SHOW idle_session_timeout")).scalar_one() == "0"
    poller.release()
    database.dispose()


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("public", "sweep:a") == lock_key("public", "sweep:a")
    keys = {lock_key(s, n) for s in ("public", "op2") for n in ("sweep:a", "sweep:b", "polling")}
    assert len(keys) == 6
    assert all(-(2**63) <= k < 2**63 for k in keys)


@pytest.mark.postgresql
@needs_postgresql
def test_a_lock_whose_connection_is_killed_is_free_again(database_url: str) -> None:
    database = Database(database_url)
    holder, rival = (
        AdvisoryLock(database.engine, "polling"),
        AdvisoryLock(database.engine, "polling"),
    )
    assert holder.acquire()
    assert holder._connection is not None
    pid = holder._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with database.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert not holder.alive()  # the poller notices and stops polling
    assert rival.acquire()  # the standby takes over
    holder.release()  # harmless after the loss
    rival.release()
    database.dispose()


def counting_sweep(name: str, calls: list[str], fail: bool = False) -> Sweep:
    async def run(_app: App) -> None:
        calls.append(name)
        if fail:
            raise RuntimeError("boom")

    return Sweep(name, timedelta(minutes=5), run)


async def test_a_sweep_runs_in_one_replica_at_a_time(sim: Simulator) -> None:
    calls: list[str] = []
    sweep = counting_sweep("introductions", calls)
    other_replica = AdvisoryLock(sim.services.db.engine, "sweep:introductions")
    assert other_replica.acquire()
    ran = await ops.run_sweep(sim.app, sweep)
    assert ran is not is_pg(sim.services.config.database_url)  # PostgreSQL: skipped
    other_replica.release()
    assert await ops.run_sweep(sim.app, sweep)
    with sim.services.db.transaction() as session:
        row = session.get(SweepRunRow, "introductions")
        assert row is not None and row.ok and row.replica == sim.services.replica_id
        assert row.finished_at is not None
    assert calls.count("introductions") == (1 if is_pg(sim.services.config.database_url) else 2)


async def test_a_failing_sweep_is_recorded_and_does_not_stop_the_others(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    assert await ops.run_sweep(sim.app, counting_sweep("bad", calls, fail=True))
    assert await ops.run_sweep(sim.app, counting_sweep("good", calls))
    with sim.services.db.transaction() as session:
        bad, good = session.get(SweepRunRow, "bad"), session.get(SweepRunRow, "good")
        assert bad is not None and bad.ok is False and bad.error == "RuntimeError: boom"
        assert good is not None and good.ok
    assert calls == ["bad", "good"]
    assert "sweep bad failed" in caplog.text


async def test_no_sweep_starts_once_stopping(sim: Simulator) -> None:
    calls: list[str] = []
    sim.services.stopping = True
    assert not await ops.run_sweep(sim.app, counting_sweep("late", calls))
    assert calls == []
    sim.services.stopping = False


async def test_no_job_starts_while_stopping_so_none_is_cancelled(
    config: LoadedConfig, clock: FakeClock, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    """``serve`` stops the job queue after the jobs under way have finished; a job falling due
    meanwhile (the write-behind every second, a sweep, the heartbeat) must not start then: PTB's
    ``JobQueue.stop`` waits only for the runs under way when it is called, and then APScheduler
    cancels every run started since — half a run, and a traceback in the log."""
    telegram = FakeTelegram(clock)
    services = build_services(config, clock)
    services.db.upgrade()
    app = build_application(services, FAKE_TOKEN, request=telegram.request(), rate_limit=False)
    jobs = app.job_queue
    assert jobs is not None
    running, waiting, late_started = asyncio.Event(), asyncio.Event(), asyncio.Event()
    cancelled: list[str] = []
    stop_jobs = JobQueue.stop

    async def stop_and_say(queue: JobQueue[BotContext], wait: bool = True) -> None:
        waiting.set()  # from here JobQueue.stop waits for the runs under way, then shuts down
        await stop_jobs(queue, wait)

    monkeypatch.setattr(JobQueue, "stop", stop_and_say)

    async def late(_context: BotContext) -> None:
        late_started.set()
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append("late")
            raise

    async def under_way(_context: BotContext) -> None:
        running.set()
        await waiting.wait()
        jobs.run_once(late, when=0, name="late")  # due while the queue waits for this run
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(late_started.wait(), 1)

    # As soon as the job queue starts, however long the start takes (never "missed").
    jobs.run_once(under_way, when=0, name="under-way", job_kwargs={"misfire_grace_time": None})
    stop = asyncio.Event()
    hook = ops.Webhook("https://bot.example.org/tg-hook", "127.0.0.1", 0, "s3cret")
    serving = asyncio.create_task(ops.serve(app, stop, ALLOWED_UPDATES, hook))
    try:
        await asyncio.wait_for(running.wait(), 30)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)
    assert waiting.is_set()  # the stop went through the job queue while a job ran
    assert not late_started.is_set() and cancelled == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_sweep_every_overrides_and_refuses_unknown_names(config: LoadedConfig) -> None:
    changed = config.settings.model_copy(
        update={"sweep_every": {"deadline-dispatch": timedelta(seconds=10)}}
    )
    services = build_services(LoadedConfig(changed, config.path, config.environment))
    every = {s.name: s.every for s in services.sweeps}
    assert every["deadline-dispatch"] == timedelta(seconds=10)
    assert every["introductions"] == timedelta(minutes=5)
    services.db.dispose()
    wrong = config.settings.model_copy(update={"sweep_every": {"dispatch": timedelta(seconds=1)}})
    with pytest.raises(ValueError, match=r"unknown sweeps \['dispatch'\].*deadline-dispatch"):
        build_services(LoadedConfig(wrong, config.path, config.environment))


# --------------------------------------------------------------------------- /status
async def test_status_for_moderators(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    await heartbeat(sim.app)
    await sim.dm(mira, "/hello")  # an update: "last update received"
    mark = sim.mark()
    await sim.dm(mira, "/status")
    reply = sim.unique_reply(mark, mira.id).text
    assert "Database: reachable, schema " + (head_revision() or "") in reply
    assert "Reminders waiting: 0 due now" in reply
    for name in ("introductions", "deadline-dispatch", "contact-requests", "admin-check"):
        assert name in reply
    assert "Replicas running: 1" in reply
    assert "Ukraine IM community: admin with every right I need" in reply
    assert "Last update received here: just now" in reply

    # The bot loses its admin rights: /status says so, from Telegram, right now.
    await sim.feed(sim.telegram.set_bot_status(sim.group.id, "member"))
    mark = sim.mark()
    await sim.dm(mira, "/status")
    reply = sim.unique_reply(mark, mira.id).text
    assert "Ukraine IM community: I am a member, not an admin (I need restrict members" in reply


async def test_status_is_refused_to_members(sim: Simulator) -> None:
    ivan = sim.user("Ivan", "Koval", "ivan_k")
    mark = sim.mark()
    await sim.dm(ivan, "/status")
    reply = sim.unique_reply(mark, ivan.id).text
    assert "only the group's moderators" in reply
    assert "Database" not in reply


async def test_status_says_when_the_database_is_unreachable(sim: Simulator) -> None:
    mira = sim.telegram.users[MODERATOR_ID]
    real = sim.services.db
    sim.services.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    try:
        mark = sim.mark()
        await sim.dm(mira, "/status")
        texts = [m.text for m in sim.since(mark, mira.id)]
    finally:
        sim.services.db.dispose()
        sim.services.db = real
        sim.errors.clear()  # recording the user failed, as it should with no database
    status = next(t for t in texts if t.startswith("Status"))
    assert "Database: unreachable" in status
    assert "Ukraine IM community: admin with every right I need" in status


def cli_env(url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "IMBOT_CONFIG": str(EXAMPLE), **extra}


async def test_imbot_status_from_the_shell(sim: Simulator) -> None:
    url = sim.services.config.database_url
    await heartbeat(sim.app)
    await ops.run_sweep(sim.app, sim.services.sweeps[-1])  # admin-check
    result = CliRunner().invoke(main, ["status"], env=cli_env(url), obj=sim.clock)
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "reachable" in out and f"schema: {head_revision()} (this program: {head_revision()})" in out
    )
    assert "replicas running: 1" in out and sim.services.replica_id in out
    assert "reminders: 0 due now" in out
    assert "admin-check: last" in out and "(ok)" in out
    assert "introductions: last" in out  # the simulator ran every sweep at start
    assert "bot is administrator (admin), every right needed" in out


# --------------------------------------------------------------------------- faults
@pytest.fixture
def keep_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql+psycopg://imbot@127.0.0.1:1/imbot", "cannot reach the database"),
        ("nonsense://what", "DATABASE_URL is not usable"),
        ("sqlite:////no/such/folder/imbot.sqlite3", "cannot reach the database"),
    ],
)
def test_a_wrong_database_url_is_one_clear_line_and_exit_3(
    url: str, says: str, keep_logging: None
) -> None:
    result = CliRunner().invoke(main, ["run"], env=cli_env(url, BOT_TOKEN="1:x"))
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and says in lines[0]
    assert "Traceback" not in result.output


def test_a_replica_older_than_the_schema_refuses_to_start(
    database_url: str, keep_logging: None
) -> None:
    database = Database(database_url)
    database.upgrade()
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    result = CliRunner().invoke(main, ["run"], env=cli_env(database_url, BOT_TOKEN="1:x"))
    assert result.exit_code == 3
    assert "refusing to start" in result.output
    assert "0099_future" in result.output and str(head_revision()) in result.output
    assert "newer imbot" in result.output
    with database.engine.begin() as connection:  # nothing was changed
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0099_future"
    database.dispose()


def test_no_migrate_refuses_an_older_schema_and_db_upgrade_fixes_it(
    database_url: str, keep_logging: None
) -> None:
    database = Database(database_url)
    upgrade(database.engine, known_revisions()[-2])
    env = cli_env(database_url, BOT_TOKEN="1:x")
    result = CliRunner().invoke(main, ["run", "--no-migrate"], env=env)
    assert result.exit_code == 3
    assert f"schema revision {known_revisions()[-2]}" in result.output
    assert f"needs {head_revision()}" in result.output and "imbot db upgrade" in result.output
    assert current_revision(database.engine) == known_revisions()[-2]  # untouched
    fixed = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert fixed.exit_code == 0 and f"at revision {head_revision()}" in fixed.output
    database.dispose()


@pytest.mark.postgresql
@needs_postgresql
async def test_killed_database_connections_are_replaced_without_losing_anything(
    config: LoadedConfig, clock: FakeClock
) -> None:
    name = f"imbot-kill-{uuid.uuid4().hex[:8]}"
    url = (
        make_url(config.database_url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    settings = load_settings(EXAMPLE)
    mine = LoadedConfig(settings, config.path, Environment(database_url=url, bot_token=None))
    sim = Simulator(mine, clock)
    mira = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(mira.id)
    await sim.start()
    admin = create_engine(config.database_url, isolation_level="AUTOCOMMIT")

    def kill_all() -> int:
        with admin.connect() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                ).all()
            )

    try:
        await sim.dm(mira, "/start")
        assert kill_all() >= 1  # the pool's idle connections die (a database restart)
        for who in ("Olena", "Pavlo", "Taras"):
            person = sim.user(who)
            mark = sim.mark()
            await sim.dm(person, "/start")
            assert sim.unique_reply(mark, person.id).text.startswith(f"Hello {who}")
            kill_all()
        await sim.run_sweeps()  # sweeps reconnect too
        with sim.services.db.transaction() as session:
            names = session.scalars(select(User.first_name)).all()
        assert {"Olena", "Pavlo", "Taras", "Mira"} <= set(names)  # nothing lost
        assert sim.errors == []
    finally:
        await sim.stop()
        admin.dispose()


async def test_sqlite_full_disk_is_one_clear_line_and_nothing_half_saved(
    config: LoadedConfig, clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'full.sqlite3'}"
    mine = LoadedConfig(
        load_settings(EXAMPLE), config.path, Environment(database_url=url, bot_token=None)
    )
    sim = Simulator(mine, clock)
    mira = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(mira.id)
    await sim.start()
    engine = sim.services.db.engine
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(engine, "connect")
    def no_room(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()
    try:
        with engine.connect() as connection:
            before = connection.scalar(select(func.count()).select_from(User))
        newcomer = sim.user("Olena", "X" * 200, "o" * 30)
        newcomer.first_name = "Olena " + "y" * 250
        crowd = [sim.user(f"P{n}" + "z" * 240) for n in range(60)]
        failed = None
        for person in [newcomer, *crowd]:
            await sim.dm(person, "/start")
            if sim.errors:
                failed = person
                break
        assert failed is not None, "the database never filled up"
        assert isinstance(sim.errors[0], OperationalError)
        assert "the database is full" in caplog.text and "free disk space" in caplog.text
        assert "nothing of this update was saved" in caplog.text
        with engine.connect() as connection:  # still readable, not corrupted
            assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            after = connection.scalar(select(func.count()).select_from(User))
        with sim.services.db.transaction() as session:
            assert session.get(User, failed.id) is None  # rolled back, not half-written
        assert before is not None and after is not None and after > before
    finally:
        sim.errors.clear()
        event.remove(engine, "connect", no_room)
        await sim.stop()


# --------------------------------------------------------------------------- migrations
def fresh_database(database_url: str, label: str) -> tuple[str, tuple[Engine, str] | None]:
    """Another empty database next to the test's: an SQLite file or a PostgreSQL schema."""
    if not is_pg(database_url):
        folder = Path(database_url.removeprefix("sqlite:///")).parent
        return f"sqlite:///{folder / f'{label}.sqlite3'}", None
    server = os.environ["TEST_DATABASE_URL"]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server else "?"
    return f"{server}{separator}options=-csearch_path%3D{schema}", (admin, schema)


def drop(handle: tuple[Engine, str] | None) -> None:
    if handle is None:
        return
    admin, schema = handle
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_migrations_run_from_every_earlier_revision(database_url: str) -> None:
    revisions = known_revisions()
    assert revisions[0] == "0001_roster" and revisions[-1] == head_revision()
    for start in [None, *revisions]:
        url, handle = fresh_database(database_url, f"from-{start}")
        try:
            database = Database(url)
            if start is not None:
                upgrade(database.engine, start)
                assert current_revision(database.engine) == start
            upgrade(database.engine)  # the rest of the chain
            assert current_revision(database.engine) == head_revision()
            with database.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "include_object": modelled}
                )
                assert compare_metadata(context, Base.metadata) == [], start
            database.dispose()
        finally:
            drop(handle)


# --------------------------------------------------------------------------- outbox vs outage
async def _three_due_partners(sim: Simulator) -> None:
    from tests.test_deadlines import SITREP, partner, run_until

    for name in ("Alice", "Bohdan", "Chloe"):
        await partner(sim, name)
    await run_until(sim, SITREP - timedelta(days=2) - timedelta(minutes=1))
    sim.clock.advance(timedelta(minutes=2))  # three reminders due, not yet dispatched


def _due_ids(sim: Simulator) -> list[int]:
    """The three reminders that just fell due, in the dispatcher's order."""
    now = sim.clock.now()
    with sim.services.db.transaction() as session:
        rows = session.scalars(select(ReminderOutbox)).all()
        due = [r for r in rows if now - timedelta(minutes=5) < r.due_at <= now]
        return [r.id for r in sorted(due, key=lambda r: (r.due_at, r.id))]


def _statuses(sim: Simulator, ids: list[int]) -> list[str]:
    with sim.services.db.transaction() as session:
        return [session.get(ReminderOutbox, i).status for i in ids]  # type: ignore[union-attr]


async def test_database_lost_before_a_send_puts_the_batch_back_at_once(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _three_due_partners(sim)
    real = DeadlineRepository.begin
    calls = {"n": 0}

    def flaky(self: DeadlineRepository, row_id: int, token: str, now: datetime) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:  # the second reminder's fenced begin: the database is gone
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return real(self, row_id, token, now)

    monkeypatch.setattr(DeadlineRepository, "begin", flaky)
    with pytest.raises(OperationalError):
        await sim.run_sweeps()
    ids = _due_ids(sim)
    assert len(ids) == 3
    # One sent; the one in hand and the one after it went back (pending), not left claimed
    # until the lease runs out.
    assert _statuses(sim, ids) == ["sent", "pending", "pending"]
    monkeypatch.setattr(DeadlineRepository, "begin", real)
    await sim.run_sweeps()
    assert _statuses(sim, ids) == ["sent", "sent", "sent"]
    assert (
        len(
            [
                m
                for m in sim.telegram.sent()
                if "Press <b>Submitted</b>" in m.html and "SitRep" in m.text
            ]
        )
        == 3
    )


async def test_a_sent_reminder_that_cannot_be_marked_keeps_its_claim(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _three_due_partners(sim)
    database_back = marks_cannot_be_written(monkeypatch)
    with pytest.raises(SentButNotMarked):
        await sim.run_sweeps()
    ids = _due_ids(sim)
    # The first was delivered but not marked: it stays claimed (a resend only after the lease);
    # the two not yet tried went back at once.
    assert _statuses(sim, ids) == ["sending", "pending", "pending"]
    database_back()
    await sim.run_sweeps()
    assert _statuses(sim, ids) == ["sending", "sent", "sent"]
    assert (
        len(
            [
                m
                for m in sim.telegram.sent()
                if "Press <b>Submitted</b>" in m.html and "SitRep" in m.text
            ]
        )
        == 3
    )
