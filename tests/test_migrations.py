"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.contacts.native import modelled
from storage.db import Database, current_revision, head_revision, known_revisions, upgrade
from storage.models import Base

ROOT = Path(__file__).resolve().parent.parent


def test_upgrade_from_empty_matches_models(database_url: str) -> None:
    database = Database(database_url)
    database.upgrade()
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": modelled}
        )
        assert compare_metadata(context, Base.metadata) == []
    database.upgrade()  # idempotent
    database.dispose()


def test_contact_import_indexes_downgrade_and_upgrade_again(database_url: str) -> None:
    """0016 can be undone (the plain indexes come back) and redone, data kept."""
    from alembic import command
    from sqlalchemy import text

    from storage.db import _alembic_config

    database = Database(database_url)
    database.upgrade()
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "insert into contacts (name, organisation, role, clusters, location, phone, "
                "email, telegram, focal_point, cluster_coordinator, confirmed_clusters, levels, "
                "consent, source, search_text, created_at, updated_at) values ('Olena K', '', "
                "'', '', '', '', 'O@x.org', '@Olena_K', false, false, '', '', 'pending', "
                "'import', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )

    def index_names() -> set[str]:
        # Read from the catalog: SQLAlchemy does not reflect expression indexes on SQLite.
        sqlite = database.engine.dialect.name == "sqlite"
        query = (
            "select name from sqlite_master where type = 'index' and tbl_name = 'contacts'"
            if sqlite
            else "select indexname from pg_indexes where tablename = 'contacts' "
            "and schemaname = current_schema()"
        )
        with database.engine.connect() as connection:
            return {str(n) for n in connection.execute(text(query)).scalars()}

    command.downgrade(_alembic_config(database.engine), "0016_miniapp_writes")
    assert current_revision(database.engine) == "0016_miniapp_writes"
    assert {"ix_contacts_email", "ix_contacts_telegram"} <= index_names()
    database.upgrade()
    assert current_revision(database.engine) == head_revision()
    names = index_names()
    assert "ix_contacts_email" not in names and "ix_contacts_telegram" not in names
    assert {"ix_contacts_lower_email", "ix_contacts_lower_telegram"} <= names
    with database.engine.connect() as connection:
        found = connection.execute(
            text("select name from contacts where lower(email) = 'o@x.org'")
        ).all()
        assert [tuple(r) for r in found] == [("Olena K",)]
    database.dispose()


def test_contact_grams_downgrade_and_upgrade_again(database_url: str) -> None:
    """0024 can be undone (no FTS5 table, triggers, GIN index or function left) and redone:
    the contacts already there are indexed again, later changes followed."""
    from alembic import command
    from sqlalchemy import text

    from storage.contacts import ContactRepository
    from storage.db import _alembic_config

    database = Database(database_url)
    database.upgrade()
    sqlite = database.engine.dialect.name == "sqlite"
    insert = (
        "insert into contacts (name, organisation, role, clusters, location, phone, email, "
        "telegram, focal_point, cluster_coordinator, confirmed_clusters, levels, consent, source, "
        "search_text, created_at, updated_at) values (:name, '', '', '', '', '', '', '', false, "
        "false, '', '', :consent, 'import', :text, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
    )

    def add(name: str, consent: str = "given") -> None:
        with database.engine.begin() as connection:
            connection.execute(
                text(insert), {"name": name, "consent": consent, "text": name.lower()}
            )

    def found(key: str) -> list[str]:
        with database.transaction() as session:
            return [c.name for c in ContactRepository(session).native_candidates(key)]

    def leftovers() -> set[str]:
        query = (
            "select name from sqlite_master where name like 'contacts_grams%'"
            if sqlite
            else "select indexname from pg_indexes where indexname = 'ix_contacts_grams' "
            "and schemaname = current_schema() union all select proname from pg_proc "
            "where proname = 'contact_grams' and pronamespace = current_schema()::regnamespace"
        )
        with database.engine.connect() as connection:
            return {str(n) for n in connection.execute(text(query)).scalars()}

    add("Olena Koval")
    add("Oksana Kovalenko", "pending")
    assert found("koval") == ["Olena Koval"]
    assert leftovers()
    command.downgrade(_alembic_config(database.engine), "0022_miniapp_downloads")
    assert leftovers() == set()
    add("Ivan Kovalchuk")  # while there is no index
    database.upgrade()
    assert current_revision(database.engine) == head_revision()
    assert found("koval") == ["Olena Koval", "Ivan Kovalchuk"]
    with database.engine.begin() as connection:
        connection.execute(text("update contacts set consent = 'given' where consent = 'pending'"))
        connection.execute(text("delete from contacts where name = 'Olena Koval'"))
    assert found("kovalenko") == ["Oksana Kovalenko", "Ivan Kovalchuk"]
    database.dispose()


