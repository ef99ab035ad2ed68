"""Map data versions: two counters that every write to what the map draws moves on (issue 11).

Finished vector tiles are cached for a short while (``gis.layers.tile_cache``), keyed by the data version, so
that a new case shows on the next tile drawn. One statement-level trigger per table moves the counter once per
INSERT, UPDATE, DELETE, TRUNCATE or COPY — every write path (the service, fast creates, bulk COPY imports,
workflow moves, seeds, a hand-typed psql statement) with one definition, and the cost of one ``nextval`` per
statement however many rows it writes. A sequence, not a row: writers never wait on each other for it.

``incident_data_version`` moves with incidents; ``place_data_version`` with everything else a tile draws
(areas, cells, compounds, categories, facilities, bookings, units). A loader that bypasses triggers (attaching a partition)
calls ``SELECT wangge_bump_map_version('incident')`` once it is done.

Also: the (community, category, time) index of density counts includes the cell code, so that a cell tile counts
its cells' communities' cases by a few index-only range scans (``gis.layers.density``) instead of one probe of
the cell index per cell.

Revision ID: 0017
Revises: 0015, 0011
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = ("0015", "0011")  # 0011 made the index replaced here
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INCIDENT_TABLES = ("incident",)
PLACE_TABLES = ("admin_area", "grid_cell", "compound", "category", "facility", "facility_booking", "unit")


DENSITY_INDEX = "ix_incident_community_density"
DENSITY_COLUMNS = ["community_code", "category_code", "reported_at"]


def upgrade() -> None:
    op.drop_index(DENSITY_INDEX, table_name="incident")
    op.create_index(DENSITY_INDEX, "incident", DENSITY_COLUMNS,
                    postgresql_include=["status", "deadline_at", "cell_code"])
    op.execute("CREATE SEQUENCE IF NOT EXISTS incident_data_version")
    op.execute("CREATE SEQUENCE IF NOT EXISTS place_data_version")
    # Called once, so that ``last_value`` moves with the very first write (a fresh sequence reads 1 before and
    # after its first ``nextval``).
    op.execute("SELECT nextval('incident_data_version'), nextval('place_data_version')")
    op.execute("""
        CREATE OR REPLACE FUNCTION wangge_bump_map_version(kind text) RETURNS bigint
        LANGUAGE sql AS $$ SELECT nextval(kind || '_data_version') $$
    """)
    op.execute("""
        CREATE OR REPLACE FUNCTION wangge_map_data_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM nextval(TG_ARGV[0] || '_data_version');
            RETURN NULL;
        END $$
    """)
    for kind, tables in (("incident", INCIDENT_TABLES), ("place", PLACE_TABLES)):
        for table in tables:
            op.execute(f"""
                CREATE TRIGGER {table}_map_data_changed
                AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION wangge_map_data_changed('{kind}')
            """)


def downgrade() -> None:
    op.drop_index(DENSITY_INDEX, table_name="incident")
    op.create_index(DENSITY_INDEX, "incident", DENSITY_COLUMNS, postgresql_include=["status", "deadline_at"])
    for table in (*INCIDENT_TABLES, *PLACE_TABLES):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_map_data_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS wangge_map_data_changed()")
    op.execute("DROP FUNCTION IF EXISTS wangge_bump_map_version(text)")
    op.execute("DROP SEQUENCE IF EXISTS place_data_version")
    op.execute("DROP SEQUENCE IF EXISTS incident_data_version")
