"""Bulk import of incidents, part of the ``incidents`` benchmark (``bench/bench_incidents.py`` calls it).

Ours (``gis.incidents.bulk_import``: STRtree location + COPY) imports a CSV of synthetic incidents over the synthetic
city; the baseline is the geopandas way: ``read_csv`` → ``points_from_xy`` → ``sjoin`` with the communities and
the cells → ``to_postgis``. The ceiling is PostgreSQL alone loading the rows our import wrote as ready-made
COPY text, with the same index, foreign-key and event work, so that the row tells how much of the time is
left to the client code at all.

Nothing here registers a benchmark: the import needs the incidents' world and runs before their server.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import text

from bench import BenchContext, Row, timed
from bench.synthetic_city import incident_points
from gis.incidents import bulk_copy
from gis.incidents.bulk_import import import_incidents

IMPORT_GOAL_PER_S, IMPORT_GOAL_RATIO = 100_000, 5


def import_rows(ctx: BenchContext, city: gpd.GeoDataFrame) -> list[Row]:
    """The import row (ours against geopandas) and its ceiling row, over ``city`` as already loaded.

    Leaves the incident tables empty and drops the baseline's table, so the creates that follow start clean.
    """
    n = 100_000 if ctx.quick else 500_000
    points = incident_points(n, city, seed=42)
    rng = np.random.default_rng(5)
    categories = np.array(["09006", "06001", "06036", "09005", "07001", "06011"])
    frame = pd.DataFrame({
        "lon": np.round(points.geometry.x.to_numpy(), 7), "lat": np.round(points.geometry.y.to_numpy(), 7),
        "category": categories[rng.integers(0, len(categories), n)],
        "description": "历史案件", "reported_at": "2025-06-01T09:00:00+08:00", "status": "closed",
    })
    path = ctx.workdir / "incidents.csv"
    frame.to_csv(path, index=False)

    def clear() -> None:
        with ctx.sessions.begin() as session:
            session.execute(text("TRUNCATE incident_event, incident_photo, idempotency_key, incident"))

    def ours(offline: bool = False) -> int:
        # A few synthetic points fall on the city's outer edge and are refused; keep the rest.
        with ctx.sessions.begin() as session:
            return import_incidents(session, path, settings=ctx.settings, all_or_nothing=False,
                                    offline=offline).imported

    def naive() -> int:
        return _naive_import(ctx, path)

    ours_s, imported = timed(ours, ctx.repeat, setup=clear)
    # Offline (the city not running): indexes and keys dropped and rebuilt, the tables locked meanwhile.
    offline_s, _ = timed(lambda: ours(offline=True), ctx.repeat, setup=clear)
    ceiling = _postgres_import_ceiling(ctx, imported, clear)
    naive_s, naive_n = timed(naive, ctx.repeat, setup=lambda: _drop_naive(ctx))
    clear()
    _drop_naive(ctx)
    rate = imported / ours_s
    ratio = naive_s / ours_s
    goal = ("goal met" if rate >= IMPORT_GOAL_PER_S and ratio >= IMPORT_GOAL_RATIO
            else f"goal ≥{IMPORT_GOAL_PER_S:,}/s and ≥{IMPORT_GOAL_RATIO}×: MISSED")
    return [Row(f"bulk import, {n:,} incidents (CSV → located → COPY), online: the API keeps answering",
                ours_s, naive_s,
                f"{imported:,} imported, {rate:,.0f}/s with events ({goal}); baseline geopandas sjoin "
                f"(communities, cells) + to_postgis wrote {naive_n:,} rows into a bare table: no indexes, "
                "constraints, ids or events"),
            Row(f"bulk import, {n:,} incidents, --offline (indexes and keys rebuilt, tables locked)", offline_s,
                naive_s, f"{imported / offline_s:,.0f}/s; for a first load while the city is not running"),
            ceiling]


def _postgres_import_ceiling(ctx: BenchContext, n: int, clear: Callable[[], None]) -> Row:
    """PostgreSQL alone loading the rows our import just wrote, handed over as ready COPY text, with the same
    work around them (secondary indexes dropped and rebuilt, foreign keys re-validated, one event per row)."""
    tables = (("incident", bulk_copy.INCIDENT_COLUMNS), ("incident_event", bulk_copy.EVENT_COLUMNS))
    dumps = {}
    with psycopg.connect(ctx.psycopg_url) as conn, conn.cursor() as cursor:
        for table, columns in tables:
            buffer = io.BytesIO()
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) TO STDOUT") as copy:  # our constants
                for data in copy:
                    buffer.write(data)
            dumps[table] = buffer.getvalue()

    def load() -> None:
        with ctx.sessions.begin() as session:
            driver = session.connection().connection.driver_connection
            assert driver is not None
            with bulk_copy.bulk_load(session, n, offline=True), driver.cursor() as cursor:
                for table, columns in tables:
                    data = dumps[table]
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for start in range(0, len(data), 1 << 20):
                            copy.write(data[start : start + (1 << 20)])

    seconds, _ = timed(load, ctx.repeat, setup=clear)
    return Row(f"ceiling: PostgreSQL alone loading the same {n:,} rows as COPY text", seconds, None,
               f"{n / seconds:,.0f}/s with the import's index, foreign-key and event work: the part no client "
               "code can speed up")


def _naive_import(ctx: BenchContext, path: Path) -> int:
    """The geopandas way, into a bare ``incident_naive`` table; returns the rows written."""
    frame = pd.read_csv(path, dtype={"category": str})
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)
    communities = gpd.read_postgis(
        "SELECT code AS community_code, parent_code AS subdistrict_code, geom FROM admin_area "
        "WHERE level = 'community' AND valid_to IS NULL", ctx.engine, geom_col="geom")
    cells = gpd.read_postgis("SELECT code AS cell_code, geom FROM grid_cell", ctx.engine, geom_col="geom")
    located = gpd.sjoin(points, communities, how="inner", predicate="intersects").drop(columns="index_right")
    located = gpd.sjoin(located, cells, how="left", predicate="intersects").drop(columns="index_right")
    located = located.drop_duplicates(subset=["lon", "lat", "category"], keep="first")
    located.rename_geometry("location").to_postgis("incident_naive", ctx.engine, if_exists="append", index=False)
    return len(located)


def _drop_naive(ctx: BenchContext) -> None:
    with ctx.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS incident_naive"))
