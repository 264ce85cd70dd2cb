"""Contact imports in batches give what taking the rows one by one gives (README "Contact
directory": matching, consent, user ids), through the real ``imbot import-contacts`` process and
the moderator's chat import, on SQLite and PostgreSQL (TEST_DATABASE_URL).

The oracle below is written from the README, not from the import code: a row finds the entry
with its user id, else one with its e-mail, else one with its Telegram username (compared
without case; the lowest id when several share one), in the directory as the rows before it left
it. An entry whose person answered the consent question is kept as they wrote it; so is an entry
tied to another user id. Otherwise the row's values replace the entry's (unchanged when they are
the same) and a user id in the row links an unlinked entry. A row that finds nothing is new,
waiting for consent. A dry run counts against the directory as it is.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select, text

from config.loader import LoadedConfig
from moderation.clock import FakeClock
from simulation.simulator import Simulator
from storage.db import Database
from storage.models import Contact
from tests.conftest import MODERATOR_ID

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
IMBOT = Path(sys.executable).parent / "imbot"
SEEDED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
COLUMNS = [
    "name",
    "organisation",
    "role",
    "clusters",
    "location",
    "phone",
    "email",
    "telegram",
    "focal_point",
    "cluster_coordinator",
    "user_id",
]
SHOWN = COLUMNS[:-1]
CLUSTERS = ["WASH", "Health", "Protection", "Shelter/NFI", "CCCM"]
ORGS = ["UNICEF", "NRC", "IOM", "WHO", "People in Need"]
PLACES = ["Kharkiv", "Odesa", "Dnipro", "Одеса", "Kyiv"]


@dataclass
class Entry:
    id: int
    values: dict[str, Any]  # the COLUMNS (clusters as a list), user_id an int or None
    consent: str = "pending"
    consent_at: datetime | None = None
    levels: str = ""
    claimed_by: int | None = None
    source: str = "profile"


@dataclass
class Directory:
    entries: list[Entry] = field(default_factory=list)

    def find(self, row: dict[str, Any]) -> Entry | None:
        if row["user_id"] is not None:
            for entry in self.entries:
                if entry.values["user_id"] == row["user_id"]:
                    return entry
        for key in ("email", "telegram"):
            if row[key]:
                same = [e for e in self.entries if e.values[key].lower() == row[key].lower()]
                if same:
                    return min(same, key=lambda e: e.id)
        return None


def oracle(directory: Directory, rows: list[dict[str, Any]], apply: bool) -> dict[str, int]:
    """Row by row, as the README says; changes ``directory`` when ``apply``."""
    counts = {"new": 0, "updated": 0, "unchanged": 0, "kept": 0}
    for row in rows:
        entry = directory.find(row)
        if entry is None:
            counts["new"] += 1
            if apply:
                directory.entries.append(Entry(10**9 + len(directory.entries), dict(row)))
                directory.entries[-1].source = "import"
            continue
        linked = entry.values["user_id"]
        if entry.consent != "pending" or (linked and row["user_id"] not in (None, linked)):
            counts["kept"] += 1
            continue
        after = dict(row, user_id=row["user_id"] if row["user_id"] is not None else linked)
        if after == entry.values:
            counts["unchanged"] += 1
            continue
        counts["updated"] += 1
        if apply:
            entry.values = after
    return counts


# --------------------------------------------------------------------------- the scenario
def scenario(seed: int, existing: int, count: int) -> tuple[Directory, list[dict[str, Any]]]:
    """A directory of ``existing`` entries and a file of ``count`` rows meeting it every way."""
    rng = random.Random(seed)
    directory = Directory()
    for i in range(1, existing + 1):
        consent = rng.choices(["pending", "given", "declined"], [7, 2, 1])[0]
        values = person(rng, i)
        if rng.random() < 0.4:
            values["user_id"] = 7_000_000 + i
        if i % 25 == 0 and i > 1:  # an e-mail two entries share (written differently)
            values["email"] = recase(directory.entries[i - 2].values["email"])
        if rng.random() < 0.3:
            values["telegram"] = ""
        directory.entries.append(
            Entry(
                i,
                values,
                consent=consent,
                consent_at=SEEDED_AT if consent != "pending" else None,
                levels="phone=public" if consent == "given" else "",
                claimed_by=5_000 + i if values["user_id"] is None and i % 7 == 0 else None,
            )
        )
    used: set[str] = set()
    rows: list[dict[str, Any]] = []
    chains: list[tuple[Entry, str]] = []  # entries a row moved off a username, and that name
    for n in range(count):
        kind = rng.choices(["new", "user", "email", "handle", "same", "relink", "chain"])[0]
        target = rng.choice(directory.entries) if directory.entries else Entry(0, person(rng, 0))
        row = person(rng, 100_000 + n)
        if kind == "user" and target.values["user_id"]:
            row["user_id"] = target.values["user_id"]
        elif kind == "email" and target.values["email"]:
            row["email"] = recase(target.values["email"]) if n % 2 else target.values["email"]
        elif kind == "handle" and target.values["telegram"]:
            row["telegram"] = target.values["telegram"].upper()
        elif kind == "same":
            row = dict(target.values)
        elif kind == "relink" and target.values["email"]:
            row["email"], row["user_id"] = target.values["email"], 8_000_000 + n
        elif kind == "chain" and target.values["email"] and target.values["telegram"]:
            row["email"] = target.values["email"]  # takes the entry, gives it another name
            chains.append((target, target.values["telegram"]))
        if chains and n % 97 == 0:  # later (same batch or the next), someone with the old name
            _, old = chains.pop(0)
            row["telegram"] = old
        keys = row_keys(row)
        if keys & used:
            row = person(rng, 200_000 + n)
            keys = row_keys(row)
        used |= keys
        rows.append(row)
    return directory, rows


def person(rng: random.Random, i: int) -> dict[str, Any]:
    first = rng.choice(["Olena", "Ivan", "Aisha", "Pierre", "Марія", "Дмитро", "محمد", "ليلى"])
    last = rng.choice(["Koval", "Dubois", "Haddad", "Шевченко", "Бондар", "حداد", "Nguyen"])
    return {
        "name": f"{first} {last} {i % 89}",
        "organisation": rng.choice(ORGS),
        "role": rng.choice(["IMO", "Coordinator", ""]),
        "clusters": rng.sample(CLUSTERS, rng.randrange(0, 3)),
        "location": rng.choice(PLACES),
        "phone": f"+38067{i:07d}" if rng.random() < 0.5 else "",
        "email": f"{rng.choice(['Person', 'person', 'PERSON'])}.{i}@org{i % 13}.example.org",
        "telegram": f"@User_{i}x",
        "focal_point": rng.random() < 0.1,
        "cluster_coordinator": rng.random() < 0.05,
        "user_id": None,
    }


def recase(email: str) -> str:
    """The same address with its name part in other letter case (domains are lowercased)."""
    local, _, domain = email.rpartition("@")
    return f"{local.swapcase()}@{domain}"


def row_keys(row: dict[str, Any]) -> set[str]:
    keys = {f"e:{row['email'].lower()}", f"t:{row['telegram'].lower()}", f"p:{row['phone']}"}
    keys |= {f"u:{row['user_id']}"} if row["user_id"] else set()
    return {k for k in keys if not k.endswith(":")}


def csv_of(rows: list[dict[str, Any]], bad: dict[int, str] | None = None) -> bytes:
    """The file; ``bad`` puts a broken phone on the given lines (line 1 is the header)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line, row in enumerate(rows, start=2):
        cells = dict(row, clusters="; ".join(row["clusters"]))
        cells["focal_point"] = "yes" if row["focal_point"] else "no"
        cells["cluster_coordinator"] = "yes" if row["cluster_coordinator"] else ""
        cells["user_id"] = row["user_id"] or ""
        if bad and line in bad:
            cells["phone"] = bad[line]
        writer.writerow([cells[c] for c in COLUMNS])
    return out.getvalue().encode()


