"""evaluation: each case's facts (incident_fact), backfilled from the events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 17:00:00

The indicators read one narrow row per case instead of every event (issue 13's speed goal); the write paths
keep the rows current from now on. The backfill runs ``gis.evaluation.facts.rebuild`` — the same select the
write paths use — in this migration's transaction; on a large database it takes about a minute per million
cases (``bench/RESULTS.md``), and ``wangge evaluation rebuild-facts`` does the same with progress.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    ts = sa.DateTime(timezone=True)
    op.create_table(
        'incident_fact',
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('reported_at', ts, nullable=False),
        sa.Column('category_code', sa.String(length=5), nullable=False),
        sa.Column('cell_code', sa.String(length=48), nullable=True),
        sa.Column('community_code', sa.String(length=40), nullable=False),
        sa.Column('subdistrict_code', sa.String(length=40), nullable=True),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('reporter_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('registered', sa.Boolean(), nullable=False),
        sa.Column('dispatched', sa.Boolean(), nullable=False),
        sa.Column('first_dispatch_at', ts, nullable=True),
        sa.Column('last_handle_at', ts, nullable=True),
        sa.Column('last_close_at', ts, nullable=True),
        sa.Column('handles', sa.SmallInteger(), nullable=False),
        sa.Column('reworks', sa.SmallInteger(), nullable=False),
        sa.Column('extensions', sa.SmallInteger(), nullable=False),
        sa.Column('deadline_at', ts, nullable=True),
        sa.Column('checks_made', sa.SmallInteger(), nullable=False),
        sa.Column('check_delays', postgresql.ARRAY(sa.Float()), nullable=True),
        sa.Column('pending_check_at', ts, nullable=True),
        sa.Column('handling_hours', sa.Float(), nullable=True),
        sa.Column('last_event_at', ts, nullable=True),
        sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_incident_fact_incident_id_incident'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_incident_fact')),
    )
    op.create_index('ix_incident_fact_reported_at', 'incident_fact', ['reported_at'])
    op.create_index('ix_incident_fact_last_event_at', 'incident_fact', ['last_event_at'])
    from gis.evaluation import facts  # the one definition of a case's facts, as the write paths use it

    facts.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table('incident_fact')
