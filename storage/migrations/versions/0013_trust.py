"""directory trust: confirmed clusters, expiring and revocable grants, notes on requests

Revision ID: 0013_trust
Revises: 0012_forms
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0013_trust'
down_revision = '0012_forms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(
            sa.Column('confirmed_clusters', sa.String(length=700), nullable=False, server_default='')
        )
        batch.add_column(sa.Column('claimed_by', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('contact_grants') as batch:
        batch.add_column(sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('revoked_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('contact_requests') as batch:
        batch.add_column(sa.Column('note', sa.String(length=300), nullable=False, server_default=''))
    # An import's clusters were a moderator's: they stay confirmed. Everything else a person
    # wrote themselves opens nothing until a sponsor or moderator confirms it (/assign).
    op.execute("UPDATE contacts SET confirmed_clusters = clusters WHERE source = 'import'")
    # Grants made before overrides expired: an old override ends now, like one turned off.
    op.execute(
        "UPDATE contact_grants SET revoked_at = at WHERE kind = 'override' AND revoked_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('contact_requests') as batch:
        batch.drop_column('note')
    with op.batch_alter_table('contact_grants') as batch:
        batch.drop_column('revoked_at')
        batch.drop_column('expires_at')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('claimed_by')
        batch.drop_column('confirmed_clusters')
