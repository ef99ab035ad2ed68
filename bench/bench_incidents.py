"""Incidents: creates through HTTP under concurrent clients, bulk import, and the GeoJSON list of a map view.

* **HTTP creates.** A real uvicorn (``api.main:create_app``, uvloop + httptools, ``WORKERS`` processes) on
  127.0.0.1 against the run's throwaway database, driven by ``CLIENTS`` concurrent keep-alive connections
  sending ``POST /api/v1/incidents`` with a bearer token. The client is a minimal HTTP/1.1 writer/reader on
  asyncio streams, so that on a 2-core machine the load generator takes as little CPU from the server as it
  can; it still shares the cores with the server and PostgreSQL, so the figures are a floor. Baseline: the
  same creates one at a time on one connection (what a naive importer or a single phone does).
  Bounded: a fixed number of requests and a deadline, whichever comes first.
* **Bulk import** (``gis.incident_import``: STRtree location + COPY) of a CSV of synthetic incidents over a
  synthetic city, against the geopandas way: ``read_csv`` → ``points_from_xy`` → ``sjoin`` with the
  communities and the cells → ``to_postgis``.
* **List / GeoJSON of 1,000 incidents in a bbox** through HTTP, as the supervision centre (who reads every
  case): the GeoJSON built by PostgreSQL against the JSON list built from ORM rows in Python (the naive path),
  same filter, same page.
* **Ceilings**, measured in the same run on the same machine, to tell how far the goals are from what the parts
  can do at all: the HTTP stack alone (``GET /healthz`` under the same load), PostgreSQL alone running the
  create's one statement from a bare psycopg loop, and PostgreSQL alone loading the import's rows as ready-made
  COPY text (with the same index, foreign-key and event work). The create row also gives the CPU time per
  create of the API processes, the PostgreSQL backends and this client (Linux ``/proc``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
from sqlalchemy import delete, text

from bench import BenchContext, Row, benchmark, timed
from bench.citygen import incident_points, load_city, side_for_cells, synthetic_city
from gis import grid_store, incident_copy, incident_report, incidents, security, users
from gis.incident_import import import_incidents
from gis.models import AdminArea, GridCell, IdempotencyKey, Incident, IncidentEvent, Role, Team, User
from gis.settings import PROJECT_ROOT

CLIENTS = 32
WORKERS = 2
CREATE_GOAL_PER_S, CREATE_GOAL_P99_MS = 1000, 100
IMPORT_GOAL_PER_S, IMPORT_GOAL_RATIO = 100_000, 5
LIST_GOAL_P50_MS = 20


@benchmark("incidents")
def incident_benchmarks(ctx: BenchContext) -> list[Row]:
    city = _world(ctx)
    rows = _import_rows(ctx, city)
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


# -- the server -------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Server:
    address: str  # host:port
    pid: int  # uvicorn's supervisor; its workers are its children

    def pids(self) -> list[int]:
        return [self.pid, *_children(self.pid)]


@contextlib.contextmanager
def _server(ctx: BenchContext, workers: int = WORKERS) -> Iterator[Server]:
    """uvicorn serving the app on a free loopback port, against the benchmark database; stopped on exit."""
    port = _free_port()
    state = _state_dir(ctx)
    state.mkdir(parents=True, exist_ok=True)
    security.persistent_secret(state / "token_secret")
    env = {**os.environ, "DATABASE_URL": ctx.engine.url.render_as_string(hide_password=False),
           "WANGGE_STATE_DIR": str(state)}
    log = (ctx.workdir / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
         "--loop", "uvloop", "--http", "httptools"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_ready(port, process)
        yield Server(f"127.0.0.1:{port}", process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and its worker processes, which we started
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}; see uvicorn.log in the work folder")
        try:
            status, _ = asyncio.run(_one(f"127.0.0.1:{port}", "GET", "/healthz"))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("uvicorn did not answer /healthz in time")


# -- CPU time from /proc (Linux; zero elsewhere) -----------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _backends(database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` (their title reads ``postgres: user database host …``)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            title = cmdline.read_bytes().decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                found.append(int(cmdline.parent.name))
    return found


def _cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of ``pids`` still alive."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


@dataclass
class CpuMeter:
    """CPU seconds of the server, of PostgreSQL's backends for the benchmark database, and of this process,
    between ``start`` and ``stop`` (backends that open meanwhile count from zero, ones that exit are lost)."""

    server: Server
    database: str
    spent: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._api, self._db = _cpu(self.server.pids()), _cpu(_backends(self.database))
        self._me = sum(os.times()[:2])

    def stop(self) -> None:
        api, db = _cpu(self.server.pids()), _cpu(_backends(self.database))
        self.spent = {
            "API": sum(v - self._api.get(pid, 0.0) for pid, v in api.items()),
            "PostgreSQL": sum(v - self._db.get(pid, 0.0) for pid, v in db.items()),
            "client": sum(os.times()[:2]) - self._me,
        }

    def per_request(self, requests: int) -> str:
        return ", ".join(f"{name} {seconds / max(requests, 1) * 1000:.2f} ms" for name, seconds in self.spent.items())


# -- a minimal HTTP/1.1 client ----------------------------------------------------------------------------------
class Connection:
    """One keep-alive connection: write a request, read the status line, headers and Content-Length body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, address: str) -> Connection:
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, address)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
                      ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def _one(address: str, method: str, path: str) -> tuple[int, bytes]:
    connection = await Connection.open(address)
    try:
        return await connection.request(method, path)
    finally:
        await connection.close()


