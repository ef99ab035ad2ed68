"""Benchmark: OGC API – Features items, limit=1000 with a bbox, over a 10,000-cell city (p50 latency).

Ours: ``GET /ogc/collections/{id}/items?limit=1000&bbox=…&api_key=…`` through the whole app (FastAPI,
API-key check, PostgreSQL building the GeoJSON, ``numberMatched`` counted because the page is full),
in-process with Starlette's TestClient. Baseline, same rows: geopandas ``read_postgis`` of the layer's
select with the same bbox and limit, then ``to_json()`` — features built one by one in Python, which is
what makes a features server that builds each feature in Python (pygeoapi does) slow. The
baseline has no HTTP, no auth and no count, so the ratio flatters it.

The city (``bench.bench_facilities.build_city``) and a planner with an API key are written inside one
transaction that the app's sessions join (savepoints) and that is rolled back at the end.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import geopandas as gpd
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import func, text
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from bench import BenchContext, Row, benchmark
from bench.bench_facilities import CENTRE_M, build_city
from gis.layers import BBox, Layer, registry
from gis.models import Role
from gis.people import users
from gis.spatial.crs import JISHOU_METRIC, from_metric

LIMIT = 1000


def _bbox(half_side_m: float) -> BBox:
    """A lon/lat box of ``2 × half_side_m`` around the synthetic city's centre."""
    x, y = CENTRE_M
    minx, miny, maxx, maxy = from_metric(shapely.box(x - half_side_m, y - half_side_m, x + half_side_m,
                                                     y + half_side_m), JISHOU_METRIC).bounds
    return (minx, miny, maxx, maxy)


def _p50(call: Any, n: int) -> tuple[float, Any]:
    """Median wall time of ``n`` calls after one untimed warm-up call, and the last result."""
    result = call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _baseline(session: Session, layer: Layer, bbox: BBox) -> str:
    stmt = layer.select()
    geom = stmt.selected_columns["geom"]
    stmt = stmt.where(func.ST_Intersects(geom, func.ST_MakeEnvelope(*bbox, 4326))).limit(LIMIT)
    frame = gpd.read_postgis(stmt, session.connection(), geom_col="geom", crs=4326)
    return frame.to_json()


@benchmark("ogc")
def bench_ogc(ctx: BenchContext) -> list[Row]:
    side = 50 if ctx.quick else 100
    n = 5 if ctx.quick else 21
    # 5 km × 5 km: 2,500 cells, so pages of 1000 are full and numberMatched must be counted; the facilities
    # (2,000 over the city) are asked for over the whole city.
    cells_box, city_box = _bbox(2_500), _bbox(side * 50)
    cases = [("grid_cells", cells_box), ("facilities", city_box), ("facility_sharing", cells_box)]
    layers = registry(ctx.settings)
    rows: list[Row] = []
    with ctx.engine.connect() as connection:
        outer = connection.begin()
        # psycopg prepares a statement run 5 times, and PostgreSQL then switches it to a generic plan after 5
        # more: for facility_sharing that plan takes minutes instead of about a second (measured). Custom
        # plans always, as gis.db.make_engine should also ask (reported); planning costs about a millisecond.
        connection.execute(text("SET plan_cache_mode = force_custom_plan"))
        # The facility_sharing layer turns JIT off for its own queries (compiling costs more than running);
        # off for the baseline's too, so that both read the same rows at the same cost.
        connection.execute(text("SET jit = off"))
        try:
            sessions = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
            with sessions() as session:
                city = build_city(session, side=side, facilities=2_000)
                planner = users.create_user(session, username="bench_planner", display_name="基准", role=Role.planner)
                key = users.create_api_key(session, planner)
                session.commit()
            with TestClient(create_app(ctx.settings, sessions=sessions)) as client:
                for layer_id, bbox in cases:
                    params = {"limit": str(LIMIT), "bbox": ",".join(f"{v:.6f}" for v in bbox), "api_key": key}
                    url = f"/ogc/collections/{layer_id}/items"

                    def ours(url: str = url, params: dict[str, str] = params) -> Any:
                        response = client.get(url, params=params)
                        response.raise_for_status()
                        return response

                    ours_s, response = _p50(ours, n)
                    body = response.json()
                    with sessions() as session:
                        base_s, baseline_json = _p50(
                            lambda s=session, lid=layer_id, b=bbox: _baseline(s, layers[lid], b), n)
                    rows.append(Row(
                        f"OGC items {layer_id}, limit={LIMIT}, bbox (p50)", ours_s, base_s,
                        f"{body['numberReturned']:,} of {body['numberMatched']:,} features, "
                        f"{len(response.content) / 1e6:.1f} MB (baseline {len(baseline_json) / 1e6:.1f} MB); "
                        f"{1 / ours_s:.1f} req/s for one client; {city['cells']:,} cells; median of {n}",
                    ))
        finally:
            outer.rollback()
    return rows
