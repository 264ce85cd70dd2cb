"""`imbot import-contacts --apply` as a real process: 100,000 rows into an empty directory and
10,000 (half of them people already listed, changed) into those 100,000 (target < 60 s each).

    .venv/bin/python -m bench.imports [--db sqlite|postgresql|URL] [--rows N] [--into N]
        [--runs N] [--old REF] [--old-rows N]

Names are made from syllables in Latin, Cyrillic and Arabic script (no two files alike); most
rows carry an e-mail, many a phone and a Telegram username, some a user id. Each run uses a fresh
database. ``--old REF`` (default: the commit before batched imports) is checked out with
``git worktree`` and its own ``import-contacts`` runs side by side in this run on ``--old-rows``
rows (it looked every row up with a full scan and refused files over 50,000 rows), then the
current code on the same file, so the two are compared at one machine load.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from bench.common import EXAMPLE, database, engine_name, summary

ROOT = Path(__file__).resolve().parent.parent
OLD_DEFAULT = "1bfecf4"  # main before batched imports
TARGET_S = 60.0
COLUMNS = ["name", "organisation", "role", "clusters", "location", "phone", "email", "telegram"]
COLUMNS += ["focal_point", "user_id"]
SYLLABLES = [
    ["ka", "lo", "mi", "ra", "ne", "to", "sa", "vi", "ol", "an", "dre", "el", "ju", "li", "ma"],
    ["ко", "ва", "ле", "на", "ро", "ми", "ша", "ве", "ль", "ан", "дрі", "ол", "ін", "юк", "ен"],
    ["مح", "مد", "عل", "ي", "فا", "طم", "ة", "خا", "لد", "نو", "ر", "سل", "يم", "ان", "حس"],
]
ORGS = ["UNICEF", "UNHCR", "WFP", "IOM", "WHO", "NRC", "DRC", "REACH", "OCHA", "People in Need"]
CLUSTERS = ["WASH", "Protection", "Shelter/NFI", "Health", "Food Security", "CCCM", "Education"]
PLACES = ["Kharkiv", "Odesa", "Dnipro", "Kyiv", "Lviv", "Харків", "Одеса", "Херсон"]


def word(rng: random.Random, script: list[str]) -> str:
    made = "".join(rng.choice(script) for _ in range(rng.randrange(2, 5)))
    return made[0].upper() + made[1:]


def person(rng: random.Random, n: int) -> dict[str, object]:
    script = SYLLABLES[n % 3]
    return {
        "name": f"{word(rng, script)} {word(rng, script)}",
        "organisation": rng.choice(ORGS),
        "role": rng.choice(["IMO", "Coordinator", "Field officer", ""]),
        "clusters": "; ".join(rng.sample(CLUSTERS, rng.randrange(0, 3))),
        "location": rng.choice(PLACES),
        "phone": f"+38067{n:07d}" if n % 5 < 3 else "",
        "email": f"{word(rng, SYLLABLES[0]).lower()}.{n}@org{n % 40}.example.org" if n % 10 else "",
        "telegram": f"@im_{word(rng, SYLLABLES[0]).lower()}_{n}" if n % 2 else "",
        "focal_point": "yes" if n % 50 == 0 else "",
        "user_id": str(10_000_000 + n) if n % 3 == 0 else "",
    }


def write_csv(path: Path, people: list[dict[str, object]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(people)
    path.write_bytes(out.getvalue().encode())


def files(folder: Path, rows: int, into: int, seed: int) -> tuple[Path, Path]:
    """The big file, and one of ``into`` rows: half of them people in it, changed."""
    rng = random.Random(seed)
    first = [person(rng, n) for n in range(rows)]
    second = []
    for k in range(into):
        if k % 2 == 0 and first:
            known = dict(first[rng.randrange(len(first))])
            known["role"], known["location"] = "Cluster coordinator", rng.choice(PLACES)
            second.append(known)
        else:
            second.append(person(rng, rows + k))
    seen: set[str] = set()
    unique = []
    for row in second:  # a file names each person once
        keys = {f"{c}:{str(row[c]).lower()}" for c in ("email", "telegram", "phone", "user_id")}
        keys = {k for k in keys if not k.endswith(":")}
        if keys & seen:
            continue
        seen |= keys
        unique.append(row)
    big, small = folder / f"big-{seed}.csv", folder / f"small-{seed}.csv"
    write_csv(big, first)
    write_csv(small, unique)
    return big, small


def config(folder: Path, code: Path = ROOT) -> Path:
    """The example configuration of that code, with room for a 100,000-row file."""
    settings = yaml.safe_load((code / EXAMPLE.relative_to(ROOT)).read_text())
    settings["contacts"]["import_max_bytes"] = 20_000_000
    path = folder / f"config-{abs(hash(str(code)))}.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    return path


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_import(code: Path, config_path: Path, url: str, csv_path: Path) -> tuple[float, float, str]:
    """One ``import-contacts --apply`` process of the code in ``code``: wall s, CPU s, report."""
    launcher = f"import sys; sys.path.insert(0, {str(code)!r}); from bot.cli import main; main()"
    command = [sys.executable, "-c", launcher, "import-contacts", "--config", str(config_path)]
    command += [str(csv_path), "--apply"]
    cpu, start = cpu_children(), time.perf_counter()
    done = subprocess.run(
        command,
        cwd=code,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"import failed ({code}): {done.stderr[-2000:]}")
    return wall, cpu_children() - cpu, done.stdout.strip().rpartition(": ")[2]


@contextmanager
def old_tree(ref: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="imbot-old-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref])
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)])


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0]


def line(label: str, wall: float, cpu: float, report: str, rows: int) -> None:
    print(
        f"  {label}: {wall:6.1f} s wall, {cpu:6.1f} s CPU, {rows / wall:,.0f} rows/s; "
        f"{report}; load {load()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--into", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old", default=OLD_DEFAULT, help="git ref of the code to compare with")
    parser.add_argument("--old-rows", type=int, default=5_000, help="0: skip the old code")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="imbot-bench-imports-"))
    config_path = config(folder)
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    engine = ""
    fresh, more, fresh_cpu, more_cpu = [], [], [], []
    for run in range(args.runs):
        big, small = files(folder, args.rows, args.into, seed=run)
        with database(args.db) as url:
            engine = engine_name(url)
            wall, cpu, report = run_import(ROOT, config_path, url, big)
            line(
                f"run {run + 1}, {args.rows:,} rows into an empty {engine}",
                wall,
                cpu,
                report,
                args.rows,
            )
            fresh.append(wall)
            fresh_cpu.append(cpu)
            wall, cpu, report = run_import(ROOT, config_path, url, small)
            line(
                f"run {run + 1}, {args.into:,} rows into {args.rows:,}",
                wall,
                cpu,
                report,
                args.into,
            )
            more.append(wall)
            more_cpu.append(cpu)
    compared = ""
    if args.old_rows:
        small_rows, small_into = args.old_rows, max(args.old_rows // 10, 1)
        big, small = files(folder, small_rows, small_into, seed=99)
        timings: dict[str, list[float]] = {}
        with old_tree(args.old) as old:
            for label, code in ((f"old {args.old}", old), ("new", ROOT)):
                with database(args.db) as url:
                    config_path = config(folder, code)
                    wall, cpu, report = run_import(code, config_path, url, big)
                    line(f"{label}, {small_rows:,} rows into empty", wall, cpu, report, small_rows)
                    timings.setdefault(label, []).append(wall)
                    wall, cpu, report = run_import(code, config_path, url, small)
                    line(
                        f"{label}, {small_into:,} into {small_rows:,}",
                        wall,
                        cpu,
                        report,
                        small_into,
                    )
                    timings[label].append(wall)
        (old_a, old_b), (new_a, new_b) = timings.values()
        compared = (
            f"; same run, {small_rows:,} into empty / {small_into:,} into {small_rows:,}: "
            f"old {old_a:.1f} / {old_b:.1f} s, new {new_a:.1f} / {new_b:.1f} s"
        )
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    summary(
        "imports",
        f"{engine}, {args.rows:,} rows into empty: median {statistics.median(fresh):.1f} s "
        f"({min(fresh):.1f}–{max(fresh):.1f}; CPU {statistics.median(fresh_cpu):.1f} s); "
        f"{args.into:,} into {args.rows:,}: median {statistics.median(more):.1f} s "
        f"({min(more):.1f}–{max(more):.1f}; CPU {statistics.median(more_cpu):.1f} s) over "
        f"{args.runs} run(s), target < {TARGET_S:.0f} s{compared}",
        max(fresh) < TARGET_S and max(more) < TARGET_S,
    )


if __name__ == "__main__":
    main()
