"""calendar feeds: one per person, only the SHA-256 digest of the secret kept

Revision ID: 0015_calendar_feeds
Revises: 0014_delivery
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0015_calendar_feeds'
down_revision = '0014_delivery'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'calendar_feeds',
        sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('secret_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'],
            ['users.id'],
            name=op.f('fk_calendar_feeds_user_id_users'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('secret_sha256', name=op.f('uq_calendar_feeds_secret_sha256')),
    )


def downgrade() -> None:
    op.drop_table('calendar_feeds')
