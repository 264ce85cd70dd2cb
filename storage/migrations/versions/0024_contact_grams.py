"""contact grams: the directory's gram ranking served by an index inside the database

SQLite: a contentless FTS5 trigram table of consented contacts' search_text (and their
bigrams), kept in sync by triggers; PostgreSQL: a GIN index on contact_grams(search_text).
What they hold and why: storage/contacts/native.py. Lookups use them while the in-memory index
is being built.

Revision ID: 0024_contact_grams
Revises: 0023_contact_changes
"""

from __future__ import annotations

from alembic import op

from storage.contacts import native

revision = "0024_contact_grams"
down_revision = "0023_contact_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in native.PG_CREATE:
            op.execute(statement)
        return
    for statement in native.SQLITE_CREATE:
        op.execute(statement)
    op.execute(native.SQLITE_FILL)


def downgrade() -> None:
    drop = native.PG_DROP if op.get_bind().dialect.name == "postgresql" else native.SQLITE_DROP
    for statement in drop:
        op.execute(statement)
