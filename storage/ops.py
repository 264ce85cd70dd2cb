"""Operations: PostgreSQL advisory locks, replica heartbeats, sweep runs, schema checks.

Several bot processes on one PostgreSQL coordinate with the database's own advisory locks
(``pg_try_advisory_lock``), never with a lock table of our own: a lock belongs to a database
session, so a process that dies (or whose connection is cut) loses it at once, with no
expiry to wait for. On SQLite (one process by design) every lock is granted immediately.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from storage import outbox
from storage.db import SessionRepository, milliseconds, reason_of
from storage.models import Group, ReminderOutbox, ReplicaRow, SweepRunRow

log = logging.getLogger(__name__)


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def lock_key(namespace: str, name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (Python's hash() is salted)."""
    digest = hashlib.sha256(f"imbot:{namespace}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A session-level PostgreSQL advisory lock held on its own connection.

    The key includes the current schema, so several deployments sharing one database (each in
    its own schema) never block each other. ``acquire()`` never waits: it says whether this
    process now holds the lock. ``alive()`` checks the connection that holds it still exists.

    With ``idle_limit`` (PostgreSQL 14 or later), the server ends the holding session once it
    has been idle that long (``idle_session_timeout``), and the lock with it: a holder that is
    stopped (SIGSTOP) or starved frees it for the other replicas. A live holder keeps it by
    calling ``alive()`` more often than that (``bot.ops.run_sweep`` does, every third of it).
    """

    def __init__(self, engine: Engine, name: str, idle_limit: timedelta | None = None) -> None:
        self.engine, self.name, self.idle_limit = engine, name, idle_limit
        self._connection: Connection | None = None
        self._key: int | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or (not is_postgresql(self.engine) and self._key == 0)

    def acquire(self) -> bool:
        if not is_postgresql(self.engine):
            self._key = 0
            return True
        if self._connection is not None:
            return True
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            self._limit_idle(connection)
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            key = lock_key(str(schema), self.name)
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar_one()
        except SQLAlchemyError:
            connection.invalidate()
            connection.close()
            raise
        if not got:
            self._close(connection)
            return False
        self._connection, self._key = connection, key
        return True

    def alive(self) -> bool:
        if self._connection is None:
            return self.held
        try:
            self._connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        if not is_postgresql(self.engine):
            self._key = None
            return
        if self._connection is None:
            return
        try:
            self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except SQLAlchemyError as exc:
            # The connection is gone, and the lock with it; never return it to the pool.
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
            log.info("advisory lock %s: connection lost while unlocking (%s)", self.name, reason)
            self._drop()
            return
        self._close(self._connection)
        self._connection, self._key = None, None

    def _limit_idle(self, connection: Connection) -> None:
        if self.idle_limit is None:
            return
        try:
            connection.execute(
                text("SELECT set_config('idle_session_timeout', :limit, false)"),
                {"limit": str(milliseconds(self.idle_limit))},
            )
        except DBAPIError as exc:  # before PostgreSQL 14: the lock stays until the holder dies
            if exc.connection_invalidated:
                raise
            log.warning("advisory lock %s: no idle limit (%s)", self.name, reason_of(exc))

    def _close(self, connection: Connection) -> None:
        """Back to the pool without the idle limit (an idle pooled connection must live)."""
        if self.idle_limit is not None:
            try:
                connection.execute(text("RESET idle_session_timeout"))
            except SQLAlchemyError:
                connection.invalidate()
        connection.close()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                pass
        self._connection, self._key = None, None


# --------------------------------------------------------------------------- status rows
@dataclass(frozen=True)
class OutboxCounts:
    due: int  # pending and due now: what the next dispatcher run sends
    later: int  # pending, due in the future
    sending: int  # claimed by a process right now
    maybe_twice: int = 0  # sent again after a sender died mid-send: possibly received twice


@dataclass(frozen=True)
class GroupHealth:
    chat_id: int
    title: str
    bot_status: str
    is_admin: bool
    missing_rights: list[str]
    checked_at: datetime | None


class OpsRepository(SessionRepository):
    def beat(
        self,
        replica_id: str,
        host: str,
        pid: int,
        role: str,
        revision: str,
        started_at: datetime,
        now: datetime,
        last_update_at: datetime | None,
    ) -> None:
        row = self.session.get(ReplicaRow, replica_id)
        if row is None:
            row = ReplicaRow(
                id=replica_id, host=host, pid=pid, started_at=started_at, revision=revision
            )
            self.session.add(row)
        row.role, row.last_seen_at, row.last_update_at = role, now, last_update_at
        row.stopped_at = None
        # Forget processes not seen for a week.
        self.session.execute(
            delete(ReplicaRow).where(ReplicaRow.last_seen_at < now - timedelta(days=7))
        )

    def stopped(self, replica_id: str, now: datetime) -> None:
        row = self.session.get(ReplicaRow, replica_id)
        if row is not None:
            row.stopped_at, row.last_seen_at = now, now

    def replicas(self) -> list[ReplicaRow]:
        return list(self.session.scalars(select(ReplicaRow).order_by(ReplicaRow.started_at.desc())))

    def sweep_started(self, name: str, every: timedelta, replica_id: str, now: datetime) -> None:
        row = self.session.get(SweepRunRow, name)
        if row is None:
            row = SweepRunRow(name=name)
            self.session.add(row)
        row.every_s, row.replica, row.started_at = int(every.total_seconds()), replica_id, now
        row.finished_at, row.ok, row.error = None, None, None

    def sweep_finished(self, name: str, now: datetime, error: str | None) -> None:
        row = self.session.get(SweepRunRow, name)
        if row is not None:
            row.finished_at, row.ok, row.error = now, error is None, (error or None) and error[:255]

    def sweep_runs(self) -> dict[str, SweepRunRow]:
        return {row.name: row for row in self.session.scalars(select(SweepRunRow))}

    def outbox(self, now: datetime) -> OutboxCounts:
        def count(*where: object) -> int:
            query = select(func.count()).select_from(ReminderOutbox).where(*where)  # type: ignore[arg-type]
            return int(self.session.scalar(query) or 0)

        pending = ReminderOutbox.status == "pending"
        return OutboxCounts(
            due=count(pending, ReminderOutbox.due_at <= now),
            later=count(pending, ReminderOutbox.due_at > now),
            sending=count(ReminderOutbox.status == "sending"),
            maybe_twice=outbox.maybe_twice(self.session),
        )

    def groups(self) -> dict[int, GroupHealth]:
        return {
            g.chat_id: GroupHealth(
                g.chat_id,
                g.title,
                g.bot_status,
                g.bot_is_admin,
                [r for r in g.bot_rights.split(",") if r],
                g.checked_at,
            )
            for g in self.session.scalars(select(Group))
        }


# --------------------------------------------------------------------------- schema state
def schema_problem(engine: Engine, will_migrate: bool) -> str | None:
    """Why this program must not run on this database, or None.

    A database at a revision this program does not know was upgraded by a newer version: an
    older replica refuses to start rather than write into a schema it does not understand.
    """
    from storage.db import current_revision, head_revision, known_revisions

    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    if current is not None and current not in known_revisions():
        return (
            f"the database is at schema revision {current}, which this program does not know "
            f"(its newest is {head}): it was upgraded by a newer imbot. Run the newer version "
            "on every replica."
        )
    if not will_migrate:
        return (
            f"the database is at schema revision {current or 'none (empty)'}, this program "
            f"needs {head}. Run `imbot db upgrade` first (or start without --no-migrate)."
        )
    return None


def upgrade_exclusively(engine: Engine) -> None:
    """Run migrations while holding a blocking advisory lock: replicas starting together
    migrate one after the other (the second finds nothing to do).

    A database already at this program's newest revision has nothing to migrate: Alembic (a
    third of a second and 12 MB, the migration scripts read and compiled) is then not imported
    at all — the usual start of ``imbot run``."""
    from storage.db import current_revision, head_revision, upgrade

    if current_revision(engine) == head_revision():
        return
    if not is_postgresql(engine):
        upgrade(engine)
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        key = lock_key(str(schema), "migrate")
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        try:
            upgrade(engine)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
