"""reliability: an Idempotency-Key remembers its request's fingerprint; possible duplicates by category and place

Revision ID: 0014
Revises: 0002
Create Date: 2026-12-03 14:30:00

- ``idempotency_key.fingerprint``: SHA-256 of the create it answered, so that the same key with a different
  request is refused (422, as the IETF Idempotency-Key draft says) instead of replaying another case. Keys
  stored before have none and replay as before.
- ``ix_incident_open_category_location``: GiST on (category_code, location) over open cases (btree_gist, which
  0003 installs, gives the text column its GiST class), so the nearest open cases of one category are found
  without walking the other categories' cases at the same point.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status NOT IN ('closed', 'duplicate', 'rejected', 'void')"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.add_column('idempotency_key', sa.Column('fingerprint', sa.String(length=64), nullable=True))
    op.create_index('ix_incident_open_category_location', 'incident', ['category_code', 'location'], unique=False,
                    postgresql_using='gist', postgresql_where=sa.text(_OPEN))


def downgrade() -> None:
    op.drop_index('ix_incident_open_category_location', table_name='incident', postgresql_using='gist',
                  postgresql_where=sa.text(_OPEN))
    op.drop_column('idempotency_key', 'fingerprint')
