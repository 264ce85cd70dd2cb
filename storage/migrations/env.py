"""Alembic environment: the engine is handed in by ``storage.db`` (never read from a file)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from storage.contacts.native import modelled
from storage.models import Base

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
        include_object=modelled,  # the database's own gram index (storage/contacts/native.py)
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
