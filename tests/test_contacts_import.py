"""CSV import (upload and CLI) and moderator export: all or nothing, consent respected."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from moderation.contacts import parse_contacts_csv
from simulation.simulator import Simulator
from storage.models import Contact, Disclosure
from tests.conftest import MODERATOR_ID
from tests.test_contacts import add_contact, member, rows

GOOD = (
    b"name,organisation,clusters,phone,email,telegram,focal_point\n"
    b"Petro Shevchenko,NRC,Shelter/NFI,+380 44 123 4567,petro@nrc.org,@petro_s,yes\n"
    b"Anna Bondar,IOM,CCCM,,anna@iom.int,,no\n"
)


def test_parser_refuses_bad_files() -> None:
    cases = {
        b"nom,org\nA,B\n": "header",
        "name\nOlena\n".encode("utf-16"): "UTF-8",
        b"name,email\nOlena K,bad@\n": "line 2",
        b"name,email\nOlena K,o@x.org\nOlena B,O@x.org\n": "same person",
        b"name,email\nOlena K\n": "values for",
        b"": "empty",
        b"x" * 3_000_000: "limit",
    }
    for data, expected in cases.items():
        parsed = parse_contacts_csv(data, 2_000_000)
        assert any(expected in e for e in parsed.errors), (data[:40], parsed.errors)


async def test_upload_dry_run_then_import_not_findable_until_consent(sim: Simulator) -> None:
    moderator = sim.telegram.users[MODERATOR_ID]
    await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "c.csv", GOOD))
    report = sim.last(MODERATOR_ID)
    assert "2 new" in report.text
    assert rows(sim, Contact) == []  # dry run
    ivan = await member(sim, "Ivan", "Petrenko")
    await sim.feed(sim.telegram.forged_press(ivan.id, MODERATOR_ID, report.message_id, "ct:imp:1"))
    assert rows(sim, Contact) == []
    await sim.press(moderator, report, "Import")
    imported = rows(sim, Contact)
    assert {c.phone for c in imported} == {"+380441234567", ""}
    assert all(c.consent == "pending" and c.user_id is None for c in imported)
    await sim.dm(ivan, "/contact petro")
    assert "Nobody found" in sim.last(ivan.id).text


async def test_bad_upload_imports_nothing(sim: Simulator) -> None:
    bad = GOOD + b"Broken Row,X,,not a phone,,,\n"
    await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "c.csv", bad))
    assert "nothing was imported" in sim.last(MODERATOR_ID).text
    assert sim.last(MODERATOR_ID).buttons() == []
    await sim.feed(sim.telegram.document(MODERATOR_ID, MODERATOR_ID, "big.csv", b"x" * 3_000_000))
    assert "too large" in sim.last(MODERATOR_ID).text
    assert rows(sim, Contact) == []


async def test_members_cannot_upload_or_export(sim: Simulator) -> None:
    ivan = await member(sim, "Ivan", "Petrenko")
    await sim.feed(sim.telegram.document(ivan.id, ivan.id, "c.csv", GOOD))
    assert "only the group's moderators" in sim.last(ivan.id).text
    await sim.dm(ivan, "/export for the shelter cluster meeting")
    assert "only the group's moderators" in sim.last(ivan.id).text
    assert rows(sim, Contact) == []


async def test_export_has_purpose_and_only_allowed_fields(sim: Simulator) -> None:
    moderator = sim.telegram.users[MODERATOR_ID]
    olena = await member(sim, "Olena", "Koval")
    add_contact(
        sim,
        olena.id,
        name="Olena Koval",
        organisation="UNICEF",
        phone="+380441234567",
        email="olena@example.org",
    )
    add_contact(sim, None, consent="pending", name="Not Yet", organisation="NRC")
    await sim.dm(moderator, "/export list for the WASH coordination meeting")
    calls = sim.telegram.calls_to("sendDocument")
    assert calls
    document = sim.last(MODERATOR_ID).document
    assert document is not None
    content = document[1].decode()
    assert content.startswith("# purpose: list for the WASH coordination meeting")
    assert "olena@example.org" in content  # coordinators level: moderators see it
    assert "+380441234567" not in content  # private phone is never exported
    assert "Not Yet" not in content
    assert [d.channel for d in rows(sim, Disclosure)] == ["export"]


def test_cli_import_dry_run_and_apply(tmp_path: Path, database_url: str) -> None:
    example = Path(__file__).resolve().parent.parent / "config" / "example.yaml"
    csv_file = tmp_path / "c.csv"
    csv_file.write_bytes(GOOD)
    env = {"DATABASE_URL": database_url}
    runner = CliRunner()
    args = ["import-contacts", "--config", str(example), str(csv_file)]
    result = runner.invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "would import: 2 new" in result.output
    result = runner.invoke(main, [*args, "--apply"], env=env)
    assert "imported: 2 new" in result.output
    result = runner.invoke(main, [*args, "--apply"], env=env)
    assert "2 unchanged" in result.output
    (tmp_path / "bad.csv").write_bytes(b"name,phone\nX Y,12\n")
    result = runner.invoke(
        main, ["import-contacts", "--config", str(example), str(tmp_path / "bad.csv")], env=env
    )
    assert result.exit_code == 1 and "line 2" in result.output
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert len(connection.execute(select(Contact.id)).all()) == 2
    engine.dispose()
