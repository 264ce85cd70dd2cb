"""mention delivery: who is reached privately instead of by a group mention

Telegram notifies only the first five mentions of a message, so a big @all takes many group
messages; people who started the bot may choose to be told privately instead (/tags private).
A table of those choices, and the outbox's rows may now go to one person's private chat.

Revision ID: 0021_mention_delivery
Revises: 0020_reports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0021_mention_delivery'
down_revision = '0020_reports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mention_delivery',
    sa.Column('user_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mention_delivery'))
    )
    with op.batch_alter_table('mention_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mention_outbox', schema=None) as batch_op:
        batch_op.drop_column('recipient_id')
    op.drop_table('mention_delivery')
