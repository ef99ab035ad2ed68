"""incidents: categories, incidents, their events and photos, idempotency keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 02:30:00

Seeds the category table from data/categories.csv (the city's copy of the GB/T 47678.5-2026 matter list),
so that a fresh database can take reports at once; `wangge categories reload` applies later edits. The
seeding reads the CSV here rather than through gis.categories so that this revision keeps working when the
model moves on (a migration must not depend on the current shape of the ORM).
"""
import csv
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES_CSV = Path(__file__).resolve().parents[3] / "data" / "categories.csv"


def upgrade() -> None:
    op.create_table('category',
    sa.Column('code', sa.String(length=5), nullable=False),
    sa.Column('local_code', sa.String(length=32), nullable=True),
    sa.Column('major_code', sa.String(length=2), nullable=False),
    sa.Column('major_name', sa.String(length=50), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('deadline_hours', sa.Float(), nullable=False),
    sa.Column('after_photo_required', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.CheckConstraint("code ~ '^[0-9]{5}$'", name=op.f('ck_category_code_5_digits')),
    sa.CheckConstraint('deadline_hours > 0', name=op.f('ck_category_deadline_positive')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_category'))
    )
    op.create_geospatial_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=24), nullable=False),
    sa.Column('category_code', sa.String(length=5), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('cell_code', sa.String(length=15), nullable=True),
    sa.Column('community_code', sa.String(length=12), nullable=False),
    sa.Column('subdistrict_code', sa.String(length=12), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duplicate_of', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("source IN ('hotline_12345', 'import', 'patrol', 'resident', 'transfer')", name=op.f('ck_incident_source_known')),
    sa.CheckConstraint("status IN ('closed', 'dispatched', 'duplicate', 'handled', 'in_progress', 'registered', 'rejected', 'reported', 'shelved', 'verified', 'void')", name=op.f('ck_incident_status_known')),
    sa.CheckConstraint('char_length(description) <= 4000', name=op.f('ck_incident_description_length')),
    sa.CheckConstraint('closed_at IS NULL OR closed_at >= reported_at', name=op.f('ck_incident_closed_after_reported')),
    sa.CheckConstraint('duplicate_of IS NULL OR duplicate_of <> id', name=op.f('ck_incident_not_own_duplicate')),
    sa.ForeignKeyConstraint(['category_code'], ['category.code'], name=op.f('fk_incident_category_code_category'), onupdate='CASCADE'),
    sa.ForeignKeyConstraint(['duplicate_of'], ['incident.id'], name=op.f('fk_incident_duplicate_of_incident'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['app_user.id'], name=op.f('fk_incident_reporter_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_incident_team_id_team'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident')),
    sa.UniqueConstraint('public_id', name=op.f('uq_incident_public_id'))
    )
    op.create_geospatial_index('idx_incident_location', 'incident', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_incident_category_code', 'incident', ['category_code'], unique=False)
    op.create_index('ix_incident_cell_code', 'incident', ['cell_code'], unique=False)
    op.create_index('ix_incident_community_code', 'incident', ['community_code'], unique=False)
    op.create_index('ix_incident_duplicate_of', 'incident', ['duplicate_of'], unique=False, postgresql_where='duplicate_of IS NOT NULL')
    op.create_index('ix_incident_open_deadline', 'incident', ['deadline_at'], unique=False, postgresql_where="deadline_at IS NOT NULL AND status NOT IN ('closed', 'duplicate', 'rejected', 'shelved', 'void')")
    op.create_index('ix_incident_reported_at_id', 'incident', ['reported_at', 'id'], unique=False)
    op.create_index('ix_incident_open_status', 'incident', ['status'], unique=False, postgresql_where="status NOT IN ('closed', 'duplicate', 'rejected', 'void')")
    op.create_index('ix_incident_subdistrict_code', 'incident', ['subdistrict_code'], unique=False)
    op.create_index('ix_incident_team_id', 'incident', ['team_id'], unique=False)
    op.create_index('ix_incident_updated_at_id', 'incident', ['updated_at', 'id'], unique=False)
    op.create_table('idempotency_key',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_idempotency_key_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_idempotency_key_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_key'))
    )
    op.create_table('incident_event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=Text()), nullable=True),
    sa.CheckConstraint("to_status IN ('closed', 'dispatched', 'duplicate', 'handled', 'in_progress', 'registered', 'rejected', 'reported', 'shelved', 'verified', 'void')", name=op.f('ck_incident_event_to_status_known')),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_incident_event_actor_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_event_incident_id_incident'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_event'))
    )
    op.create_index('ix_incident_event_incident_id', 'incident_event', ['incident_id', 'id'], unique=False)
    op.create_table('incident_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('after', 'before')", name=op.f('ck_incident_photo_kind_known')),
    sa.CheckConstraint('bytes > 0', name=op.f('ck_incident_photo_bytes_positive')),
    sa.ForeignKeyConstraint(['event_id'], ['incident_event.id'], name=op.f('fk_incident_photo_event_id_incident_event'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_photo_incident_id_incident'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploader_id'], ['app_user.id'], name=op.f('fk_incident_photo_uploader_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_photo')),
    sa.UniqueConstraint('incident_id', 'sha256', name='uq_incident_photo_incident_sha256')
    )
    op.create_index('ix_incident_photo_incident_id', 'incident_photo', ['incident_id'], unique=False)
    _seed_categories()


def _seed_categories() -> None:
    if not CATEGORIES_CSV.exists():
        return
    category = sa.table(
        "category",
        sa.column("code", sa.String), sa.column("local_code", sa.String), sa.column("major_code", sa.String),
        sa.column("major_name", sa.String), sa.column("name_zh", sa.String), sa.column("name_en", sa.String),
        sa.column("deadline_hours", sa.Float), sa.column("after_photo_required", sa.Boolean),
    )
    with CATEGORIES_CSV.open(encoding="utf-8", newline="") as handle:
        rows = [
            {
                "code": row["code"].strip(),
                "local_code": row["local_code"].strip() or None,
                "major_code": row["major_code"].strip(),
                "major_name": row["major_name"].strip(),
                "name_zh": row["name_zh"].strip(),
                "name_en": row["name_en"].strip(),
                "deadline_hours": float(row["deadline_hours"]),
                "after_photo_required": row["after_photo_required"].strip().lower() in {"true", "1", "yes"},
            }
            for row in csv.DictReader(handle)
        ]
    op.bulk_insert(category, rows)


def downgrade() -> None:
    op.drop_index('ix_incident_photo_incident_id', table_name='incident_photo')
    op.drop_table('incident_photo')
    op.drop_index('ix_incident_event_incident_id', table_name='incident_event')
    op.drop_table('incident_event')
    op.drop_table('idempotency_key')
    op.drop_index('ix_incident_updated_at_id', table_name='incident')
    op.drop_index('ix_incident_team_id', table_name='incident')
    op.drop_index('ix_incident_subdistrict_code', table_name='incident')
    op.drop_index('ix_incident_open_status', table_name='incident', postgresql_where="status NOT IN ('closed', 'duplicate', 'rejected', 'void')")
    op.drop_index('ix_incident_reported_at_id', table_name='incident')
    op.drop_index('ix_incident_open_deadline', table_name='incident', postgresql_where="deadline_at IS NOT NULL AND status NOT IN ('closed', 'duplicate', 'rejected', 'shelved', 'void')")
    op.drop_index('ix_incident_duplicate_of', table_name='incident', postgresql_where='duplicate_of IS NOT NULL')
    op.drop_index('ix_incident_community_code', table_name='incident')
    op.drop_index('ix_incident_cell_code', table_name='incident')
    op.drop_index('ix_incident_category_code', table_name='incident')
    op.drop_geospatial_index('idx_incident_location', table_name='incident', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('incident')
    op.drop_table('category')