@dataclass
class Load:
    done: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


async def _drive(address: str, requests: list[tuple[str, str, bytes, dict[str, str]]], clients: int,
                 deadline_s: float) -> Load:
    """Send ``requests`` over ``clients`` connections, each taking the next one when it is free."""
    queue = iter(requests)
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + deadline_s

    async def client() -> None:
        connection = await Connection.open(address)
        try:
            for method, path, body, headers in queue:
                if time.perf_counter() > stop:
                    return
                started = time.perf_counter()
                status, answer = await connection.request(method, path, body, headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if status >= 400:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    return Load(len(latencies) - len(failures), len(failures), seconds, latencies, failures[0] if failures else "")


# -- HTTP creates -----------------------------------------------------------------------------------------------
def _create_requests(city: gpd.GeoDataFrame, token: str, n: int, seed: int) -> list[tuple[str, str, bytes, dict]]:
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
    asyncio.run(_drive(address, warm, CLIENTS, 60))  # connection pools, caches, JIT of query plans
    best: Load | None = None
    cpu = ""
    for attempt in range(ctx.repeat):
        requests = _create_requests(city, token, n, seed=10 + attempt)
        meter = CpuMeter(server, str(ctx.engine.url.database))
        meter.start()
        load = asyncio.run(_drive(address, requests, CLIENTS, 120))
        meter.stop()
        if best is None or load.per_second > best.per_second:
            best, cpu = load, meter.per_request(load.done + load.failed)
    serial = asyncio.run(_drive(address, _create_requests(city, token, n_serial, seed=99), 1, 120))
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
    requests: list[tuple[str, str, bytes, dict[str, str]]] = [("GET", "/healthz", b"", {})] * n
    asyncio.run(_drive(address, requests[:500], CLIENTS, 60))
    best = max((asyncio.run(_drive(address, requests, CLIENTS, 60)) for _ in range(ctx.repeat)),
               key=lambda load: load.per_second)
    return Row(f"ceiling: GET /healthz, {CLIENTS} clients, {WORKERS} uvicorn workers", best.seconds, None,
               f"{best.per_second:,.0f}/s, p50 {best.percentile(50):.1f} ms, p99 {best.percentile(99):.1f} ms: the "
               "HTTP stack alone, no authentication, no database")


def _postgres_create_ceiling(ctx: BenchContext, city: gpd.GeoDataFrame, connections: int = 4) -> Row:
    """The create's one statement (``gis.incident_report``) from bare psycopg connections in threads, as the
    API sends it: prepared, in autocommit (the statement is atomic on its own)."""
    per_connection = 500 if ctx.quick else 2_500
    with ctx.sessions() as session:
        reporter = users.get_user(session, "bench_worker").id
    batches = [list(incident_points(per_connection, city, seed=500 + i).geometry) for i in range(connections)]

    def run(points: list) -> None:  # type: ignore[type-arg]
        with psycopg.connect(_psycopg_url(ctx), autocommit=True) as conn:
            for point in points:
                now = datetime.now(UTC)
                margin = incidents.DUPLICATE_RADIUS_M / (111_320 * math.cos(math.radians(point.y))) * 1.01
                conn.execute(incident_report.STATEMENT, {
                    "lon": point.x, "lat": point.y, "category": "09006", "prefix": f"JS-{now.year}-",
                    "description": "上限", "address": None, "source": "patrol", "reporter": reporter,
                    "roles": incident_report.REPORTER_ROLES, "reported_at": now, "now": now,
                    "event_data": '{"source": "patrol", "datum": "wgs84"}', "radius": incidents.DUPLICATE_RADIUS_M,
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


def _psycopg_url(ctx: BenchContext) -> str:
    return ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


# -- bulk import ------------------------------------------------------------------------------------------------
def _import_rows(ctx: BenchContext, city: gpd.GeoDataFrame) -> list[Row]:
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

    def ours() -> int:
        # A few synthetic points fall on the city's outer edge and are refused; keep the rest.
        with ctx.sessions.begin() as session:
            return import_incidents(session, path, settings=ctx.settings, all_or_nothing=False).imported

    def naive() -> int:
        return _naive_import(ctx, path)

    ours_s, imported = timed(ours, ctx.repeat, setup=clear)
    ceiling = _postgres_import_ceiling(ctx, imported, clear)
    naive_s, naive_n = timed(naive, ctx.repeat, setup=lambda: _drop_naive(ctx))
    clear()
    _drop_naive(ctx)
    rate = imported / ours_s
    ratio = naive_s / ours_s
    goal = ("goal met" if rate >= IMPORT_GOAL_PER_S and ratio >= IMPORT_GOAL_RATIO
            else f"goal ≥{IMPORT_GOAL_PER_S:,}/s and ≥{IMPORT_GOAL_RATIO}×: MISSED")
    return [Row(f"bulk import, {n:,} incidents (CSV → located → COPY)", ours_s, naive_s,
                f"{imported:,} imported, {rate:,.0f}/s with events ({goal}); baseline geopandas sjoin "
                f"(communities, cells) + to_postgis wrote {naive_n:,} rows into a bare table: no indexes, "
                "constraints, ids or events"),
            ceiling]


def _postgres_import_ceiling(ctx: BenchContext, n: int, clear: Callable[[], None]) -> Row:
    """PostgreSQL alone loading the rows our import just wrote, handed over as ready COPY text, with the same
    work around them (secondary indexes dropped and rebuilt, foreign keys re-validated, one event per row)."""
    tables = (("incident", incident_copy.INCIDENT_COLUMNS), ("incident_event", incident_copy.EVENT_COLUMNS))
    dumps = {}
    with psycopg.connect(_psycopg_url(ctx)) as conn, conn.cursor() as cursor:
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
            with incident_copy.bulk_load(session, n), driver.cursor() as cursor:
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
    geo = asyncio.run(_repeat(address, f"{query}&format=geojson", headers, 50 if ctx.quick else 200))
    plain = asyncio.run(_repeat(address, f"{query}&format=json", headers, 20 if ctx.quick else 50))
    goal = "goal met" if geo.p50 < LIST_GOAL_P50_MS else f"goal p50 <{LIST_GOAL_P50_MS} ms: MISSED"
    return [Row(f"list 1,000 incidents in a bbox as GeoJSON (HTTP, of {len(points):,})", geo.p50 / 1000,
                plain.p50 / 1000,
                f"p50 {geo.p50:.1f} ms, p99 {geo.p99:.1f} ms, {geo.features} features, {geo.size / 1e6:.2f} MB "
                f"({goal}); baseline: the JSON list from ORM rows, p50 {plain.p50:.1f} ms")]


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


@dataclass
class Timings:
    p50: float
    p99: float
    features: int
    size: int


async def _repeat(address: str, path: str, headers: dict[str, str], times: int) -> Timings:
    connection = await Connection.open(address)
    latencies = []
    body = b""
    try:
        for _ in range(times):
            started = time.perf_counter()
            status, body = await connection.request("GET", path, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    finally:
        await connection.close()
    document = orjson.loads(body)
    features = len(document.get("features", document.get("items", [])))
    return Timings(statistics.median(latencies), float(np.percentile(latencies, 99)), features, len(body))