# --------------------------------------------------------------------------- the database
def seed(url: str, directory: Directory) -> None:
    database = Database(url)
    database.upgrade()
    with database.transaction() as session:
        for entry in directory.entries:
            session.add(
                Contact(
                    id=entry.id,
                    **{k: v for k, v in entry.values.items() if k != "clusters"},
                    clusters="|".join(entry.values["clusters"]),
                    confirmed_clusters="|".join(entry.values["clusters"]),
                    claimed_by=entry.claimed_by,
                    levels=entry.levels,
                    consent=entry.consent,
                    consent_at=entry.consent_at,
                    source=entry.source,
                    search_text="",
                    created_at=SEEDED_AT,
                    updated_at=SEEDED_AT,
                )
            )
        if database.engine.dialect.name == "postgresql":  # ids given: move the sequence on
            session.execute(
                text(
                    "select setval(pg_get_serial_sequence('contacts', 'id'), "
                    "(select coalesce(max(id), 0) + 1 from contacts), false)"
                )
            )
    database.dispose()


def stored(url: str) -> list[tuple[Any, ...]]:
    """Every entry as comparable values, sorted (new entries' ids are not compared)."""
    database = Database(url)
    with database.transaction() as session:
        found = [state_of(c) for c in session.scalars(select(Contact))]
    database.dispose()
    return sorted(found, key=repr)


