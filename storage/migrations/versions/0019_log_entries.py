"""log entries: each action mirrored to the moderators' log chat, with its undo button

One row per entry posted to ``moderation.log_chat_id``: which action, where it was posted, which
undo its button offers, and who undid it when (set once, by a conditional update). Declared
AUTOINCREMENT on SQLite: the number travels in the button and must never be handed out again.

Revision ID: 0019_log_entries
Revises: 0018_never_reused_numbers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0019_log_entries'
down_revision = '0018_never_reused_numbers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'log_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('action_id', sa.BigInteger(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=True),
        sa.Column('undo', sa.String(length=16), nullable=False),
        sa.Column('undone_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('undone_by_id', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_entries')),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_log_entries_action', 'log_entries', ['action_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_log_entries_action', table_name='log_entries')
    op.drop_table('log_entries')