def test_contact_changes_downgrade_and_upgrade_again(database_url: str) -> None:
    """0023 can be undone (its table gone, 0024 undone first) and redone; changes are logged."""
    from alembic import command
    from sqlalchemy import inspect, select

    from storage.contacts import ContactRepository
    from storage.db import _alembic_config
    from storage.models import ContactChange

    database = Database(database_url)
    database.upgrade()
    command.downgrade(_alembic_config(database.engine), "0023_contact_changes")
    assert current_revision(database.engine) == "0023_contact_changes"
    assert "contact_changes" in inspect(database.engine).get_table_names()
    command.downgrade(_alembic_config(database.engine), "0022_miniapp_downloads")
    assert "contact_changes" not in inspect(database.engine).get_table_names()
    database.upgrade()
    assert current_revision(database.engine) == head_revision()
    with database.transaction() as session:
        repo = ContactRepository(session)
        contact = repo.new(None, "profile", datetime(2026, 1, 1, tzinfo=UTC))
        session.flush()
        contact_id = contact.id
    with database.transaction() as session:
        logged = session.execute(select(ContactChange.contact_id, ContactChange.before)).all()
    assert [tuple(row) for row in logged] == [(contact_id, "")]
    database.dispose()


def test_the_revision_chain_read_from_the_files_is_alembics() -> None:
    from alembic.script import ScriptDirectory

    from storage.db import MIGRATIONS

    script = ScriptDirectory(str(MIGRATIONS))
    walked = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert list(known_revisions()) == walked and walked[-1] == head_revision()


def test_the_schema_checks_of_readyz_and_of_a_start_do_not_load_alembic(
    tmp_path: Path,
) -> None:
    """Alembic's walk imports every migration (11 MB for the process): a replica answering
    /readyz (the container's health check, every 10-15 s) must not pay that, nor one that
    refuses to start. Run in a fresh interpreter, which has imported nothing yet."""
    url = f"sqlite:///{tmp_path / 'older.db'}"
    database = Database(url)
    upgrade(database.engine, known_revisions()[-2])  # a replica newer than its database
    database.dispose()
    probe = (
        "import sys, types\n"
        "from storage.db import Database\n"
        "from storage.ops import schema_problem\n"
        "from web.health import _schema\n"
        "db = Database(sys.argv[1])\n"
        "print(*_schema(types.SimpleNamespace(db=db)), 'alembic' in sys.modules)\n"
        "print(schema_problem(db.engine, will_migrate=False))\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, url], capture_output=True, text=True, cwd=ROOT, check=True
    )
    readyz, problem, loaded = done.stdout.splitlines()
    assert readyz == "ok behind False" and loaded == "False"
    assert f"needs {head_revision()}" in problem and "imbot db upgrade" in problem


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"a": None, "b": "a", "c": "a"}, "several heads: b, c"),
        ({"a": None, "b": "a", "x": "y", "y": "x"}, "outside the chain to the newest: x, y"),
        ({"b": "x"}, "chain is broken at revision x"),
    ],
)
def test_a_broken_migration_chain_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str | None], problem: str
) -> None:
    import storage.db

    (tmp_path / "versions").mkdir()
    for revision, parent in files.items():
        down = "None" if parent is None else repr(parent)
        (tmp_path / "versions" / f"{revision}.py").write_text(
            f"revision = {revision!r}\ndown_revision = {down}\n"
        )
    monkeypatch.setattr(storage.db, "MIGRATIONS", tmp_path)
    storage.db.known_revisions.cache_clear()
    try:
        with pytest.raises(storage.db.DatabaseError, match=problem):
            storage.db.known_revisions()
    finally:
        storage.db.known_revisions.cache_clear()
