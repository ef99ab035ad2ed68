"""Benchmark: the facility-sharing-per-cell layer for a 10,000-cell city with 2,000 facilities.

Ours: the ``facility_sharing`` layer (PostGIS: index-preselected pairs, exact ``ST_DWithin`` in the metric
CRS), rows fetched with their geometry into a GeoDataFrame, and again as the map's GeoJSON. Baseline, in
the same run on the same data: a naive per-cell geopandas loop (for each cell, the distance to every
facility in the metric CRS, then the same sums), with the data already in memory, so only the computation
is timed. A map view (a bbox of ``VIEW_M``) is timed against the whole city in the same run: only the cells
in the view are computed. The synthetic city is written inside a transaction that is rolled back: the
database is left as it was.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from bench import BenchContext, Row, benchmark, timed
from gis.facilities.coverage import DEFAULT_RADIUS_M
from gis.facilities.service import with_check_character
from gis.layers.base import BBox
from gis.layers.facilities import FacilitySharingLayer
from gis.models import Booking, Facility, FacilityType, GridCell, Unit
from gis.spatial.crs import JISHOU_METRIC, from_metric

CENTRE_M = (374_400.0, 3_132_350.0)  # EPSG:4546 metres: Jishou, about 109.72°E, 28.30°N
VIEW_M = (2_000.0, 1_200.0)  # a desktop map view at zoom 16, about 240 of the city's 100 m cells
SCHEDULES = ("Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00", "Mo-Su 08:00-21:00", "Sa,Su 09:00-17:00",
             "Mo-Fr 12:00-14:00,17:30-21:30")


def build_city(session: Session, *, side: int = 100, cell_m: float = 100.0, facilities: int = 2_000,
               bookings: int = 4_000, seed: int = 7) -> dict[str, int]:
    """Write ``side``² square cells (in blocks of 20 × 20 per synthetic community), facilities at random
    points with random types and capacities, and bookings over the last 30 days. Returns the counts."""
    rng = np.random.default_rng(seed)
    x0, y0 = CENTRE_M[0] - side * cell_m / 2, CENTRE_M[1] - side * cell_m / 2
    grid_cols, grid_rows = np.meshgrid(np.arange(side), np.arange(side))
    cols, rows = grid_cols.ravel(), grid_rows.ravel()
    squares = shapely.box(x0 + cols * cell_m, y0 + rows * cell_m, x0 + (cols + 1) * cell_m, y0 + (rows + 1) * cell_m)
    lonlat = from_metric(squares, JISHOU_METRIC)
    block = 20
    communities = (rows // block) * ((side + block - 1) // block) + cols // block + 1
    seq = np.zeros(len(cols), dtype=int)
    counters: dict[int, int] = {}
    for i, c in enumerate(communities):
        counters[int(c)] = counters.get(int(c), 0) + 1
        seq[i] = counters[int(c)]
    session.execute(insert(GridCell), [
        {"code": f"4331019{c:05d}{s:03d}", "community_code": f"4331019{c:05d}", "area_m2": cell_m * cell_m,
         "geom": f"SRID=4326;{shapely.to_wkt(shapely.multipolygons([g]), rounding_precision=8)}"}
        for c, s, g in zip(communities, seq, lonlat, strict=True)
    ])
    unit_id = session.execute(insert(Unit).returning(Unit.id), {
        "name": "基准测试单位 (bench)", "kind": "government", "credit_code": with_check_character("12433101MB9999999"),
    }).scalar_one()
    fx = rng.uniform(x0, x0 + side * cell_m, facilities)
    fy = rng.uniform(y0, y0 + side * cell_m, facilities)
    points = from_metric(shapely.points(fx, fy), JISHOU_METRIC)
    types = rng.choice([t.value for t in FacilityType], facilities)
    fcols = np.clip(((fx - x0) // cell_m).astype(int), 0, side - 1)
    frows = np.clip(((fy - y0) // cell_m).astype(int), 0, side - 1)
    fcomm = (frows // block) * ((side + block - 1) // block) + fcols // block + 1
    facility_ids = session.execute(insert(Facility).returning(Facility.id), [
        {"unit_id": unit_id, "name": f"设施{i:05d}", "type": t, "community_code": f"4331019{c:05d}",
         "geom": f"SRID=4326;{shapely.to_wkt(p, rounding_precision=8)}",
         "capacity": int(rng.integers(10, 200)), "capacity_unit": "spaces" if t == "parking_lot" else "people",
         "open_share": float(rng.choice([0.3, 0.5, 1.0])), "opening_hours": SCHEDULES[i % len(SCHEDULES)],
         "open_hours_week": [105.5, 91.0, 16.0, 30.0][i % len(SCHEDULES)], "holidays": [],
         "booking_required": True, "photos": [], "is_active": True}
        for i, (t, c, p) in enumerate(zip(types, fcomm, points, strict=True))
    ]).scalars().all()
    now = datetime.now(UTC)
    starts = [now - timedelta(hours=int(h)) for h in rng.integers(1, 24 * 30, bookings)]
    session.execute(insert(Booking), [
        {"facility_id": int(rng.choice(facility_ids)), "community_code": "433101900001", "starts_at": s,
         "ends_at": s + timedelta(minutes=30), "quantity": 1, "exclusive": False, "status": "active"}
        for s in starts
    ])
    session.flush()
    session.execute(text("ANALYZE grid_cell; ANALYZE facility; ANALYZE facility_booking"))
    return {"cells": side * side, "facilities": facilities, "bookings": bookings}


def view_bbox(size_m: tuple[float, float] = VIEW_M) -> BBox:
    """A lon/lat box of ``size_m`` (metres, width × height) centred on the synthetic city."""
    (x, y), (w, h) = CENTRE_M, size_m
    minx, miny, maxx, maxy = from_metric(shapely.box(x - w / 2, y - h / 2, x + w / 2, y + h / 2), JISHOU_METRIC).bounds
    return (minx, miny, maxx, maxy)


def naive_sharing(cells: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, radius_m: float) -> pd.DataFrame:
    """The baseline: for each cell, the distance to every facility (metric CRS), then the sums."""
    out = []
    for code, geom in zip(cells["code"], cells.geometry, strict=True):
        near = facilities[facilities.distance(geom) <= radius_m]
        inside = near[near.within(geom) | near.touches(geom)]
        by_type = near.groupby("type")["open_capacity"].sum()
        out.append({
            "code": code, "facilities_inside": len(inside), "facilities_in_reach": len(near),
            "types_in_reach": near["type"].nunique(),
            "open_people": int(near.loc[near["capacity_unit"] == "people", "open_capacity"].sum()),
            "open_spaces": int(near.loc[near["capacity_unit"] == "spaces", "open_capacity"].sum()),
            **{f"open_{t.value}": int(by_type.get(t.value, 0)) for t in FacilityType},
            "open_hours_week": float(near["open_hours_week"].sum()), "bookings": int(near["bookings"].sum()),
        })
    return pd.DataFrame(out)


def run_sharing(session: Session, *, side: int = 100, facilities: int = 2_000, repeat: int = 1,
                baseline_cells: int | None = 1_000) -> list[Row]:
    """Build the city in ``session`` (caller rolls back), time ours and the baseline, check they agree.

    The baseline takes about 8 ms a cell (80 s for the whole city), so by default it runs on the first
    ``baseline_cells`` cells and its time is scaled to the city; ``baseline_cells=None`` runs it all."""
    build_city(session, side=side, facilities=facilities)
    layer = FacilitySharingLayer(metric_crs=JISHOU_METRIC, radius_m=DEFAULT_RADIUS_M, period_days=30)
    end = datetime.now(UTC)
    start = end - timedelta(days=layer.period_days)

    ours_s, ours = timed(lambda: layer.to_geodataframe(session), repeat)
    geojson_s, page = timed(lambda: layer.query(session), repeat)
    view = view_bbox()
    # A view is fast enough to repeat: 5 runs at least, so that one disturbed run does not make the figure.
    view_s, view_page = timed(lambda: layer.query(session, bbox=view), max(repeat, 5))

    conn = session.connection()
    cells = gpd.read_postgis(text("SELECT code, geom FROM grid_cell ORDER BY code"), conn, geom_col="geom")
    fac = gpd.read_postgis(text(
        "SELECT f.id, f.type, f.capacity_unit, f.open_capacity, f.open_hours_week, f.geom, "
        "coalesce((SELECT count(*) FROM facility_booking b WHERE b.facility_id = f.id AND b.status = 'active' "
        "AND b.starts_at < :end AND b.ends_at > :start), 0) AS bookings FROM facility f WHERE f.is_active"),
        conn, geom_col="geom", params={"start": start, "end": end})
    cells, fac = cells.to_crs(JISHOU_METRIC), fac.to_crs(JISHOU_METRIC)
    sample = cells if baseline_cells is None else cells.iloc[:baseline_cells]
    base_s, base = timed(lambda: naive_sharing(sample, fac, DEFAULT_RADIUS_M))
    scale = len(cells) / len(sample)
    baseline_full_s = base_s * scale

    notes = (f"{len(cells):,} cells × {facilities:,} facilities, r={DEFAULT_RADIUS_M:.0f} m; "
             f"baseline agrees on {_agreement(ours, base):.1%} of cells")
    if scale != 1:
        notes += f"; baseline timed on {len(sample):,} cells, ×{scale:.0f}"
    return [
        Row(f"facility_sharing layer → GeoDataFrame ({len(cells) // 1000}k cells)", ours_s, baseline_full_s, notes),
        Row("facility_sharing layer → GeoJSON (the map)", geojson_s, baseline_full_s,
            f"{page.returned:,} features, {len(page.geojson) / 1e6:.1f} MB"),
        Row("facility_sharing layer → GeoJSON, map-view bbox", view_s, geojson_s,
            f"{VIEW_M[0] / 1000:g} km × {VIEW_M[1] / 1000:g} km view: {view_page.returned:,} of {page.returned:,} "
            f"features; baseline: the whole city, same run"),
    ]


def _agreement(ours: pd.DataFrame, base: pd.DataFrame) -> float:
    merged = base.merge(ours[["code", "facilities_in_reach", "facilities_inside", "open_people", "open_spaces"]],
                        on="code", suffixes=("_b", ""))
    same = np.ones(len(merged), dtype=bool)
    for column in ("facilities_in_reach", "facilities_inside", "open_people", "open_spaces"):
        same &= (merged[column] == merged[f"{column}_b"]).to_numpy()
    return float(same.mean()) if len(merged) else 1.0


@benchmark("facility_sharing")
def bench_facility_sharing(ctx: BenchContext) -> list[Row]:
    """The sharing layer for 10,000 cells and 2,000 facilities, in one rolled-back transaction."""
    with ctx.sessions() as session:
        try:
            return run_sharing(session, repeat=ctx.repeat, baseline_cells=200 if ctx.quick else 1_000)
        finally:
            session.rollback()
