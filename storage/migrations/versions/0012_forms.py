"""guided forms kept in the database

Revision ID: 0012_forms
Revises: 0008_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0012_forms'
down_revision = '0008_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'forms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('step', sa.String(length=32), nullable=False),
        sa.Column('serial', sa.Integer(), nullable=False),
        sa.Column('entered', sa.Integer(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_forms')),
        sa.UniqueConstraint('user_id', 'chat_id', name=op.f('uq_forms_user_id')),
    )


def downgrade() -> None:
    op.drop_table('forms')
