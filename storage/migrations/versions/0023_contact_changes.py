"""contact changes: the directory's change log, so a stale in-memory index catches up

One row per contact changed at each directory version, with its search_text before the change
(storage/contact_index.py). No foreign key: erased contacts are logged too.

Revision ID: 0023_contact_changes
Revises: 0022_miniapp_downloads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023_contact_changes'
down_revision = '0022_miniapp_downloads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contact_changes',
        sa.Column('version', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('contact_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('before', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('version', 'contact_id', name=op.f('pk_contact_changes')),
    )


def downgrade() -> None:
    op.drop_table('contact_changes')
