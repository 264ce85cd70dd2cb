"""reports: /report — reported messages, their reporters, the moderators' decisions, the entries

``reports`` is one row per reported message (unique per group and message); ``report_votes``
one per reporter (unique), which counts the distinct reporters and rate-limits a member;
``report_decisions`` one per decision (unique: delete, warn, mute, dismiss each once);
``report_posts`` where each entry was posted, to edit them all. ``reports`` is declared
AUTOINCREMENT on SQLite: its number travels in buttons and must never be handed out again.

Revision ID: 0020_reports
Revises: 0019_log_entries
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = '0020_reports'
down_revision = '0019_log_entries'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('author_id', sa.BigInteger(), nullable=False),
        sa.Column('excerpt', sa.String(length=300), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('hidden', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
        sa.UniqueConstraint('chat_id', 'message_id', name=op.f('uq_reports_chat_id')),
        sqlite_autoincrement=True,
    )
    op.create_table(
        'report_votes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('reporter_id', sa.BigInteger(), nullable=False),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['report_id'], ['reports.id'],
            name=op.f('fk_report_votes_report_id_reports'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_votes')),
        sa.UniqueConstraint('report_id', 'reporter_id', name=op.f('uq_report_votes_report_id')),
    )
    op.create_index(
        'ix_report_votes_reporter_at', 'report_votes', ['reporter_id', 'at'], unique=False
    )
    op.create_table(
        'report_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('by_id', sa.BigInteger(), nullable=False),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['report_id'], ['reports.id'],
            name=op.f('fk_report_decisions_report_id_reports'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_decisions')),
        sa.UniqueConstraint(
            'report_id', 'decision', name=op.f('uq_report_decisions_report_id')
        ),
    )
    op.create_table(
        'report_posts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ['report_id'], ['reports.id'],
            name=op.f('fk_report_posts_report_id_reports'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_posts')),
    )
    op.create_index('ix_report_posts_report', 'report_posts', ['report_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_report_posts_report', table_name='report_posts')
    op.drop_table('report_posts')
    op.drop_table('report_decisions')
    op.drop_index('ix_report_votes_reporter_at', table_name='report_votes')
    op.drop_table('report_votes')
    op.drop_table('reports')
