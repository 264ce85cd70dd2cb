"""Lookup latency with 100,000 contacts: p50/p95/p99 of one /contact search (target p95 < 50 ms).

    .venv/bin/python bench/contacts_lookup.py [DATABASE_URL] [--contacts N] [--queries N]

Default database: a temporary SQLite file. PostgreSQL:
    .venv/bin/python bench/contacts_lookup.py postgresql+psycopg://postgres@127.0.0.1:5432/test
(the tables are created in a fresh schema, dropped at the end).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from bot.app import build_services
from config.loader import Environment, LoadedConfig, load_settings
from handlers.contacts import search
from moderation.contacts import Requester, search_key
from storage.models import Contact

FIRST = ["Olena", "Ivan", "Petro", "Anna", "Maria", "Oleksandr", "Iryna", "Dmytro", "Sofia"]
LAST = ["Koval", "Shevchenko", "Bondar", "Tkachenko", "Kravets", "Melnyk", "Boyko", "Rudenko"]
ORGS = ["UNICEF", "UNHCR", "WFP", "IOM", "WHO", "NRC", "DRC", "REACH", "OCHA", "People in Need"]
CLUSTERS = ["WASH", "Protection", "Shelter/NFI", "Health", "Food Security", "CCCM", "Education"]
PLACES = ["Kharkiv", "Odesa", "Dnipro", "Kyiv", "Lviv", "Zaporizhzhia", "Mykolaiv", "Sumy"]
ROLES = ["IMO", "Coordinator", "Field officer", "Data analyst", "Programme manager"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url", nargs="?")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    schema = None
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    example = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
    config = LoadedConfig(
        settings=load_settings(example),
        path=example,
        environment=Environment(database_url=url, bot_token=None),
    )
    services = build_services(config)
    services.db.upgrade()
    now = datetime.now(UTC)
    batch = []
    for i in range(args.contacts):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}{i % 997}"
        org, cluster, place, role = (
            rng.choice(ORGS),
            rng.choice(CLUSTERS),
            rng.choice(PLACES),
            rng.choice(ROLES),
        )
        batch.append(
            dict(
                user_id=10_000_000 + i,
                name=name,
                organisation=org,
                role=role,
                clusters=cluster,
                location=place,
                phone="",
                email="",
                telegram="",
                focal_point=False,
                cluster_coordinator=False,
                levels="",
                consent="given",
                source="import",
                search_text=" ".join(search_key(v) for v in (name, org, role, cluster, place)),
                created_at=now,
                updated_at=now,
            )
        )
    started = time.perf_counter()
    with services.db.transaction() as session:
        for start in range(0, len(batch), 5000):
            session.execute(insert(Contact), batch[start : start + 5000])
    print(
        f"{url.split(':')[0]}: inserted {args.contacts} contacts "
        f"in {time.perf_counter() - started:.1f}s"
    )
    requester = Requester(user_id=1, is_member=True, clusters=frozenset({"WASH"}))
    queries = [
        rng.choice(
            [
                rng.choice(LAST)[:-1] + "a",
                rng.choice(ORGS),
                rng.choice(PLACES),
                f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "wash kharkiv",
                "protecton",
            ]
        )
        for _ in range(args.queries)
    ]
    timings = []
    for query in queries:
        key = search_key(query)
        t0 = time.perf_counter()
        with services.db.transaction() as session:
            search(services, session, requester, key)
        timings.append((time.perf_counter() - t0) * 1000)
    q = statistics.quantiles(timings, n=100)
    print(f"lookups: {len(timings)}  p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms")
    services.db.dispose()
    if schema is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
