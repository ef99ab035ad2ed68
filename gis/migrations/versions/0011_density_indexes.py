"""density indexes: count a tile's incidents per cell, community and subdistrict from the index alone

Revision ID: 0011
Revises: 0002
Create Date: 2026-12-03 14:00:00

A density tile counts, for the few hundred cells (or communities) it covers, the cases of a time window and
categories, split into open and overdue. With the area's code, the category and the time as keys and the
status and deadline included, PostgreSQL answers that from an index-only scan (PERFORMANCE.md: a z14 tile of
raw incidents 46 → 23 ms p50 with such an index on these machines).
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0011'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_incident_cell_density', 'incident', ['cell_code', 'category_code', 'reported_at'],
                    postgresql_include=['status', 'deadline_at'])
    op.create_index('ix_incident_community_density', 'incident', ['community_code', 'category_code', 'reported_at'],
                    postgresql_include=['status', 'deadline_at'])
    op.create_index('ix_incident_subdistrict_density', 'incident',
                    ['subdistrict_code', 'category_code', 'reported_at'], postgresql_include=['status', 'deadline_at'])


def downgrade() -> None:
    op.drop_index('ix_incident_subdistrict_density', table_name='incident')
    op.drop_index('ix_incident_community_density', table_name='incident')
    op.drop_index('ix_incident_cell_density', table_name='incident')
