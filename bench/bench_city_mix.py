"""The mix a city's server sees at once (issue 14): grid workers reporting, the centre paging its list, map views
of a district as GeoJSON, and grid workers opening their own lists, each with its p99 under the mix — and the same
mix again with a bulk import of historic cases running beside it.

Bounded: a fixed number of keep-alive clients per kind of request for a fixed time (``--quick``: 8 s, else
20 s), against the app under uvicorn (the same server as ``bench_incidents``). Each row's baseline is the same
requests with the same clients alone, measured in the same run, so the ratio (alone p99 / mixed p99, below 1
when the mix slows a route) says what the other routes cost it. A route's errors are counted in its notes.

The import runs in a process of its own (as ``wangge incidents import`` would, online: the default), one file
after another for the whole of the mix's window, so that every request of that round meets an open import
transaction. While it runs, the strongest lock any backend holds on the incident tables is sampled from
``pg_locks``: an online import takes ROW EXCLUSIVE only (``gis.incidents.bulk_copy``), so the round fails
(RuntimeError) if it sees a lock that would stop readers or reporters (SHARE and above).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from bench import BenchContext, Row, benchmark
from bench.bench_incidents import _bbox_holding, _create_requests, _server, _token, _world
from bench.http_load import Load, Request, drive
from bench.synthetic_city import incident_points

MIX: dict[str, int] = {"create": 4, "list": 2, "map view": 2, "own list": 2}  # clients per kind
INCIDENT_TABLES = ("incident", "incident_event")
# Table locks that stop the API: SHARE and above conflict with the ROW EXCLUSIVE of every report, ACCESS
# EXCLUSIVE with every read (https://www.postgresql.org/docs/current/explicit-locking.html).
BLOCKING_LOCKS = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}


def _requests(ctx: BenchContext, city: object, worker: str, centre: str) -> dict[str, list[Request]]:
    """Enough of each kind that none runs out before the window ends (20 s at the fastest route's rate)."""
    as_worker = {"Authorization": f"Bearer {worker}"}
    as_centre = {"Authorization": f"Bearer {centre}"}
    bbox = ",".join(f"{v:.6f}" for v in _bbox_holding(ctx, 1000))
    return {
        "create": _create_requests(city, worker, 20_000, seed=7),  # type: ignore[arg-type]
        "list": [("GET", f"/api/v1/incidents?limit=100&offset={(i % 20) * 100}", b"", as_centre) for i in range(5_000)],
        "map view": [("GET", f"/api/v1/incidents?format=geojson&limit=1000&bbox={bbox}", b"", as_centre)] * 2_000,
        "own list": [("GET", "/api/v1/incidents?limit=20", b"", as_worker)] * 5_000,
    }


async def _together(address: str, requests: dict[str, list[Request]], clients: dict[str, int],
                    seconds: float) -> dict[str, Load]:
    loads = await asyncio.gather(*(drive(address, requests[kind], clients[kind], seconds) for kind in clients))
    return dict(zip(clients, loads, strict=True))


# -- the import beside the mix ----------------------------------------------------------------------------------
def _history_file(ctx: BenchContext, city: Any) -> Path:
    """Closed cases of 2025 at the city's points: a hotline history, as a planner would load it."""
    n = 20_000 if ctx.quick else 100_000
    points = incident_points(n, city, seed=99)
    rng = np.random.default_rng(11)
    categories = np.array(["09006", "06001", "06036", "09005", "07001", "06011"])
    frame = pd.DataFrame({
        "lon": np.round(points.geometry.x.to_numpy(), 7), "lat": np.round(points.geometry.y.to_numpy(), 7),
        "category": categories[rng.integers(0, len(categories), n)], "description": "历史案件",
        "reported_at": "2025-06-01T09:00:00+08:00", "status": "closed", "closed_at": "2025-06-02T09:00:00+08:00",
    })
    path = ctx.workdir / "history.csv"
    frame.to_csv(path, index=False)
    return path


def _import_until(url: str, path: str, stop: Any, done: Any) -> None:
    """In a child process: import ``path`` online, again and again, until ``stop`` is set; puts
    (imported rows, seconds) per import on ``done``."""
    from sqlalchemy.orm import sessionmaker

    from gis.db import make_engine
    from gis.incidents.bulk_import import import_incidents
    from gis.settings import Settings

    engine = make_engine(url)
    settings = Settings(database_url=url)
    while not stop.is_set():
        started = time.perf_counter()
        with sessionmaker(engine).begin() as session:
            report = import_incidents(session, Path(path), settings=settings, all_or_nothing=False)
        done.put((report.imported, time.perf_counter() - started))
    engine.dispose()


@dataclass
class _Locks:
    """The table locks seen on the incident tables while sampling, by mode, and how often each was granted."""

    seen: dict[str, int]
    waiting: int = 0

    @property
    def blocking(self) -> set[str]:
        return set(self.seen) & BLOCKING_LOCKS


def _sample_locks(url: str, stop: threading.Event, into: _Locks) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        while not stop.is_set():
            for mode, granted in connection.execute(
                    "SELECT l.mode, l.granted FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.locktype = 'relation' AND c.relname = ANY(%s) AND l.pid <> pg_backend_pid()",
                    (list(INCIDENT_TABLES),)):
                into.seen[mode] = into.seen.get(mode, 0) + 1
                into.waiting += 0 if granted else 1
            time.sleep(0.05)


def _mix_with_import(ctx: BenchContext, address: str, requests: dict[str, list[Request]], history: Path,
                     seconds: float) -> tuple[dict[str, Load], list[tuple[int, float]], _Locks]:
    spawn = multiprocessing.get_context("spawn")
    stop_import, done = spawn.Event(), spawn.Queue()
    url = ctx.engine.url.render_as_string(hide_password=False)
    importer = spawn.Process(target=_import_until, args=(url, str(history), stop_import, done), daemon=True)
    locks, stop_sampling = _Locks(seen={}), threading.Event()
    sampler = threading.Thread(target=_sample_locks, args=(ctx.psycopg_url, stop_sampling, locks), daemon=True)
    importer.start()
    sampler.start()
    try:
        time.sleep(3.0)  # the child has started and its first import is reading the file and writing
        mixed = asyncio.run(_together(address, requests, MIX, seconds))
    finally:
        stop_import.set()
        importer.join(timeout=600)
        stop_sampling.set()
        sampler.join(timeout=10)
    if importer.exitcode != 0:
        raise RuntimeError(f"the import beside the mix failed (exit code {importer.exitcode})")
    imports = []
    while not done.empty():
        imports.append(done.get())
    if locks.blocking:
        raise RuntimeError(f"the import locked the incident tables against the API: {sorted(locks.blocking)}")
    return mixed, imports, locks


def _row(name: str, load: Load, base: Load, extra: str = "") -> Row:
    errors = f"; {load.failed} errors ({load.first_error[:80]})" if load.failed else ""
    return Row(name, load.percentile(99) / 1000, base.percentile(99) / 1000,
               f"{load.done:,} in {load.seconds:.0f} s ({load.per_second:,.0f}/s), p50 {load.percentile(50):.1f} ms, "
               f"p99 {load.percentile(99):.1f} ms; alone: {base.per_second:,.0f}/s, p99 {base.percentile(99):.1f} ms"
               f"{extra}{errors}")


@benchmark("city_mix")
def city_mix(ctx: BenchContext) -> list[Row]:
    city = _world(ctx)
    seconds = 8.0 if ctx.quick else 20.0
    history = _history_file(ctx, city)
    with _server(ctx) as server:
        worker, centre = _token(ctx, "bench_worker"), _token(ctx, "bench_centre")
        # A first round of reports, so that the lists and map views have cases to read.
        asyncio.run(drive(server.address, _create_requests(city, worker, 3_000, seed=3), 8, 60.0))  # type: ignore[arg-type]
        requests = _requests(ctx, city, worker, centre)
        alone = {kind: asyncio.run(_together(server.address, requests, {kind: n}, seconds))[kind]
                 for kind, n in MIX.items()}
        mixed = asyncio.run(_together(server.address, requests, MIX, seconds))
        with_import, imports, locks = _mix_with_import(ctx, server.address, requests, history, seconds)
    clients = sum(MIX.values())
    rows = [_row(f"city mix: {kind} p99 ({MIX[kind]} clients among {clients})", load, alone[kind])
            for kind, load in mixed.items()]
    rows_done = sum(n for n, _ in imports)
    import_note = (f"; beside {len(imports)} online import(s) of {rows_done:,} rows in all "
                   f"({', '.join(f'{s:.1f} s' for _, s in imports)}); table locks seen on incident tables: "
                   f"{', '.join(sorted(locks.seen)) or 'none'}, {locks.waiting} waiting")
    rows += [_row(f"city mix + bulk import: {kind} p99 ({MIX[kind]} clients among {clients})", load, alone[kind],
                  import_note if kind == "create" else "")
             for kind, load in with_import.items()]
    return rows
