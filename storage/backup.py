"""Moving data: SQLite → PostgreSQL copies, and backups in a documented, versioned format.

Backup format (``imbot-backup``, version 1): a gzip-compressed text file of JSON lines.

1. a header: ``{"format": "imbot-backup", "version": 1, "revision": "<alembic revision>",
   "created_at": "<UTC ISO time>", "tables": ["groups", …], "counts": {"groups": 1, …}}``;
2. one line per row, tables in foreign-key order:
   ``{"t": "users", "r": {"id": 5, "first_name": "Ivan", …}}`` — datetimes as ISO 8601 with
   offset (UTC), dates as ``YYYY-MM-DD``, enums by value;
3. a footer: ``{"end": true, "rows": <total>}`` (its absence means the file is truncated).

A backup restores only into the same schema revision it was made at: rows are read with the
current models, so a different revision is refused with both revisions named.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    Table,
    TypeDecorator,
    delete,
    func,
    select,
    text,
)
from sqlalchemy import Enum as SAEnum

from storage.db import current_revision, head_revision
from storage.models import Base
from storage.ops import is_postgresql, upgrade_exclusively

FORMAT, VERSION = "imbot-backup", 1
BATCH = 1000


class BackupError(Exception):
    """The copy, backup or restore cannot be done; the message says why and what to do."""


def tables() -> list[Table]:
    """Every table, parents before children (foreign-key order)."""
    return list(Base.metadata.sorted_tables)


def _encode(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, value in row.items():
        column = table.columns.get(name)
        if column is None:
            raise BackupError(f"table {table.name} has no column {name!r}")
        if value is not None:
            column_type = column.type
            if isinstance(column_type, SAEnum) and column_type.enum_class is not None:
                value = column_type.enum_class(value)
            else:
                if isinstance(column_type, TypeDecorator):
                    column_type = column_type.impl_instance
                if isinstance(column_type, DateTime):
                    value = datetime.fromisoformat(value)
                elif isinstance(column_type, Date):
                    value = date.fromisoformat(value)
        decoded[name] = value
    return decoded


def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    # On the statement: Connection.execution_options() would change the connection for good.
    query = select(table).order_by(*table.primary_key.columns)
    result = connection.execute(query.execution_options(stream_results=True))
    for partition in result.mappings().partitions(BATCH):
        for row in partition:
            yield {key: _encode(value) for key, value in row.items()}


def row_counts(connection: Connection) -> dict[str, int]:
    return {
        t.name: int(connection.scalar(select(func.count()).select_from(t)) or 0) for t in tables()
    }


def digests(connection: Connection) -> dict[str, str]:
    """A fingerprint of each table's content, independent of row order and collation."""
    result = {}
    for table in tables():
        lines = sorted(
            json.dumps(row, sort_keys=True, default=str) for row in _rows(connection, table)
        )
        result[table.name] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return result


def _insert(connection: Connection, table: Table, batch: list[dict[str, Any]]) -> None:
    if batch:
        connection.execute(table.insert(), batch)


def _clear(connection: Connection) -> None:
    for table in reversed(tables()):
        connection.execute(delete(table))