def state_of(contact: Contact) -> tuple[Any, ...]:
    clusters = [c for c in contact.clusters.split("|") if c]
    confirmed = [c for c in contact.confirmed_clusters.split("|") if c]
    return (
        contact.id if contact.source != "import" else None,
        *(getattr(contact, c) for c in SHOWN if c != "clusters"),
        clusters,
        confirmed,
        contact.user_id,
        contact.consent,
        contact.consent_at,
        contact.levels,
        contact.claimed_by,
        contact.source,
    )


def expected(directory: Directory) -> list[tuple[Any, ...]]:
    found = []
    for e in directory.entries:
        v = e.values
        found.append(
            (
                e.id if e.source != "import" else None,
                *(v[c] for c in SHOWN if c != "clusters"),
                v["clusters"],
                v["clusters"],
                v["user_id"],
                e.consent,
                e.consent_at,
                e.levels,
                e.claimed_by,
                e.source,
            )
        )
    return sorted(found, key=repr)


def config_file(folder: Path, **contacts: object) -> Path:
    settings = yaml.safe_load(EXAMPLE.read_text())
    settings["contacts"].update(contacts)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    return path


def cli(config: Path, url: str, csv_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IMBOT), "import-contacts", "--config", str(config), str(csv_path), *extra],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def report_line(counts: dict[str, int]) -> str:
    return (
        f"{counts['new']} new, {counts['updated']} updated, {counts['unchanged']} unchanged, "
        f"{counts['kept']} kept as their owners wrote them"
    )


# --------------------------------------------------------------------------- the tests
def test_cli_import_matches_the_row_by_row_oracle_across_batches(
    tmp_path: Path, database_url: str
) -> None:
    directory, rows = scenario(seed=18, existing=600, count=2_600)
    seed(database_url, directory)
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_of(rows))
    config = config_file(tmp_path, import_max_bytes=5_000_000)

    dry = cli(config, database_url, path)
    assert dry.returncode == 0, dry.stderr
    dry_counts = oracle(directory, rows, apply=False)
    assert f"dry run, would import: {report_line(dry_counts)}" in dry.stdout
    assert stored(database_url) == expected(directory)  # a dry run changes nothing

    done = cli(config, database_url, path, "--apply")
    assert done.returncode == 0, done.stderr
    counts = oracle(directory, rows, apply=True)
    assert all(counts[k] > 20 for k in counts), counts  # the scenario meets every case
    assert f"imported: {report_line(counts)}" in done.stdout
    assert stored(database_url) == expected(directory)
    # Progress on stderr (not a terminal: a line per tenth), ending at every row.
    assert "checked 2,600 of 2,600 rows (100 %)" in done.stderr
    assert "imported 1,000 of 2,600 rows (38 %)" in done.stderr
    assert done.stderr.rstrip().endswith("imported 2,600 of 2,600 rows (100 %)")

    again = cli(config, database_url, path, "--apply")
    assert again.returncode == 0, again.stderr
    counts = oracle(directory, rows, apply=True)
    assert counts["unchanged"] > 2_000
    assert f"imported: {report_line(counts)}" in again.stdout
    assert stored(database_url) == expected(directory)


def test_a_chain_across_a_batch_boundary_and_inside_one(tmp_path: Path, database_url: str) -> None:
    """A row moves an entry off its username; a later row with that username is someone new,
    whether it comes in the same batch of 1,000 or the next."""
    directory, _ = scenario(seed=7, existing=4, count=0)
    for n, entry in enumerate(directory.entries):
        entry.consent, entry.consent_at, entry.levels = "pending", None, ""
        entry.values.update(user_id=None, telegram=f"@Chain_{n}_name")
    seed(database_url, directory)
    rng = random.Random(3)
    filler = [person(rng, 300_000 + n) for n in range(1_200)]
    first, second = directory.entries[0].values, directory.entries[1].values
    takes_first = dict(person(rng, 1), email=recase(first["email"]), telegram="@Renamed_one")
    takes_second = dict(person(rng, 2), email=second["email"], telegram="")
    rows = [*filler[:10], takes_first, *filler[10:20], dict(filler[20], telegram=first["telegram"])]
    rows += [*filler[21:998], takes_second, *filler[998:1_150]]
    rows.append(dict(filler[1_150], telegram=second["telegram"].lower()))
    assert len(rows) > 1_000 and rows.index(takes_second) == 999  # the last row of batch one
    path = tmp_path / "chain.csv"
    path.write_bytes(csv_of(rows))
    done = cli(config_file(tmp_path), database_url, path, "--apply")
    assert done.returncode == 0, done.stderr
    counts = oracle(directory, rows, apply=True)
    assert counts == {"new": len(rows) - 2, "updated": 2, "unchanged": 0, "kept": 0}
    assert f"imported: {report_line(counts)}" in done.stdout
    assert stored(database_url) == expected(directory)


