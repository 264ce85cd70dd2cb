"""contact imports: lower(email) and lower(telegram) indexed for the duplicate check

The import looks every row up by ``lower(email)`` and ``lower(telegram)``; the plain indexes on
the raw columns served no query (every lookup is case-insensitive), so they are replaced.

Revision ID: 0017_contact_import_indexes
Revises: 0016_miniapp_writes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017_contact_import_indexes'
down_revision = '0016_miniapp_writes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_contacts_email', table_name='contacts')
    op.drop_index('ix_contacts_telegram', table_name='contacts')
    op.create_index(
        'ix_contacts_lower_email', 'contacts', [sa.text('lower(email)')], unique=False
    )
    op.create_index(
        'ix_contacts_lower_telegram', 'contacts', [sa.text('lower(telegram)')], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_contacts_lower_telegram', table_name='contacts')
    op.drop_index('ix_contacts_lower_email', table_name='contacts')
    op.create_index('ix_contacts_telegram', 'contacts', ['telegram'], unique=False)
    op.create_index('ix_contacts_email', 'contacts', ['email'], unique=False)
