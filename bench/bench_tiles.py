"""Vector tiles and the command map at city size: ``python -m bench --only tiles [--quick] --no-write``.

The world: a synthetic city of ~62,000 100 m cells in 700 communities (``--quick``: ~12,000 in 140) and
1,000,000 incidents (``--quick``: 100,000) in hot spots over a year, ten categories, a mix of statuses, located
with a vectorised STRtree and loaded by COPY (the way ``gis.incidents.bulk_copy`` loads imports).

Rows, each against a baseline measured in the same run:

- density tiles over HTTP, a category and 90-day filter, 8 concurrent clients, over a pan/zoom sequence of
  desk-sized views z11–z17: p50/p99 per zoom band; baseline: the same tiles drawn as 100 m cells at every zoom
  (no community/subdistrict level at small scales), one statement per tile in-process;
- ``/map`` HTML size and build time against the naive page: ``maps.density.build`` of the whole density layer
  inlined as GeoJSON (PERFORMANCE.md measured 61 k cells → 27 MB, 6.2 s).
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from sqlalchemy import delete, insert, text

from bench import BenchContext, Row, benchmark
from bench.http_load import Load, Server, drive, uvicorn_server
from bench.synthetic_city import incident_points, load_city, side_for_cells, synthetic_city
from gis.areas import grid_store
from gis.facilities.service import with_check_character
from gis.incidents.categories import load_categories
from gis.layers import registry
from gis.layers.density import IncidentDensityLayer, Level
from gis.layers.tiles import Tile, render_tile, tile_for
from gis.models import AdminArea, Facility, FacilityType, GridCell, Role, Unit
from gis.people import security, users
from maps.assets import render
from maps.command import build_command_map
from maps.density import build as naive_density_map

CLIENTS = 8
ZOOMS = range(11, 18)
VIEW_TILES = (5, 4)  # a 1280×900 desk view is about 5×4 tiles of 256 px
TILE_P50_GOAL_MS, TILE_P99_GOAL_MS = 50, 200
CATEGORIES = ["09006", "06001", "06036", "09005", "07001", "06011", "01001", "03006", "02003", "08001"]
STATUSES = ["reported", "registered", "dispatched", "in_progress", "handled", "closed", "closed", "closed"]


@benchmark("tiles")
def tile_benchmarks(ctx: BenchContext) -> list[Row]:
    cells, incidents = (12_000, 100_000) if ctx.quick else (62_000, 1_000_000)
    started = time.perf_counter()
    city = _world(ctx, cells, incidents)
    setup = time.perf_counter() - started
    with ctx.engine.connect() as conn:
        n_cells = conn.execute(text("SELECT count(*) FROM grid_cell")).scalar_one()
        n_incidents = conn.execute(text("SELECT count(*) FROM incident")).scalar_one()
    world = f"{n_cells:,} cells, {n_incidents:,} incidents (set up in {setup:.0f} s)"
    rows = [Row(f"tiles world: {world}", None)]
    views = _views(city, 4 if ctx.quick else 8)
    rows += _tile_rows(ctx, views, world)
    rows += _page_rows(ctx)
    return rows


# -- the world --------------------------------------------------------------------------------------------------
def _world(ctx: BenchContext, cells: int, incidents: int) -> gpd.GeoDataFrame:
    with ctx.sessions.begin() as session:
        session.execute(text("TRUNCATE incident_event, incident_photo, idempotency_key, incident CASCADE"))
        for model in (GridCell, AdminArea):
            session.execute(delete(model))
    communities = max(1, round(cells / 90))
    city = synthetic_city(communities, side_m=side_for_cells(cells), seed=2024)
    with ctx.sessions.begin() as session:
        load_city(session, city)
        load_categories(session)
    with ctx.sessions.begin() as session:
        grid_store.build_grid(session, settings=ctx.settings)
    with ctx.sessions.begin() as session:
        known = session.execute(text("SELECT 1 FROM app_user WHERE username = 'bench_centre'")).first()
        if known is None:  # an earlier benchmark of this run may have made it
            users.create_user(session, username="bench_centre", display_name="压测监督员", role=Role.supervisor)
    _load_incidents(ctx, city, incidents)
    _load_facilities(ctx, city, max(200, cells // 30))
    with psycopg.connect(ctx.psycopg_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE incident")  # index-only scans need the visibility map
        conn.execute("VACUUM ANALYZE grid_cell")
    return city


def _load_incidents(ctx: BenchContext, city: gpd.GeoDataFrame, n: int) -> None:
    points = incident_points(n, city, clusters=40, spread_m=400, seed=11)
    cells = gpd.read_postgis(text("SELECT code, community_code, geom FROM grid_cell"), ctx.engine, geom_col="geom")
    tree = shapely.STRtree(cells.geometry.values)
    point_idx, cell_idx = tree.query(points.geometry.values, predicate="intersects")
    first = np.full(n, -1)
    first[point_idx[::-1]] = cell_idx[::-1]  # a point on a shared edge: one of its cells
    keep = first >= 0
    rng = np.random.default_rng(5)
    now = datetime.now(UTC)
    ages = rng.uniform(0, 365 * 86400, n)
    codes = cells["code"].to_numpy()
    communities = cells["community_code"].to_numpy()
    xy = shapely.get_coordinates(points.geometry.values)
    buffer = io.StringIO()
    for i in np.flatnonzero(keep):
        status = STATUSES[i % len(STATUSES)]
        reported = now - timedelta(seconds=float(ages[i]))
        deadline = reported + timedelta(days=3)
        closed = (reported + timedelta(days=2)).isoformat() if status == "closed" else "\\N"
        community = communities[first[i]]
        buffer.write(f"B-{i:08d}\t{CATEGORIES[i % len(CATEGORIES)]}\t\tSRID=4326;POINT({xy[i, 0]:.7f} {xy[i, 1]:.7f})"
                     f"\tpatrol\t{codes[first[i]]}\t{community}\t{community[:9]}000\t{status}\t{reported.isoformat()}"
                     f"\t{deadline.isoformat()}\t{closed}\t1\n")
    columns = ("public_id, category_code, description, location, source, cell_code, community_code, "
               "subdistrict_code, status, reported_at, deadline_at, closed_at, version")
    with psycopg.connect(ctx.psycopg_url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY incident ({columns}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()


def _load_facilities(ctx: BenchContext, city: gpd.GeoDataFrame, n: int) -> None:
    """``n`` shared facilities of one unit at random points of the city (types and capacities mixed)."""
    points = incident_points(n, city, clusters=10, spread_m=800, background=0.5, seed=13)
    rng = np.random.default_rng(17)
    types = rng.choice([t.value for t in FacilityType], n)
    with ctx.sessions.begin() as session:
        session.execute(text("TRUNCATE facility_booking, facility, unit_pairing, unit_manager, unit CASCADE"))
        unit_id = session.execute(insert(Unit).returning(Unit.id), {
            "name": "基准测试单位 (tiles)", "kind": "government",
            "credit_code": with_check_character("12433101MB8888888")}).scalar_one()
        community = session.execute(text("SELECT code FROM admin_area WHERE level = 'community' LIMIT 1")).scalar_one()
        session.execute(insert(Facility), [
            {"unit_id": unit_id, "name": f"设施{i:05d}", "type": t, "community_code": community,
             "geom": f"SRID=4326;{shapely.to_wkt(p, rounding_precision=7)}", "capacity": int(rng.integers(10, 200)),
             "capacity_unit": "spaces" if t == "parking_lot" else "people", "open_share": 0.5,
             "opening_hours": "Mo-Fr 08:00-18:00", "open_hours_week": 50.0, "holidays": [],
             "booking_required": True, "photos": [], "is_active": True}
            for i, (t, p) in enumerate(zip(types, points.geometry.values, strict=True))
        ])


# -- tiles ------------------------------------------------------------------------------------------------------
def _views(city: gpd.GeoDataFrame, count: int) -> list[tuple[float, float]]:
    """View centres (lon, lat): random places inside the city, the same every run."""
    outline = city[city["level"] == "city"].geometry.iloc[0]
    rng = random.Random(3)
    minx, miny, maxx, maxy = outline.bounds
    return [(rng.uniform(minx + (maxx - minx) * 0.2, maxx - (maxx - minx) * 0.2),
             rng.uniform(miny + (maxy - miny) * 0.2, maxy - (maxy - miny) * 0.2)) for _ in range(count)]


def _sequence(views: list[tuple[float, float]]) -> list[Tile]:
    """Every tile of a desk view at each zoom z11–z17 around each centre: a pan/zoom session's tiles."""
    tiles = []
    for lon, lat in views:
        for z in ZOOMS:
            centre = tile_for(lon, lat, z)
            for dx in range(-(VIEW_TILES[0] // 2), VIEW_TILES[0] - VIEW_TILES[0] // 2):
                for dy in range(-(VIEW_TILES[1] // 2), VIEW_TILES[1] - VIEW_TILES[1] // 2):
                    tiles.append(Tile(z, centre.x + dx, centre.y + dy))
    return tiles


def _filter_query() -> str:
    since = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"category={','.join(CATEGORIES[:5])}&reported_from={since}"


@contextmanager
def _server(ctx: BenchContext, *, cache: bool) -> Iterator[tuple[Server, str]]:
    """The app under uvicorn, with its cache of finished tiles (``gis.layers.tile_cache``) on or off."""
    state = ctx.workdir / "tiles-state"
    state.mkdir(parents=True, exist_ok=True)
    secret = security.persistent_secret(state / "token_secret")
    env = {**os.environ, "DATABASE_URL": ctx.engine.url.render_as_string(hide_password=False),
           "WANGGE_STATE_DIR": str(state), "WANGGE_TILE_CACHE_MB": "64" if cache else "0"}
    with ctx.sessions() as session:
        user_id = session.execute(text("SELECT id FROM app_user WHERE username = 'bench_centre'")).scalar_one()
    token = security.create_access_token(str(user_id), secret=secret, minutes=60).token
    with uvicorn_server("api.main:create_app", workers=1, env=env, log=ctx.workdir / "uvicorn-tiles.log") as server:
        yield server, token


def _tile_rows(ctx: BenchContext, views: list[tuple[float, float]], world: str) -> list[Row]:
    tiles = _sequence(views)
    query = _filter_query()
    sharing_tiles = [t for t in tiles if t.z >= 13]
    runs: dict[bool, tuple[Load, Load, Load, Load]] = {}
    for cache in (False, True):
        with _server(ctx, cache=cache) as (server, token):
            headers = {"Authorization": f"Bearer {token}"}
            density = [("GET", f"/tiles/incident_density/{t.z}/{t.x}/{t.y}.mvt?{query}", b"", headers)
                       for t in tiles]
            sharing = [("GET", f"/tiles/facility_sharing/{t.z}/{t.x}/{t.y}.mvt", b"", headers)
                       for t in sharing_tiles]
            # Warm the connections and catalogue caches on a quarter of the sequence; with the cache on, those
            # tiles are then kept (a quarter of the first pass's answers come from memory).
            asyncio.run(drive(server.address, density[: len(density) // 4], CLIENTS, 120))
            first = asyncio.run(drive(server.address, density, CLIENTS, 600))
            again = asyncio.run(drive(server.address, density, CLIENTS, 600))  # the same views drawn again
            shared = asyncio.run(drive(server.address, sharing, CLIENTS, 600))
            shared_again = asyncio.run(drive(server.address, sharing, CLIENTS, 600))
        runs[cache] = (first, again, shared, shared_again)
    failed = sum(load.failed for pair in runs.values() for load in pair)
    if failed:
        first_error = next(load.first_error for pair in runs.values() for load in pair if load.failed)
        return [Row("tiles over HTTP", None, None, f"FAILED: {failed} errors, first {first_error}")]

    def figures(load: Load) -> str:
        return f"p50 {load.percentile(50):.1f} ms, p99 {load.percentile(99):.1f} ms, {load.per_second:.0f} tiles/s"

    def goal(load: Load, p50: float, p99: float | None = None) -> str:
        met = load.percentile(50) < p50 and (p99 is None or load.percentile(99) < p99)
        return "goal met" if met else "MISSED"

    sql, cached = runs[False], runs[True]
    rows = [
        Row(f"density tiles z11–z17, HTTP, {CLIENTS} clients, category+90-day filter ({len(tiles)} tiles), no cache",
            sql[0].percentile(50) / 1000, None,
            f"{figures(sql[0])} ({goal(sql[0], TILE_P50_GOAL_MS, TILE_P99_GOAL_MS)}: p50 <{TILE_P50_GOAL_MS} ms, "
            f"p99 <{TILE_P99_GOAL_MS} ms); {world}"),
        Row("density tiles, same sequence, tile cache on: first pass (a quarter warmed) / same views again",
            cached[0].percentile(50) / 1000, sql[0].percentile(50) / 1000,
            f"first {figures(cached[0])} ({goal(cached[0], TILE_P50_GOAL_MS, TILE_P99_GOAL_MS)}); "
            f"again {figures(cached[1])} ({goal(cached[1], TILE_P50_GOAL_MS, TILE_P99_GOAL_MS)}); "
            f"baseline = no cache"),
        Row(f"facility-sharing tiles z13–z17, HTTP, {CLIENTS} clients ({len(sharing_tiles)} tiles), no cache",
            sql[2].percentile(50) / 1000, None, f"{figures(sql[2])} (goal p50 <100 ms: {goal(sql[2], 100)})"),
        Row("facility-sharing tiles, tile cache on: first pass / same views again",
            cached[2].percentile(50) / 1000, sql[2].percentile(50) / 1000,
            f"first {figures(cached[2])} ({goal(cached[2], 100)}); again {figures(cached[3])} "
            f"({goal(cached[3], 100)}); baseline = no cache"),
    ]
    per_zoom = []
    ours_layer = IncidentDensityLayer(metric_crs=ctx.settings.metric_crs)
    for z in ZOOMS:
        median, size, _ = _in_process(ctx, ours_layer, [t for t in tiles if t.z == z][:20])
        per_zoom.append(f"z{z} {median:.0f} ms/{size / 1e3:.0f} KB")
    naive = _naive_small_scale(ctx, [t for t in tiles if t.z <= 13][:60])
    ours_small = _ours_small_scale(ctx, [t for t in tiles if t.z <= 13][:60])
    return [
        *rows,
        Row("density tile z11–13, one client in-process: ours (areas) vs 100 m cells at every zoom",
            ours_small[0] / 1000, naive[0] / 1000,
            f"median of {ours_small[2]} tiles: ours {ours_small[0]:.1f} ms ({ours_small[1] / 1e3:.0f} KB avg) vs "
            f"cells {naive[0]:.1f} ms ({naive[1] / 1e3:.0f} KB avg)"),
        Row("density tile, one client in-process, median by zoom", None, None, ", ".join(per_zoom)),
    ]


class _CellsEverywhere(IncidentDensityLayer):
    """The baseline: the density layer with its 100 m cells at every zoom."""

    def tile_rows(self, bbox: Any, z: int) -> Any:
        return self.rows(Level.cell, bbox=bbox)


def _in_process(ctx: BenchContext, layer: IncidentDensityLayer, tiles: list[Tile]) -> tuple[float, float, int]:
    from gis.incidents.query import IncidentFilter

    since = datetime.now(UTC) - timedelta(days=90)
    layer = layer.filtered(IncidentFilter(categories=CATEGORIES[:5], reported_from=since))
    times, sizes = [], []
    for tile in tiles:
        with ctx.sessions.begin() as session:
            started = time.perf_counter()
            body = render_tile(session, layer, tile)
            times.append((time.perf_counter() - started) * 1000)
            sizes.append(len(body))
    return statistics.median(times), statistics.fmean(sizes), len(tiles)


def _ours_small_scale(ctx: BenchContext, tiles: list[Tile]) -> tuple[float, float, int]:
    return _in_process(ctx, IncidentDensityLayer(metric_crs=ctx.settings.metric_crs), tiles)


def _naive_small_scale(ctx: BenchContext, tiles: list[Tile]) -> tuple[float, float, int]:
    return _in_process(ctx, _CellsEverywhere(metric_crs=ctx.settings.metric_crs), tiles)


# -- the page ---------------------------------------------------------------------------------------------------
def _page_rows(ctx: BenchContext) -> list[Row]:
    layers = registry(ctx.settings)
    started = time.perf_counter()
    html = render(build_command_map(layers=layers.values(), center=(109.7, 28.3)))
    ours = time.perf_counter() - started
    started = time.perf_counter()
    with ctx.sessions.begin() as session:
        density = layers["incident_density"]
        naive_html = render(naive_density_map(density.to_geodataframe(session), layer=density))
    naive = time.perf_counter() - started
    return [Row("/map page build (no data inlined) vs the density layer inlined by Folium", ours, naive,
                f"ours {len(html) / 1e3:.0f} KB vs inlined {len(naive_html) / 1e6:.1f} MB "
                f"({len(naive_html) / max(len(html), 1):.0f}× larger)")]