def test_bad_rows_are_named_by_line_and_nothing_is_stored(
    tmp_path: Path, database_url: str
) -> None:
    directory, rows = scenario(seed=5, existing=50, count=1_500)
    seed(database_url, directory)
    before = stored(database_url)
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_of(rows, bad={3: "12", 1_002: "not a phone", 1_501: "+1"}))
    done = cli(config_file(tmp_path), database_url, path, "--apply")
    assert done.returncode == 1
    assert "3 problem(s); nothing was imported" in done.stderr
    for line in (3, 1_002, 1_501):
        assert f"  line {line}: " in done.stderr
    assert "imported" not in done.stdout
    assert stored(database_url) == before


def test_the_row_limit_refuses_a_longer_file_in_the_cli(tmp_path: Path, database_url: str) -> None:
    directory, rows = scenario(seed=9, existing=0, count=120)
    seed(database_url, directory)
    path = tmp_path / "long.csv"
    path.write_bytes(csv_of(rows) + b"\n,,,,,,,,,,\n")  # blank rows are not contacts
    config = config_file(tmp_path, import_max_rows=119)
    refused = cli(config, database_url, path, "--apply")
    assert refused.returncode == 1
    assert "the file has 120 contacts; the limit is 119 (contacts.import_max_rows)" in (
        refused.stderr
    )
    assert "nothing was imported" in refused.stderr
    assert stored(database_url) == []
    accepted = cli(config_file(tmp_path, import_max_rows=120), database_url, path, "--apply")
    assert accepted.returncode == 0, accepted.stderr
    assert "imported: 120 new" in accepted.stdout


# --------------------------------------------------------------------------- in chat
def limited(config: LoadedConfig, **contacts: object) -> LoadedConfig:
    policy = config.settings.contacts.model_copy(update=contacts)
    return dataclasses.replace(
        config, settings=config.settings.model_copy(update={"contacts": policy})
    )


async def started(config: LoadedConfig, clock: FakeClock) -> Simulator:
    sim = Simulator(config, clock)
    moderator = sim.telegram.add_user("Mira", "Moderator", "mira_ocha", user_id=MODERATOR_ID)
    sim.telegram.started.add(moderator.id)
    await sim.start()
    return sim


def edits(sim: Simulator, message_id: int) -> Iterator[str]:
    for call in sim.telegram.calls_to("editMessageText"):
        if int(call["message_id"]) == message_id:
            yield str(call["text"])


async def test_chat_import_matches_the_oracle_and_shows_progress(
    config: LoadedConfig, clock: FakeClock, database_url: str
) -> None:
    directory, rows = scenario(seed=21, existing=200, count=5_200)
    seed(database_url, directory)
    sim = await started(limited(config, import_max_bytes=5_000_000), clock)
    try:
        moderator = sim.telegram.users[MODERATOR_ID]
        data = csv_of(rows)
        await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "team.csv", data))
        report = sim.last(MODERATOR_ID)
        dry = oracle(directory, rows, apply=False)
        assert f"{dry['new']} new, {dry['updated']} updated" in report.text
        press = next(b["callback_data"] for b in report.buttons() if b["text"] == "Import")
        # The first progress note fails (as Telegram may refuse an edit): the import goes on.
        sim.telegram.fail_next("editMessageText", 400, "Bad Request: message is not modified")
        await sim.press(moderator, report, "Import")
        counts = oracle(directory, rows, apply=True)
        shown = list(edits(sim, report.message_id))
        assert shown[-1] == f"Imported: {report_line(counts)}."
        # A fifth of the file at a time, never the same step twice, then the result.
        assert shown[:-1] == [
            f"Importing… {done:,} of 5,200 contacts." for done in (2_000, 3_000, 4_000, 5_000)
        ]
        assert stored(database_url) == expected(directory)
        again = sim.telegram.forged_press(MODERATOR_ID, MODERATOR_ID, report.message_id, press)
        await sim.feed(again)  # a second press on the same button imports nothing more
        assert stored(database_url) == expected(directory)
        assert len(list(edits(sim, report.message_id))) == len(shown)
    finally:
        await sim.stop()


async def test_chat_import_refuses_more_rows_than_the_setting(
    config: LoadedConfig, clock: FakeClock, database_url: str
) -> None:
    _, rows = scenario(seed=4, existing=0, count=31)
    sim = await started(limited(config, import_max_rows=30), clock)
    try:
        await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "c.csv", csv_of(rows)))
        reply = sim.last(MODERATOR_ID)
        assert "nothing was imported" in reply.text
        assert "the file has 31 contacts; the limit is 30 (contacts.import_max_rows)" in reply.text
        assert reply.buttons() == []
        assert stored(database_url) == []
    finally:
        await sim.stop()
