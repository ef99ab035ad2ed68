"""evaluation: the last hotspot analysis per grid cell (incident_hotspot)

Revision ID: 0013
Revises: 0003
Create Date: 2026-12-03 13:40:00

A branch of its own (``gis.migrate.upgrade`` applies all heads). Rows are results, replaced whole by
``gis.evaluation.hotspots.refresh``; nothing refers to them.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HOT = "'hot_99', 'hot_95', 'hot_90', 'not_significant', 'cold_90', 'cold_95', 'cold_99'"
_EMERGING = "'intensifying', 'persistent', 'diminishing', 'emerging', 'none', 'no_data'"


def upgrade() -> None:
    op.create_table(
        'incident_hotspot',
        sa.Column('cell_code', sa.String(length=15), nullable=False),
        sa.Column('incidents', sa.Integer(), nullable=False),
        sa.Column('gi_z', sa.Float(), nullable=False),
        sa.Column('p_value', sa.Float(), nullable=False),
        sa.Column('hotspot', sa.String(length=16), nullable=False),
        sa.Column('trend', sa.String(length=16), nullable=False),
        sa.Column('trend_tau', sa.Float(), nullable=True),
        sa.Column('trend_p', sa.Float(), nullable=True),
        sa.Column('emerging', sa.String(length=16), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=False),
        sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"hotspot IN ({_HOT})", name=op.f('ck_incident_hotspot_hotspot_known')),
        sa.CheckConstraint(f"emerging IN ({_EMERGING})", name=op.f('ck_incident_hotspot_emerging_known')),
        sa.PrimaryKeyConstraint('cell_code', name=op.f('pk_incident_hotspot')),
    )


def downgrade() -> None:
    op.drop_table('incident_hotspot')
