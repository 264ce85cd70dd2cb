"""Run every benchmark, one after the other, and repeat their summary lines at the end.

    .venv/bin/python -m bench [--quick] [--postgresql]

``--quick`` runs smaller sizes (a smoke test, a few minutes); ``--postgresql`` also runs the
throughput, lookup and footprint benchmarks on PostgreSQL (``TEST_DATABASE_URL`` or the local
server). The full run takes about 40 minutes on SQLite (the fan-out runs in real time, 3 runs each
paired with its bare baseline; the footprint starts the real `imbot run` 3 times, 10,000 members
speaking each time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

FULL = [
    ["bench.throughput"],
    ["bench.fanout"],
    ["bench.contacts_lookup"],
    ["bench.native_index"],
    ["bench.footprint"],
    ["bench.mentions_all"],
    ["bench.mentions_private"],
    ["bench.imports"],
]
QUICK = {
    "bench.throughput": ["--updates", "3000", "--runs", "1"],
    "bench.fanout": ["--partners", "600", "--runs", "1"],
    "bench.contacts_lookup": ["--contacts", "10000", "--queries", "60", "--scan-queries", "20"],
    "bench.native_index": ["--contacts", "10000", "--queries", "60", "--scan-queries", "30"],
    "bench.footprint": ["--members", "1000", "--contacts", "10000", "--runs", "1"],
    "bench.mentions_all": ["--members", "200"],
    "bench.mentions_private": ["--members", "200"],
    "bench.imports": ["--rows", "10000", "--into", "1000", "--runs", "1", "--old-rows", "1000"],
}
ON_POSTGRESQL = {
    "bench.throughput",
    "bench.contacts_lookup",
    "bench.native_index",
    "bench.footprint",
    "bench.imports",
}


def main() -> None:
    parser = argparse.ArgumentParser(description="Run every benchmark in bench/")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--postgresql", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    runs = []
    for (module,) in FULL:
        extra = QUICK[module] if args.quick else []
        runs.append([module, *extra])
        if args.postgresql and module in ON_POSTGRESQL:
            runs.append([module, "--db", "postgresql", *extra])
    summaries, failed = [], []
    for run in runs:
        print(f"\n=== python -m {' '.join(run)}", flush=True)
        process = subprocess.run(
            [sys.executable, "-m", *run], stdout=subprocess.PIPE, text=True, check=False
        )
        print(process.stdout, end="", flush=True)
        summaries += [line for line in process.stdout.splitlines() if line.startswith("SUMMARY")]
        if process.returncode != 0:
            failed.append(" ".join(run))
    print("\n=== summaries")
    for line in summaries:
        print(line)
    if failed:
        print(f"failed to run: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
