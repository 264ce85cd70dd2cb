"""Engine, sessions and migrations.

Alembic is imported only to migrate: it costs a third of a second and 12 MB. Which revision the
database is at, which is the newest and every one this program knows are read without it — a
SELECT of ``alembic_version`` and the ``revision`` lines of the migration files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, any_, bindparam, create_engine, event, inspect, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_CONNECTIONS_KEPT = 4  # the poller and the sweeps that run every few seconds


def reason_of(exc: BaseException, limit: int = 300) -> str:
    """What went wrong in one line: drivers write several; an empty message names the type."""
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:limit] or type(exc).__name__


def database_problem(error: BaseException | None) -> str | None:
    """A plain sentence for database failures an operator must fix (full disk, no server)."""
    if not isinstance(error, SQLAlchemyError):
        return None
    reason = reason_of(error)
    if "disk is full" in reason or "No space left" in reason or "could not extend" in reason:
        return f"the database is full ({reason}): free disk space"
    if isinstance(error, OperationalError):
        return f"the database failed ({reason}); the work will be retried where it is a sweep"
    return None


class DatabaseError(Exception):
    """The database cannot be used; the message says why and what to check."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer
    # With WAL, NORMAL syncs at checkpoints, not at every commit: a power cut may lose the
    # last transactions but never corrupts the file (SQLite's advice for WAL).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA cache_size=-1024")
    cursor.close()


def milliseconds(limit: timedelta) -> int:
    """A duration as PostgreSQL's timeout settings take it (whole ms, at least 1)."""
    return max(1, int(limit.total_seconds() * 1000))


def _idle_in_transaction_limit(limit: timedelta) -> Any:
    """Every new PostgreSQL session ends any transaction left idle longer than ``limit``.

    A stopped (SIGSTOP) or starved process must not keep row locks, or a transaction other
    replicas wait on, for longer than a reminder's lease: the server ends such a session and
    its transaction is rolled back. Set per session on connect, so a ``?options=`` already in
    ``DATABASE_URL`` (a search path) is kept.
    """

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = {milliseconds(limit)}")
        cursor.close()
        dbapi_connection.commit()

    return on_connect


def make_engine(url: str, idle_limit: timedelta | None = None) -> Engine:
    """The engine for ``url``; on PostgreSQL, ``idle_limit`` bounds an idle transaction."""
    try:
        if url.startswith("sqlite"):
            # hide_parameters: an error must not quote the values (names, phones) it refused.
            engine = create_engine(url, hide_parameters=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            # pre_ping: a connection dropped by a database restart is replaced, not reused.
            engine = create_engine(
                url,
                hide_parameters=True,
                pool_pre_ping=True,
                pool_size=5,
                max_overflow=5,
                pool_recycle=1800,
                connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {},
            )
            if idle_limit is not None and engine.dialect.name == "postgresql":
                event.listen(engine, "connect", _idle_in_transaction_limit(idle_limit))
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"DATABASE_URL is not usable: {exc}") from None
    return engine


if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upsert_insert(dialect_name: str) -> Callable[..., Any]:
    """``insert`` of the dialect in use (for ``ON CONFLICT``), its module imported only then:
    an SQLite deployment does not import the PostgreSQL dialect to start, nor the reverse."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def one_of(session: Session, column: Any, values: Iterable[Any], kind: Any) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one array parameter:
    a lookup's 200 candidates as 200 IN parameters took 4.8–5.4 ms a query, as one 1.4–2.0."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, list(values), type_=ARRAY(kind)))
    return column.in_(list(values))


def describe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to ``revision``."""
    from alembic import command

    try:
        command.upgrade(_alembic_config(engine), revision)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot reach the database at {describe_url(engine)}: {exc.orig}"
        ) from None


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (None: never migrated), as Alembic reads it."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(found) > 1:
        raise DatabaseError(f"the database records several schema revisions: {found}")
    return str(found[0][0]) if found else None


_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.M)


@lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """Every revision in ``migrations/versions``, oldest first, from each file's ``revision``
    and ``down_revision`` lines. Alembic's own walk imports every migration script: 11 MB more
    for a process that only answers a health check."""
    follows: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        lines = dict(_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" in lines:
            follows[lines["revision"]] = lines.get("down_revision")
    followed = {parent for parent in follows.values() if parent is not None}
    heads = sorted(set(follows) - followed)
    if len(heads) > 1:
        raise DatabaseError(f"the migrations have several heads: {', '.join(heads)}")
    chain: list[str] = []
    current = heads[0] if heads else None
    while current is not None:
        if current not in follows or len(chain) > len(follows):
            raise DatabaseError(f"the migrations' chain is broken at revision {current}")
        chain.append(current)
        current = follows[current]
    if len(chain) != len(follows):
        left = ", ".join(sorted(set(follows) - set(chain)))
        raise DatabaseError(f"migrations outside the chain to the newest: {left}")
    return tuple(reversed(chain))


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions``: the one no other revision follows."""
    chain = known_revisions()
    return chain[-1] if chain else None


class SessionRepository:
    """A repository's plumbing: the session of the unit of work it reads and writes in."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _changed(self, statement: object) -> bool:
        """Run a conditional UPDATE or DELETE: True when it changed exactly one row."""
        result = self.session.execute(statement)  # type: ignore[call-overload]
        assert isinstance(result, CursorResult)
        return result.rowcount == 1


class Database:
    """The session factory. ``transaction()`` is the unit of work: all or nothing."""

    def __init__(self, url: str, idle_limit: timedelta | None = None) -> None:
        self.engine = make_engine(url, idle_limit)
        self.idle_limit = idle_limit  # also how long a frozen sweep keeps its lock
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock_engine: Engine | None = None

    @property
    def lock_engine(self) -> Engine:
        """Where advisory locks hold their connections: never the work pool.

        Each sweep (and the poller) keeps one connection for as long as it holds its lock. Taken
        from the work pool, ten of them at start-up left no connection for the sweeps' own
        queries, and every sweep waited for the others until the pool timed out. On PostgreSQL
        the locks get a pool of their own, never exhausted (as many connections as locks are
        held, a few kept for the next runs so a sweep does not connect on the event loop each
        time); SQLite has no advisory locks and never uses this engine's connections.
        """
        if self.engine.dialect.name != "postgresql":
            return self.engine
        if self._lock_engine is None:
            self._lock_engine = create_engine(
                self.engine.url,
                hide_parameters=True,
                pool_pre_ping=True,
                pool_size=LOCK_CONNECTIONS_KEPT,
                max_overflow=-1,  # bounded by the sweeps and the poller: one lock each
                pool_recycle=1800,
                connect_args={"connect_timeout": 5},
            )
        return self._lock_engine

    def check(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise DatabaseError(
                f"cannot reach the database at {describe_url(self.engine)}: "
                f"{getattr(exc, 'orig', exc)}"
            ) from None

    def upgrade(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._lock_engine is not None:
            self._lock_engine.dispose()
