"""miniapp writes: the Mini App's accepted writes, remembered until their initData expires

Revision ID: 0016_miniapp_writes
Revises: 0015_calendar_feeds
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0016_miniapp_writes'
down_revision = '0015_calendar_feeds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'miniapp_writes',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_miniapp_writes')),
    )
    op.create_index(
        op.f('ix_miniapp_writes_expires_at'), 'miniapp_writes', ['expires_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_miniapp_writes_expires_at'), table_name='miniapp_writes')
    op.drop_table('miniapp_writes')
