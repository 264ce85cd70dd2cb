"""The contact directory's gram ranking three ways, on the same data and the same queries: the
bot's in-memory index (``storage.contact_index.ContactIndex``), an index inside the database
(SQLite FTS5 trigram / PostgreSQL GIN, ``storage.contacts.native``; on PostgreSQL ``pg_trgm``
too) and the full SQL scan (``scan_candidates``, the baseline and the oracle).

    .venv/bin/python -m bench.native_index [--db sqlite|postgresql|URL] [--contacts N]

For each: build or creation time, memory in the bot process or size on disk, the cost of 1,000
inserts and 1,000 updates with the index against without, lookup latency p50/p95 (query →
the 200 candidate rows) and whether the candidate lists equal the scan's, query by query.
Names come from Faker (``bench/people.py``, the bench extra).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.orm import Session

from bench.common import database, engine_name, load, percentiles, summary
from bench.contacts_lookup import CLUSTERS, ORGS, PLACES, typo
from bench.people import contact_rows, names
from moderation.contacts import search_key, trigrams
from storage import contact_index
from storage.contacts import ContactRepository, native
from storage.db import Database
from storage.models import Contact

Method = Callable[[Session, str], list[int]]
TARGET_MS = 200.0


def queries(people: Sequence[tuple[str, str]], count: int, rng: random.Random) -> list[str]:
    made = []
    for _ in range(count):
        first, last = rng.choice(people)
        made.append(
            rng.choice(
                [
                    typo(last, rng),
                    f"{first} {typo(last, rng)}",
                    typo(first, rng),
                    rng.choice(ORGS),
                    f"{rng.choice(CLUSTERS)} {rng.choice(PLACES)}",
                    typo(rng.choice(PLACES), rng),
                    first[:3],
                ]
            )
        )
    return [search_key(q) for q in made]


def grams_of(key: str) -> list[str]:
    return sorted(trigrams(key))[:24]


def rows_of(session: Session, ids: list[int]) -> list[int]:
    """Load the candidates' rows as ``search_candidates`` does (the lookup needs them)."""
    found = {
        c.id: c
        for c in session.scalars(
            select(Contact).where(Contact.id.in_(ids)).where(Contact.consent == "given")
        )
    }
    return [i for i in ids if i in found]


def scan(session: Session, key: str) -> list[int]:
    return [c.id for c in ContactRepository(session).scan_candidates(key)]


def in_database(session: Session, key: str) -> list[int]:
    return rows_of(session, native.candidate_ids(session, grams_of(key), 200))


def without_bigrams(session: Session, key: str) -> list[int]:
    grams = [g for g in grams_of(key) if len(g) == 3]
    return rows_of(session, native.candidate_ids(session, grams, 200))


def pg_trgm(session: Session, key: str) -> list[int]:
    """Each gram a LIKE the pg_trgm GIN index may serve (it cannot for 2-character grams)."""
    grams = grams_of(key)
    parts = [
        f"SELECT id FROM contacts WHERE consent = 'given' AND search_text LIKE :g{n}"
        for n in range(len(grams))
    ]
    params = {
        f"g{n}": "%" + g.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        for n, g in enumerate(grams)
    }
    query = (
        f"SELECT id FROM ({' UNION ALL '.join(parts)}) AS hits "
        "GROUP BY id ORDER BY count(*) DESC, id LIMIT 200"
    )
    return rows_of(session, [int(i) for i in session.execute(text(query), params).scalars()])


def timed(engine: Engine, method: Method, keys: list[str]) -> tuple[list[float], list[list[int]]]:
    times, answers = [], []
    for key in keys:
        with Session(engine) as session:
            t0 = time.perf_counter()
            answers.append(method(session, key))
            times.append((time.perf_counter() - t0) * 1000)
    return times, answers


def compare(answers: list[list[int]], oracle: list[list[int]]) -> tuple[int, int]:
    same = sum(a == b for a, b in zip(answers, oracle, strict=False))
    return same, min(len(answers), len(oracle)) - same


def disk_bytes(engine: Engine, sqlite: bool) -> int:
    with engine.connect() as connection:
        if sqlite:
            pages = connection.execute(text("PRAGMA page_count")).scalar_one()
            free = connection.execute(text("PRAGMA freelist_count")).scalar_one()
            size = connection.execute(text("PRAGMA page_size")).scalar_one()
            return int((pages - free) * size)
        return int(
            connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        )


