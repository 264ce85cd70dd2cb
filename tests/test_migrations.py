"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import Database, current_revision, head_revision
from storage.models import Base


def test_upgrade_from_empty_matches_models(database_url: str) -> None:
    database = Database(database_url)
    database.upgrade()
    assert current_revision(database.engine) == head_revision()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    database.upgrade()  # idempotent
    database.dispose()
