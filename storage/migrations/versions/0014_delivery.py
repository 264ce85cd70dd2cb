"""fenced delivery: the claimant's token, the moment a send began, possible resends

Revision ID: 0014_delivery
Revises: 0013_trust
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0014_delivery'
down_revision = '0013_trust'
branch_labels = None
depends_on = None

TABLES = ('reminder_outbox', 'mention_outbox')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('claim_token', sa.String(length=64), nullable=True))
            batch.add_column(sa.Column('wire_at', storage.types.UTCDateTime(timezone=True), nullable=True))
            batch.add_column(
                sa.Column(
                    'maybe_twice', sa.Boolean(), nullable=False, server_default=sa.false()
                )
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('maybe_twice')
            batch.drop_column('wire_at')
            batch.drop_column('claim_token')
