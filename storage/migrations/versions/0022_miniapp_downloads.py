"""miniapp downloads: the moderators' single-use CSV download links (a token's SHA-256 only)

Revision ID: 0022_miniapp_downloads
Revises: 0021_mention_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0022_miniapp_downloads'
down_revision = '0021_mention_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'miniapp_downloads',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_miniapp_downloads')),
    )
    op.create_index(
        op.f('ix_miniapp_downloads_expires_at'), 'miniapp_downloads', ['expires_at'], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_miniapp_downloads_expires_at'), table_name='miniapp_downloads')
    op.drop_table('miniapp_downloads')
