"""never reused numbers: contact requests and grants declared AUTOINCREMENT on SQLite

Their numbers travel in buttons; SQLite hands the highest number out again after that row is
deleted (/forgetme), so a button left from an erased request could act on a later one. An
AUTOINCREMENT table never reuses a number, as PostgreSQL's sequences never do. PostgreSQL needs
nothing; on SQLite each table is copied into one declared AUTOINCREMENT (rows, numbers and
indexes kept).

Revision ID: 0018_never_reused_numbers
Revises: 0017_contact_import_indexes
"""

from __future__ import annotations

import warnings

from alembic import op

revision = '0018_never_reused_numbers'
down_revision = '0017_contact_import_indexes'
branch_labels = None
depends_on = None

TABLES = ('contact_requests', 'contact_grants')


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    with warnings.catch_warnings():
        # Reflecting the referenced ``contacts`` table skips its lower(…) indexes, which the
        # copy neither needs nor touches.
        warnings.filterwarnings('ignore', 'Skipped unsupported reflection of expression-based')
        for table in TABLES:
            with op.batch_alter_table(
                table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}
            ):
                pass


def upgrade() -> None:
    _recreate(True)


def downgrade() -> None:
    _recreate(False)
