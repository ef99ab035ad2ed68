"""facilities: units, pairing, shared facilities and their bookings

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 02:10:00

Needs btree_gist for the exclusion constraint that keeps two active exclusive bookings of one facility
from overlapping (``facility_id WITH =`` needs a GiST operator class for integers).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table('unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('contact_name', sa.String(length=100), nullable=True),
    sa.Column('contact_phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('government', 'school', 'hospital', 'enterprise', 'social_org')", name=op.f('ck_unit_kind_known')),
    sa.CheckConstraint("credit_code IS NULL OR credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name=op.f('ck_unit_credit_code_form')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit')),
    sa.UniqueConstraint('name', name=op.f('uq_unit_name')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_unit_credit_code'))
    )
    op.create_geospatial_index('idx_unit_geom', 'unit', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_table('unit_pairing',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('since', sa.Date(), nullable=True),
    sa.Column('commitment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_pairing_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', 'community_code', name=op.f('pk_unit_pairing'))
    )
    op.create_index(op.f('ix_unit_pairing_community_code'), 'unit_pairing', ['community_code'], unique=False)
    op.create_table('unit_manager',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_manager_unit_id_unit'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_unit_manager_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('unit_id', 'user_id', name=op.f('pk_unit_manager'))
    )
    op.create_index(op.f('ix_unit_manager_user_id'), 'unit_manager', ['user_id'], unique=False)
    op.create_geospatial_table('facility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('footprint', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('capacity_unit', sa.String(length=8), nullable=False),
    sa.Column('open_share', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('open_capacity', sa.Integer(), sa.Computed('floor(capacity * open_share)::integer', persisted=True), nullable=True),
    sa.Column('opening_hours', sa.Text(), nullable=False),
    sa.Column('open_hours_week', sa.Float(), nullable=False),
    sa.Column('holidays', postgresql.ARRAY(sa.Date()), nullable=False),
    sa.Column('booking_required', sa.Boolean(), nullable=False),
    sa.Column('rules', sa.Text(), nullable=True),
    sa.Column('photos', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("type IN ('meeting_room', 'culture_room', 'sports_court', 'education_room', 'parking_lot', 'canteen', 'other')", name=op.f('ck_facility_type_known')),
    sa.CheckConstraint("capacity_unit IN ('people', 'spaces')", name=op.f('ck_facility_capacity_unit_known')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_facility_capacity_positive')),
    sa.CheckConstraint('open_share > 0 AND open_share <= 1', name=op.f('ck_facility_open_share_fraction')),
    sa.CheckConstraint('open_hours_week >= 0 AND open_hours_week <= 168', name=op.f('ck_facility_open_hours_in_week')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_facility_unit_id_unit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility'))
    )
    op.create_geospatial_index('idx_facility_geom', 'facility', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_facility_geog', 'facility', [sa.text('(geom::geography)')], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_facility_unit_id'), 'facility', ['unit_id'], unique=False)
    op.create_index(op.f('ix_facility_community_code'), 'facility', ['community_code'], unique=False)
    op.create_index('uq_facility_unit_name', 'facility', ['unit_id', 'name'], unique=True)
    op.create_table('facility_booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('group_name', sa.String(length=100), nullable=True),
    sa.Column('purpose', sa.String(length=200), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('booked_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by', sa.Integer(), nullable=True),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_facility_booking_range_ordered')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_facility_booking_quantity_positive')),
    sa.CheckConstraint("status IN ('active', 'cancelled')", name=op.f('ck_facility_booking_status_known')),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_facility_booking_facility_id_facility'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['booked_by'], ['app_user.id'], name=op.f('fk_facility_booking_booked_by_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cancelled_by'], ['app_user.id'], name=op.f('fk_facility_booking_cancelled_by_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility_booking'))
    )
    op.create_index(op.f('ix_facility_booking_facility_id'), 'facility_booking', ['facility_id'], unique=False)
    op.create_index(op.f('ix_facility_booking_community_code'), 'facility_booking', ['community_code'], unique=False)
    op.create_index('ix_facility_booking_period', 'facility_booking', ['facility_id', 'starts_at', 'ends_at'], unique=False)
    # The guarantee behind "exactly one of two concurrent bookings of a room wins".
    op.execute(
        "ALTER TABLE facility_booking ADD CONSTRAINT ex_facility_booking_no_overlap "
        "EXCLUDE USING gist (facility_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        "WHERE (status = 'active' AND exclusive)"
    )


def downgrade() -> None:
    op.drop_table('facility_booking')
    op.drop_index('uq_facility_unit_name', table_name='facility')
    op.drop_index(op.f('ix_facility_community_code'), table_name='facility')
    op.drop_index(op.f('ix_facility_unit_id'), table_name='facility')
    op.drop_index('ix_facility_geog', table_name='facility', postgresql_using='gist')
    op.drop_geospatial_index('idx_facility_geom', table_name='facility', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('facility')
    op.drop_index(op.f('ix_unit_manager_user_id'), table_name='unit_manager')
    op.drop_table('unit_manager')
    op.drop_index(op.f('ix_unit_pairing_community_code'), table_name='unit_pairing')
    op.drop_table('unit_pairing')
    op.drop_geospatial_index('idx_unit_geom', table_name='unit', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('unit')
