"""What every benchmark shares: a throwaway database (SQLite file or PostgreSQL schema),
the example configuration pointed at it, and a one-line summary format."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from config.loader import Environment, LoadedConfig, load_settings

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def database(url: str | None = None) -> Iterator[str]:
    """A fresh database: a temporary SQLite file, or a new schema on a PostgreSQL server."""
    if not url or url == "sqlite":
        folder = tempfile.mkdtemp(prefix="imbot-bench-")
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    if url == "postgresql":
        url = os.environ.get("TEST_DATABASE_URL", PG_DEFAULT)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def config_for(url: str) -> LoadedConfig:
    return LoadedConfig(
        settings=load_settings(EXAMPLE),
        path=Path(tempfile.mkdtemp(prefix="imbot-bench-")) / "config.yaml",
        environment=Environment(database_url=url, bot_token=None),
    )


def engine_name(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else "SQLite"


def percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99."""
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[94], q[98]


def one_core() -> None:
    """Pin this process to one CPU, so 'per core' figures mean what they say."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def summary(name: str, text_: str, ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("  [target met]" if ok else "  [TARGET MISSED]")
    print(f"SUMMARY {name}: {text_}{verdict}", flush=True)
