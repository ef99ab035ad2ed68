"""The deadline index leaves out handled and verified cases: their clock stops (``CLOCK_STOPPED``).

Revision ID: 0012
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision: str = '0012'
down_revision: str | None = '0002'
branch_labels: str | None = None
depends_on: str | None = None

_OLD = "deadline_at IS NOT NULL AND status NOT IN ('closed', 'duplicate', 'rejected', 'shelved', 'void')"
_NEW = ("deadline_at IS NOT NULL AND status NOT IN "
        "('closed', 'duplicate', 'handled', 'rejected', 'shelved', 'verified', 'void')")


def upgrade() -> None:
    op.drop_index('ix_incident_open_deadline', table_name='incident')
    op.create_index('ix_incident_open_deadline', 'incident', ['deadline_at'], unique=False, postgresql_where=_NEW)


def downgrade() -> None:
    op.drop_index('ix_incident_open_deadline', table_name='incident')
    op.create_index('ix_incident_open_deadline', 'incident', ['deadline_at'], unique=False, postgresql_where=_OLD)
