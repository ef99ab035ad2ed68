"""The grid workers' patrol log (``patrol``, ``patrol_point``; see ``gis.models.patrols``).

Its own revision after 0012: 0012 (the deadline index) is already on main, and a database migrated to it
must still get these tables.

Revision ID: 0012p
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = '0012p'
down_revision: str | None = '0012'
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        'patrol',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_patrol_ended_after_started')),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_patrol_user_id_app_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol')),
    )
    op.create_index('ix_patrol_user_id_started_at', 'patrol', ['user_id', 'started_at'], unique=False)
    op.create_table(
        'patrol_point',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('patrol_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, spatial_index=False), nullable=False),
        sa.Column('accuracy_m', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['patrol_id'], ['patrol.id'], name=op.f('fk_patrol_point_patrol_id_patrol'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_point')),
    )
    op.create_index('ix_patrol_point_patrol_id_at', 'patrol_point', ['patrol_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_patrol_point_patrol_id_at', table_name='patrol_point')
    op.drop_table('patrol_point')
    op.drop_index('ix_patrol_user_id_started_at', table_name='patrol')
    op.drop_table('patrol')
