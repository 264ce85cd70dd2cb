"""contact grams: the directory's gram ranking served by an index inside the database

SQLite: a contentless FTS5 trigram table of consented contacts' search_text (and their
bigrams), kept in sync by triggers; PostgreSQL: a GIN index on contact_grams(search_text).
What they hold and why: storage/contacts/native.py. Lookups use them while the in-memory index
is being built.

Revision ID: 0024_contact_grams
Revises: 0022_miniapp_downloads
"""

from __future__ import annotations

from alembic import op

from storage.contacts import native

revision = "0024_contact_grams"
# Written beside 0023 (another branch): at merge this becomes 0023's revision id.
down_revision = "0022_miniapp_downloads"
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
