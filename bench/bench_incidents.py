"""Incidents: creates through HTTP under concurrent clients, bulk import, and the GeoJSON list of a map view.

* **HTTP creates.** A real uvicorn (``api.main:create_app``, uvloop + httptools, ``WORKERS`` processes) on
  127.0.0.1 against the run's throwaway database, driven by ``CLIENTS`` concurrent keep-alive connections
  sending ``POST /api/v1/incidents`` with a bearer token. The server, client and CPU meter are
  ``bench.http_load``: a minimal HTTP/1.1 writer/reader on asyncio streams, so that on a 2-core machine the load
  generator takes as little CPU from the server as it can; it still shares the cores with the server and
  PostgreSQL, so the figures are a floor. Baseline: the same creates one at a time on one connection (what a
  naive importer or a single phone does).
  Bounded: a fixed number of requests and a deadline, whichever comes first.
* **Bulk import** (``gis.incidents.bulk_import``: STRtree location + COPY) of a CSV of synthetic incidents over a
  synthetic city, against the geopandas way: ``read_csv`` → ``points_from_xy`` → ``sjoin`` with the
  communities and the cells → ``to_postgis`` (in ``bench.bench_incident_import``, run first, before the
  server starts, on the same world).
* **List / GeoJSON of 1,000 incidents in a bbox** through HTTP, as the supervision centre (who reads every
  case): the GeoJSON built by PostgreSQL against the JSON list built from ORM rows in Python (the naive path),
  same filter, same page.
* **Ceilings**, measured in the same run on the same machine, to tell how far the goals are from what the parts
  can do at all: the HTTP stack alone (``GET /healthz`` under the same load); PostgreSQL alone running the
  create's one statement from a bare psycopg loop; PostgreSQL alone loading the import's rows as ready-made COPY
  text (with the same index, foreign-key and event work); PostgreSQL alone running the list's one statement
  (``gis.incidents.geojson.geojson_query``, fetched as the route fetches it) from a bare psycopg connection. The
  create row also gives the CPU time per create of the API processes, the PostgreSQL backends and this client
  (Linux ``/proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import orjson
import pandas as pd
import psycopg
from sqlalchemy import delete, text

from bench import BenchContext, Row, benchmark
from bench.bench_incident_import import import_rows
from bench.http_load import CpuMeter, Load, Request, Server, drive, get_repeatedly, uvicorn_server
from bench.synthetic_city import incident_points, load_city, side_for_cells, synthetic_city
from gis.areas import grid_store
from gis.incidents import fast_create
from gis.incidents.bulk_import import import_incidents
from gis.incidents.geojson import fetch_geojson, geojson_query
from gis.incidents.query import IncidentFilter
from gis.models import AdminArea, GridCell, IdempotencyKey, Incident, IncidentEvent, Role, Team, User
from gis.people import security, users

CLIENTS = 32
WORKERS = 2
CREATE_GOAL_PER_S, CREATE_GOAL_P99_MS = 1000, 100
LIST_GOAL_P50_MS = 20


@benchmark("incidents")
def incident_benchmarks(ctx: BenchContext) -> list[Row]:
    """All of it on one world, in this order: import (and its ceiling), creates, list, the two ceilings."""
    city = _world(ctx)
    rows = import_rows(ctx, city)
    with _server(ctx) as server:
        rows += _create_rows(ctx, server, _token(ctx, "bench_worker"), city)
        # The map view of the supervision centre: a grid worker reads only the cells they patrol.
        rows += _list_rows(ctx, server.address, _token(ctx, "bench_centre"), city)
        rows += [_http_ceiling(ctx, server.address)]
    rows += [_postgres_create_ceiling(ctx, city)]
    return rows


# -- the world --------------------------------------------------------------------------------------------------
def _world(ctx: BenchContext) -> gpd.GeoDataFrame:
    """A synthetic city (communities, subdistricts, ~2k/10k cells), a team per subdistrict, a grid worker."""
    with ctx.sessions.begin() as session:
        for model in (IdempotencyKey, IncidentEvent, Incident, GridCell, User, Team, AdminArea):
            session.execute(delete(model))
    cells = 2_000 if ctx.quick else 10_000
    city = synthetic_city(25 if ctx.quick else 100, side_m=side_for_cells(cells), seed=2024)
    with ctx.sessions.begin() as session:
        load_city(session, city)
    with ctx.sessions.begin() as session:
        grid_store.build_grid(session, settings=ctx.settings)
    with ctx.sessions.begin() as session:
        for code in city.loc[city["level"] == "subdistrict", "code"]:
            users.create_team(session, name=f"bench team {code}", jurisdiction_codes=[code])
        users.create_user(session, username="bench_worker", display_name="压测网格员", role=Role.grid_worker)
        users.create_user(session, username="bench_centre", display_name="压测监督员", role=Role.supervisor)
    return city


def _state_dir(ctx: BenchContext) -> Path:
    return ctx.workdir / "state"


def _token(ctx: BenchContext, username: str) -> str:
    with ctx.sessions() as session:
        user_id = users.get_user(session, username).id
    secret = security.persistent_secret(_state_dir(ctx) / "token_secret")  # the server reads the same file
    return security.create_access_token(str(user_id), secret=secret, minutes=60).token


@contextlib.contextmanager
def _server(ctx: BenchContext, workers: int = WORKERS) -> Iterator[Server]:
    """The app under uvicorn against the benchmark database, with a state folder whose token secret
    :func:`_token` signs with."""
    state = _state_dir(ctx)
    state.mkdir(parents=True, exist_ok=True)
    security.persistent_secret(state / "token_secret")  # before the workers start, so they all read one secret
    env = {**os.environ, "DATABASE_URL": ctx.engine.url.render_as_string(hide_password=False),
           "WANGGE_STATE_DIR": str(state)}
    with uvicorn_server("api.main:create_app", workers=workers, env=env, log=ctx.workdir / "uvicorn.log") as server:
        yield server


# -- HTTP creates -----------------------------------------------------------------------------------------------
def _create_requests(city: gpd.GeoDataFrame, token: str, n: int, seed: int) -> list[Request]:
    points = incident_points(n, city, seed=seed)
    categories = ["09006", "06001", "06036", "09005", "07001", "06011"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return [
        ("POST", "/api/v1/incidents", orjson.dumps({
            "category_code": categories[i % len(categories)], "lon": round(p.x, 7), "lat": round(p.y, 7),
            "description": f"压测上报 {i}", "source": "patrol"}), headers)
        for i, p in enumerate(points.geometry)
    ]


def _create_rows(ctx: BenchContext, server: Server, token: str, city: gpd.GeoDataFrame) -> list[Row]:
    n = 2_000 if ctx.quick else 10_000
    n_serial = 300 if ctx.quick else 1_000
    address = server.address
    warm = _create_requests(city, token, 200, seed=1)
    asyncio.run(drive(address, warm, CLIENTS, 60))  # connection pools, caches, JIT of query plans
    best: Load | None = None
    cpu = ""
    for attempt in range(ctx.repeat):
        requests = _create_requests(city, token, n, seed=10 + attempt)
        meter = CpuMeter(server, str(ctx.engine.url.database))
        meter.start()
        load = asyncio.run(drive(address, requests, CLIENTS, 120))
        meter.stop()
        if best is None or load.per_second > best.per_second:
            best, cpu = load, meter.per_request(load.done + load.failed)
    serial = asyncio.run(drive(address, _create_requests(city, token, n_serial, seed=99), 1, 120))
    assert best is not None
    ours_s = best.done / best.per_second if best.per_second else None
    # The baseline's time for the same number of creates, at its measured rate.
    baseline_s = best.done / serial.per_second if serial.per_second else None
    goal = ("goal met" if best.per_second >= CREATE_GOAL_PER_S and best.percentile(99) < CREATE_GOAL_P99_MS
            else f"goal ≥{CREATE_GOAL_PER_S}/s, p99 <{CREATE_GOAL_P99_MS} ms: MISSED")
    errors = f"; {best.failed} failed, e.g. {best.first_error}" if best.failed else ""
    return [
        Row(f"HTTP creates, {CLIENTS} clients, {WORKERS} uvicorn workers", ours_s, baseline_s,
            f"{best.done:,} creates: {best.per_second:,.0f}/s, p50 {best.percentile(50):.1f} ms, "
            f"p99 {best.percentile(99):.1f} ms ({goal}); CPU per create: {cpu}; baseline one at a time: "
            f"{serial.per_second:,.0f}/s, p50 {serial.percentile(50):.1f} ms{errors}"),
    ]


# -- ceilings ---------------------------------------------------------------------------------------------------
def _http_ceiling(ctx: BenchContext, address: str) -> Row:
    """The same server and client, ``GET /healthz``: no authentication, no body, no database."""
    n = 4_000 if ctx.quick else 10_000
    requests: list[Request] = [("GET", "/healthz", b"", {})] * n
    asyncio.run(drive(address, requests[:500], CLIENTS, 60))
    best = max((asyncio.run(drive(address, requests, CLIENTS, 60)) for _ in range(ctx.repeat)),
               key=lambda load: load.per_second)
    return Row(f"ceiling: GET /healthz, {CLIENTS} clients, {WORKERS} uvicorn workers", best.seconds, None,
               f"{best.per_second:,.0f}/s, p50 {best.percentile(50):.1f} ms, p99 {best.percentile(99):.1f} ms: the "
               "HTTP stack alone, no authentication, no database")


def _postgres_create_ceiling(ctx: BenchContext, city: gpd.GeoDataFrame, connections: int = 4) -> Row:
    """The create's one statement (``gis.incidents.fast_create``) from bare psycopg connections in threads, as the
    API sends it: prepared, in autocommit (the statement is atomic on its own)."""
    per_connection = 500 if ctx.quick else 2_500
    with ctx.sessions() as session:
        reporter = users.get_user(session, "bench_worker").id
    batches = [list(incident_points(per_connection, city, seed=500 + i).geometry) for i in range(connections)]

    def run(points: list) -> None:  # type: ignore[type-arg]
        with psycopg.connect(ctx.psycopg_url, autocommit=True) as conn:
            for point in points:
                now = datetime.now(UTC)
                margin = ctx.settings.duplicate_radius_m / (111_320 * math.cos(math.radians(point.y))) * 1.01
                conn.execute(fast_create.STATEMENT, {
                    "lon": point.x, "lat": point.y, "category": "09006", "prefix": f"JS-{now.year}-",
                    "description": "上限", "address": None, "source": "patrol", "reporter": reporter,
                    "roles": fast_create.REPORTER_ROLES, "reported_at": now, "now": now,
                    "event_data": '{"source": "patrol", "datum": "wgs84"}', "radius": ctx.settings.duplicate_radius_m,
                    "margin": margin,
                }, prepare=True).fetchall()

    run(batches[0][:100])  # prepared statements, caches
    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(run, batches))
    seconds = time.perf_counter() - started
    total = connections * per_connection
    return Row(f"ceiling: PostgreSQL alone, the create's one statement ({connections} psycopg connections)",
               seconds, None, f"{total / seconds:,.0f}/s for {total:,} creates, each committed, from a bare client "
               "sharing the cores: what any API in front of it can at most reach on this machine")


# -- list / GeoJSON of a map view -------------------------------------------------------------------------------
def _list_rows(ctx: BenchContext, address: str, token: str, city: gpd.GeoDataFrame) -> list[Row]:
    """1,000 incidents in a view-sized bbox (the creates above filled the city), GeoJSON vs the JSON list."""
    with ctx.sessions.begin() as session:
        session.execute(text("TRUNCATE incident_event, incident_photo, idempotency_key, incident"))
    path = ctx.workdir / "view.csv"
    points = incident_points(20_000, city, seed=7)
    pd.DataFrame({"lon": points.geometry.x.round(7), "lat": points.geometry.y.round(7), "category": "09006",
                  "description": "地图视图中的案件"}).to_csv(path, index=False)
    with ctx.sessions.begin() as session:
        import_incidents(session, path, settings=ctx.settings, all_or_nothing=False)
    bbox = _bbox_holding(ctx, 1_000)
    headers = {"Authorization": f"Bearer {token}"}
    query = f"/api/v1/incidents?bbox={','.join(f'{v:.6f}' for v in bbox)}&limit=1000"
    geo = asyncio.run(get_repeatedly(address, f"{query}&format=geojson", headers, 50 if ctx.quick else 200))
    plain = asyncio.run(get_repeatedly(address, f"{query}&format=json", headers, 20 if ctx.quick else 50))
    goal = "goal met" if geo.p50 < LIST_GOAL_P50_MS else f"goal p50 <{LIST_GOAL_P50_MS} ms: MISSED"
    return [Row(f"list 1,000 incidents in a bbox as GeoJSON (HTTP, of {len(points):,})", geo.p50 / 1000,
                plain.p50 / 1000,
                f"p50 {geo.p50:.1f} ms, p99 {geo.p99:.1f} ms, {geo.features} features, {geo.size / 1e6:.2f} MB "
                f"({goal}); baseline: the JSON list from ORM rows, p50 {plain.p50:.1f} ms"),
            _list_ceiling(ctx, bbox, 50 if ctx.quick else 200)]


def _list_ceiling(ctx: BenchContext, bbox: tuple[float, float, float, float], times: int) -> Row:
    """PostgreSQL alone on the list's one statement, as the supervision centre's request runs it (the same SQL,
    parameters and fetch): the round trip from a bare psycopg connection, and the server's own execution time
    (EXPLAIN ANALYZE without per-node timing, which would add its own cost), the two taken in turn so that both
    see the same machine."""
    sql, params = geojson_query(ctx.engine.dialect, IncidentFilter(bbox=bbox), public=False, sort="-reported_at",
                                limit=1_000, offset=0, cursor=None, now=datetime.now(UTC))
    trips, executions = [], []
    # Planned on every run, as the app's engine has it (gis.db.make_engine): psycopg prepares a statement after
    # a few runs, and a cached generic plan would make the ceiling look better than what the route can get.
    with psycopg.connect(ctx.psycopg_url, autocommit=True, options="-c plan_cache_mode=force_custom_plan") as conn:
        for _ in range(times):
            started = time.perf_counter()
            answer = fetch_geojson(conn, sql, params)
            trips.append(time.perf_counter() - started)
            if answer[1] != 1_000:
                raise RuntimeError(f"the list's statement returned {answer[1]} features, not 1,000")
            plan = conn.execute("EXPLAIN (ANALYZE, TIMING OFF) " + sql, params).fetchall()
            executions.append(float(plan[-1][0].removeprefix("Execution Time:").removesuffix("ms")))
    trip, execution = statistics.median(trips), statistics.median(executions)
    return Row("ceiling: PostgreSQL alone, the list's one statement (bare psycopg)", trip, None,
               f"p50 {trip * 1000:.1f} ms a round trip, of which {execution:.1f} ms the server's execution "
               f"(p50 of {len(executions)} EXPLAIN ANALYZE): what is left of the {LIST_GOAL_P50_MS} ms goal for "
               "HTTP and the caller's check")


def _bbox_holding(ctx: BenchContext, count: int) -> tuple[float, float, float, float]:
    """A square around the densest spot that holds about ``count`` incidents."""
    with ctx.engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(location)), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Y(location)) FROM incident")).one()
        half = 0.002
        for _ in range(40):
            inside = conn.execute(text(
                "SELECT count(*) FROM incident WHERE location && ST_MakeEnvelope(:a, :b, :c, :d, 4326)"),
                {"a": lon - half, "b": lat - half, "c": lon + half, "d": lat + half}).scalar_one()
            if inside >= count:
                break
            half *= 1.25
    return lon - half, lat - half, lon + half, lat + half

