"""The mix a city's server sees at once (issue 14): grid workers reporting, the centre paging its list, map views
of a district as GeoJSON, and grid workers opening their own lists, each with its p99 under the mix.

Bounded: a fixed number of keep-alive clients per kind of request for a fixed time (``--quick``: 8 s, else
20 s), against the app under uvicorn (the same server as ``bench_incidents``). Each row's baseline is the same
requests with the same clients alone, measured in the same run, so the ratio (alone p99 / mixed p99, below 1
when the mix slows a route) says what the other routes cost it. A route's errors are counted in its notes.
"""

from __future__ import annotations

import asyncio

from bench import BenchContext, Row, benchmark
from bench.bench_incidents import _bbox_holding, _create_requests, _server, _token, _world
from bench.http_load import Load, Request, drive

MIX: dict[str, int] = {"create": 4, "list": 2, "map view": 2, "own list": 2}  # clients per kind


def _requests(ctx: BenchContext, city: object, worker: str, centre: str) -> dict[str, list[Request]]:
    as_worker = {"Authorization": f"Bearer {worker}"}
    as_centre = {"Authorization": f"Bearer {centre}"}
    bbox = ",".join(f"{v:.6f}" for v in _bbox_holding(ctx, 1000))
    return {
        "create": _create_requests(city, worker, 20_000, seed=7),  # type: ignore[arg-type]
        "list": [("GET", f"/api/v1/incidents?limit=100&offset={(i % 20) * 100}", b"", as_centre) for i in range(500)],
        "map view": [("GET", f"/api/v1/incidents?format=geojson&limit=1000&bbox={bbox}", b"", as_centre)] * 200,
        "own list": [("GET", "/api/v1/incidents?limit=20", b"", as_worker)] * 500,
    }


async def _together(address: str, requests: dict[str, list[Request]], clients: dict[str, int],
                    seconds: float) -> dict[str, Load]:
    loads = await asyncio.gather(*(drive(address, requests[kind], clients[kind], seconds) for kind in clients))
    return dict(zip(clients, loads, strict=True))


@benchmark("city_mix")
def city_mix(ctx: BenchContext) -> list[Row]:
    city = _world(ctx)
    seconds = 8.0 if ctx.quick else 20.0
    rows: list[Row] = []
    with _server(ctx) as server:
        worker, centre = _token(ctx, "bench_worker"), _token(ctx, "bench_centre")
        # A first round of reports, so that the lists and map views have cases to read.
        asyncio.run(drive(server.address, _create_requests(city, worker, 3_000, seed=3), 8, 60.0))  # type: ignore[arg-type]
        requests = _requests(ctx, city, worker, centre)
        alone = {kind: asyncio.run(_together(server.address, requests, {kind: n}, seconds))[kind]
                 for kind, n in MIX.items()}
        mixed = asyncio.run(_together(server.address, requests, MIX, seconds))
    for kind, load in mixed.items():
        base = alone[kind]
        errors = f"; {load.failed} errors ({load.first_error[:80]})" if load.failed else ""
        rows.append(Row(
            f"city mix: {kind} p99 ({MIX[kind]} clients among {sum(MIX.values())})",
            load.percentile(99) / 1000, base.percentile(99) / 1000,
            f"{load.done:,} in {load.seconds:.0f} s ({load.per_second:,.0f}/s), p50 {load.percentile(50):.1f} ms, "
            f"p99 {load.percentile(99):.1f} ms; alone: {base.per_second:,.0f}/s, p99 {base.percentile(99):.1f} ms"
            f"{errors}"))
    return rows