def index_bytes(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT pg_relation_size('{name}')")).scalar_one())


def maintenance(engine: Engine, count: int, now: datetime) -> tuple[float, float]:
    """µs per row: ``count`` single-row inserts, then ``count`` updates of consented rows'
    search_text, in one transaction that is rolled back (the data stay as they were)."""
    with engine.connect() as connection:
        transaction = connection.begin()
        top = connection.execute(text("SELECT max(id) FROM contacts")).scalar_one()
        t0 = time.perf_counter()
        for i in range(count):
            connection.execute(
                insert(Contact).values(
                    name=f"Maintenance Person{i}",
                    organisation="WFP",
                    role="",
                    clusters="",
                    location="Kyiv",
                    phone="",
                    email="",
                    telegram="",
                    focal_point=False,
                    cluster_coordinator=False,
                    confirmed_clusters="",
                    levels="",
                    consent="given",
                    source="import",
                    search_text=f"maintenance person{i} wfp kyiv",
                    created_at=now,
                    updated_at=now,
                )
            )
        inserted = (time.perf_counter() - t0) * 1e6 / count
        t0 = time.perf_counter()
        for i in range(count):
            connection.execute(
                update(Contact)
                .where(Contact.id == top - 2 * i)
                .values(search_text=f"changed name{i} ocha odesa")
            )
        updated = (time.perf_counter() - t0) * 1e6 / count
        transaction.rollback()
    return inserted, updated


def p(values: list[float]) -> str:
    p50, p95, _ = percentiles(values)
    return f"p50 {p50:.1f} ms  p95 {p95:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200, help="lookups timed per method")
    parser.add_argument("--scan-queries", type=int, default=100, help="of them through the scan")
    parser.add_argument("--writes", type=int, default=1000, help="inserts and updates timed")
    args = parser.parse_args()
    with database(args.db) as url:
        run(url, args)


def run(url: str, args: argparse.Namespace) -> None:
    name = engine_name(url)
    sqlite = name == "SQLite"
    rng = random.Random(11)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    people = names(args.contacts)
    db = Database(url)
    db.upgrade()
    engine = db.engine
    drop, create = (
        (native.SQLITE_DROP, native.SQLITE_CREATE) if sqlite else (native.PG_DROP, native.PG_CREATE)
    )
    with engine.begin() as connection:  # start without the native index (a migration may add it)
        for statement in drop:
            connection.execute(text(statement))
    rows = contact_rows(people, now)
    t0 = time.perf_counter()
    with Session(engine) as session, session.begin():
        for start in range(0, len(rows), 5000):
            session.execute(insert(Contact), rows[start : start + 5000])
        contact_index.bump_version(session)
    if not sqlite:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE contacts"))
    print(f"{name}: inserted {args.contacts} contacts in {time.perf_counter() - t0:.1f}s; {load()}")
    consented = [(p.first_name, p.last_name or p.first_name) for p in people]
    keys = queries(consented, args.queries, rng)

    # --- in memory -----------------------------------------------------------------------
    index = contact_index.ContactIndex()
    with Session(engine) as session, session.begin():
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        index.rebuild(contact_index._consented(session), contact_index.current_version(session))
        build_wall, build_cpu = time.perf_counter() - w0, time.process_time() - c0
    del index
    gc.collect()
    tracemalloc.start()
    index = contact_index.ContactIndex()
    with Session(engine) as session, session.begin():
        index.rebuild(contact_index._consented(session), contact_index.current_version(session))
    gc.collect()
    index_mb = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    print(
        f"in memory: built in {build_wall:.2f} s wall, {build_cpu:.2f} s CPU (reading the rows "
        f"included); {index_mb:.1f} MB held (tracemalloc)"
    )

    def in_memory(session: Session, key: str) -> list[int]:
        return rows_of(session, index.candidates(grams_of(key), 200))

    # --- the scan (baseline, oracle) -------------------------------------------------------
    scan_keys = keys[: args.scan_queries]
    scan_times, oracle = timed(engine, scan, scan_keys)
    print(f"scan: {len(scan_keys)} lookups  {p(scan_times)}")
    memory_times, memory_answers = timed(engine, in_memory, keys)
    same, differ = compare(memory_answers, oracle)
    print(
        f"in memory: {len(keys)} lookups  {p(memory_times)}; "
        f"same as the scan {same}, different {differ}"
    )

    # --- in the database -------------------------------------------------------------------
    before_disk = disk_bytes(engine, sqlite)
    maintenance(engine, args.writes, now)  # a first round warms the caches: not counted
    plain_insert, plain_update = maintenance(engine, args.writes, now)
    t0 = time.perf_counter()
    with engine.begin() as connection:
        for statement in create:
            connection.execute(text(statement))
        if sqlite:
            connection.execute(text(native.SQLITE_FILL))
    created = time.perf_counter() - t0
    if sqlite:
        with engine.connect() as connection:
            connection.execute(text(f"INSERT INTO {native.FTS}({native.FTS}) VALUES ('optimize')"))
            connection.commit()
        size = disk_bytes(engine, sqlite) - before_disk
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE contacts"))
        size = index_bytes(engine, "ix_contacts_grams")
    with_insert, with_update = maintenance(engine, args.writes, now)
    label = "FTS5 trigram" if sqlite else "GIN on contact_grams()"
    print(
        f"{label}: created in {created:.2f} s, {size / 2**20:.1f} MB on disk; per row "
        f"insert {with_insert:.0f} µs (without {plain_insert:.0f}), update {with_update:.0f} µs "
        f"(without {plain_update:.0f}); memory in the bot: none beyond the connection"
    )
    native_times, native_answers = timed(engine, in_database, keys)
    n_same, n_differ = compare(native_answers, oracle)
    print(
        f"{label}: {len(keys)} lookups  {p(native_times)}; "
        f"same as the scan {n_same}, different {n_differ}"
    )
    _, tri_answers = timed(engine, without_bigrams, scan_keys)
    t_same, t_differ = compare(tri_answers, oracle)
    print(
        f"{label}, trigrams only (bigrams dropped): same as the scan {t_same}, different {t_differ}"
    )
    extra = ""
    if not sqlite:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        t0 = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE INDEX ix_contacts_trgm ON contacts USING gin (search_text "
                    "gin_trgm_ops) WHERE consent = 'given'"
                )
            )
        trgm_created = time.perf_counter() - t0
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE contacts"))
        with engine.begin() as connection:
            for statement in native.PG_DROP:
                connection.execute(text(statement))
        trgm_insert, trgm_update = maintenance(engine, args.writes, now)
        trgm_times, trgm_answers = timed(engine, pg_trgm, keys)
        g_same, g_differ = compare(trgm_answers, oracle)
        print(
            f"pg_trgm GIN: created in {trgm_created:.2f} s, "
            f"{index_bytes(engine, 'ix_contacts_trgm') / 2**20:.1f} MB; per row insert "
            f"{trgm_insert:.0f} µs, update {trgm_update:.0f} µs; {len(keys)} lookups "
            f"{p(trgm_times)}; same as the scan {g_same}, different {g_differ}"
        )
        extra = f"; pg_trgm p95 {percentiles(trgm_times)[1]:.0f} ms, same {g_same}/{len(scan_keys)}"
    native_p95 = percentiles(native_times)[1]
    summary(
        "native_index",
        f"{name}, {args.contacts} contacts, {len(keys)} queries: in memory p95 "
        f"{percentiles(memory_times)[1]:.1f} ms (build {build_wall:.2f} s wall / {build_cpu:.2f} s "
        f"CPU, {index_mb:.0f} MB in the bot), {label} p95 {native_p95:.1f} ms (created "
        f"{created:.1f} s, {size / 2**20:.0f} MB on disk, insert +{with_insert - plain_insert:.0f} "
        f"µs, update +{with_update - plain_update:.0f} µs per row), same candidates as the scan "
        f"{n_same}/{len(scan_keys)}{extra}; scan p95 {percentiles(scan_times)[1]:.0f} ms "
        f"(target: the SQL answer < {TARGET_MS:.0f} ms p95, same candidates); "
        f"scan median {statistics.median(scan_times):.0f} ms; {load()}",
        native_p95 < TARGET_MS and n_differ == 0,
    )
    db.dispose()


if __name__ == "__main__":
    main()