def fix_sequences(connection: Connection) -> None:
    """After inserting explicit ids, move PostgreSQL's sequences past them."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables():
        columns = list(table.primary_key.columns)
        if len(columns) != 1 or columns[0].autoincrement is False:
            continue
        column = columns[0]
        if column.type.python_type is not int:
            continue
        sequence = connection.scalar(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": table.name, "column": column.name},
        )
        if sequence is None:
            continue
        connection.execute(
            text(
                f'SELECT setval(:sequence, COALESCE((SELECT MAX("{column.name}") '
                f'FROM "{table.name}"), 0) + 1, false)'
            ),
            {"sequence": sequence},
        )


def _require_head(engine: Engine, what: str) -> str:
    current, head = current_revision(engine), head_revision()
    if current != head or head is None:
        raise BackupError(
            f"{what} is at schema revision {current or 'none'}, this program's is {head}: "
            "run `imbot db upgrade` on it first."
        )
    return head


def _target_ready(target: Engine) -> None:
    try:
        upgrade_exclusively(target)
    except Exception as exc:  # the target may be anything an operator typed
        raise BackupError(f"cannot prepare the target database: {exc}") from None


# --------------------------------------------------------------------------- copy
@dataclass(frozen=True)
class CopyReport:
    counts: dict[str, int]
    already_identical: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def copy_database(source: Engine, target: Engine, force: bool = False) -> CopyReport:
    """Copy every row of ``source`` into ``target`` in one transaction, then verify.

    The target is migrated to the newest schema first. A target that already holds exactly
    the source's data is left as it is (running the copy twice is harmless); any other
    non-empty target is refused unless ``force``, which replaces its content.
    """
    _require_head(source, "the source database")
    if source.url == target.url:
        raise BackupError("the source and the target are the same database")
    _target_ready(target)
    with source.connect() as reader, target.begin() as writer:
        source_counts = row_counts(reader)
        target_counts = row_counts(writer)
        if any(target_counts.values()):
            if target_counts == source_counts and digests(writer) == digests(reader):
                return CopyReport(source_counts, already_identical=True)
            if not force:
                rows = sum(target_counts.values())
                raise BackupError(
                    f"the target database is not empty ({rows} rows); nothing was copied. "
                    "Use --force to replace its content with the source's."
                )
            _clear(writer)
        for table in tables():
            batch: list[dict[str, Any]] = []
            for row in _rows(reader, table):
                batch.append(_decode(table, row))
                if len(batch) >= BATCH:
                    _insert(writer, table, batch)
                    batch = []
            _insert(writer, table, batch)
        fix_sequences(writer)
        copied = row_counts(writer)
        if copied != source_counts:
            raise BackupError(  # raising rolls the whole copy back
                f"verification failed, nothing was copied: source {source_counts}, target {copied}"
            )
        if digests(writer) != digests(reader):
            raise BackupError("verification failed (content differs), nothing was copied")
    return CopyReport(copied)


# --------------------------------------------------------------------------- backup
def backup(source: Engine, path: Path, now: datetime) -> dict[str, int]:
    revision = _require_head(source, "the database")
    tmp = path.with_name(path.name + ".partial")
    with source.connect() as reader:
        counts = row_counts(reader)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "revision": revision,
            "created_at": now.astimezone(UTC).isoformat(),
            "tables": [t.name for t in tables()],
            "counts": counts,
        }
        total = 0
        with gzip.open(tmp, "wt", encoding="utf-8") as out:
            _line(out, header)
            for table in tables():
                for row in _rows(reader, table):
                    _line(out, {"t": table.name, "r": row})
                    total += 1
            _line(out, {"end": True, "rows": total})
    tmp.replace(path)  # a backup file either is complete or does not exist
    return counts


def _line(out: IO[str], data: dict[str, Any]) -> None:
    out.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def read_header(path: Path) -> dict[str, Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as file:
            header = json.loads(file.readline())
    except (OSError, EOFError, ValueError) as exc:
        raise BackupError(f"{path} is not an imbot backup (gzip JSON lines): {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path} is not an imbot backup (no {FORMAT} header)")
    if header.get("version") != VERSION:
        raise BackupError(
            f"{path} is backup format version {header.get('version')}; this program reads "
            f"version {VERSION}"
        )
    return header


def restore(target: Engine, path: Path, force: bool = False) -> dict[str, int]:
    """Load a backup into ``target`` in one transaction; all or nothing."""
    header = read_header(path)
    head = head_revision()
    if header.get("revision") != head:
        raise BackupError(
            f"{path} was made at schema revision {header.get('revision')}, this program's "
            f"schema is {head}; nothing was restored. Restore it with the imbot version whose "
            "newest revision is that one, then run `imbot db upgrade`."
        )
    _target_ready(target)
    by_name = {t.name: t for t in tables()}
    expected: dict[str, int] = dict(header.get("counts") or {})
    with target.begin() as writer:
        present = row_counts(writer)
        if any(present.values()):
            if not force:
                raise BackupError(
                    f"the target database is not empty ({sum(present.values())} rows); "
                    "nothing was restored. Use --force to replace its content."
                )
            _clear(writer)
        ended, total = False, 0
        batch: list[dict[str, Any]] = []
        table: Table | None = None
        try:
            with gzip.open(path, "rt", encoding="utf-8") as file:
                file.readline()
                for number, line in enumerate(file, start=2):
                    data = json.loads(line)
                    if data.get("end"):
                        ended = data.get("rows") == total
                        break
                    current = by_name.get(data.get("t"))
                    if current is None:
                        raise BackupError(f"{path} line {number}: unknown table {data.get('t')!r}")
                    if current is not table:
                        if table is not None:
                            _insert(writer, table, batch)
                        table, batch = current, []
                    batch.append(_decode(current, data["r"]))
                    total += 1
                    if len(batch) >= BATCH:
                        _insert(writer, current, batch)
                        batch = []
        except (OSError, EOFError, ValueError, KeyError) as exc:
            raise BackupError(f"{path} is damaged: {exc}; nothing was restored") from None
        if table is not None:
            _insert(writer, table, batch)
        if not ended:
            raise BackupError(f"{path} is truncated (no end marker); nothing was restored")
        fix_sequences(writer)
        counts = row_counts(writer)
        if {k: v for k, v in counts.items() if v or k in expected} != {
            k: v for k, v in expected.items() if v or k in counts
        }:
            raise BackupError(
                f"verification failed, nothing was restored: file {expected}, database {counts}"
            )
    return counts


def engine_kind(engine: Engine) -> str:
    return "PostgreSQL" if is_postgresql(engine) else engine.dialect.name
