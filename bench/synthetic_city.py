"""Synthetic cities of any size around Jishou, for benchmarks (and tests that need many communities).

A city is one county-level city, ``subdistricts`` subdistricts and ``communities`` communities that
tile a square exactly: the communities are the Voronoi cells of seeded random points, and each
subdistrict is the union of the communities nearest to one of its own seeded points. Codes follow the
12-digit statistical scheme under a county code that no real county uses (433199, in 湘西州), so a
synthetic city can never be mistaken for real data.

Everything is deterministic for a given seed. Geometry is built in the metric CRS and returned in
EPSG:4326, the way boundaries are stored.

    python -m bench.synthetic_city --communities 100 --cells 10000 --out city.geojson
    python -m bench.synthetic_city --communities 100 --cells 60000 --big-areas long --out city.gpkg \
        --grid-out cells.gpkg

With ``--grid-out`` the unit grid is built too (in memory, by ``gis.areas.big_areas``, as ``wangge grid build``
cuts it) and written beside: 100 communities of 60,000 cells are ~600 cells each on average but the largest
Voronoi communities need well over 999, so such a city builds only with a big-area choice (``long``: longer
cell numbers; ``fit``: the smallest cell size at which every community fits); ``refuse`` names them.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import insert
from sqlalchemy.orm import Session

from gis.areas.big_areas import BigAreas, GridPlan, build_for_all
from gis.areas.grid import GridSpec, TooManyCells
from gis.models import AdminArea

JISHOU = (109.7, 28.3)  # lon, lat of the city centre
METRIC_CRS = 4546  # CGCS2000 / 3-degree Gauss-Kruger CM 111E
COUNTY = "433199"  # not a real county code
# Boundary pieces add cells beyond area / cell²; about this many for ~100 communities of ~100 cells.
CELLS_PER_SQUARE = 1.1


def side_for_cells(cells: int, cell_size: float = 100.0) -> float:
    """The side (m) of a square city that a grid of ``cell_size`` cuts into about ``cells`` cells."""
    return math.sqrt(cells / CELLS_PER_SQUARE) * cell_size


def synthetic_city(
    communities: int = 100,
    *,
    subdistricts: int | None = None,
    side_m: float = 10_000.0,
    seed: int = 2024,
    center: tuple[float, float] = JISHOU,
    metric_crs: int = METRIC_CRS,
) -> gpd.GeoDataFrame:
    """Admin areas of a square city of ``side_m`` metres centred on ``center`` (lon, lat).

    Returns a GeoDataFrame in EPSG:4326 with ``code``, ``name``, ``level`` (city, subdistrict,
    community), ``parent_code`` and ``geometry`` (MultiPolygon), one row per area, city first.
    ``subdistricts`` defaults to about one per 12 communities (at most 999 communities each).
    """
    if communities < 1:
        raise ValueError("a city needs at least one community")
    subdistricts = subdistricts or max(1, round(communities / 12))
    if not 1 <= subdistricts <= min(communities, 999) or communities > 999 * subdistricts:
        raise ValueError(f"{subdistricts} subdistricts cannot hold {communities} communities")
    rng = np.random.default_rng(seed)
    cx, cy = shapely.get_coordinates(
        gpd.GeoSeries([shapely.Point(center)], crs=4326).to_crs(metric_crs).values
    )[0]
    square = box(cx - side_m / 2, cy - side_m / 2, cx + side_m / 2, cy + side_m / 2)

    seeds = rng.uniform((square.bounds[0], square.bounds[1]), (square.bounds[2], square.bounds[3]), (communities, 2))
    cells = _voronoi(seeds, square)
    centres = rng.uniform((square.bounds[0], square.bounds[1]), (square.bounds[2], square.bounds[3]),
                          (subdistricts, 2))
    owner = np.argmin(((seeds[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    owner = _renumber_north_west_first(owner, centres)

    city_code = f"{COUNTY}000000"
    rows = [{"code": city_code, "name": "合成市", "level": "city", "parent_code": None, "geometry": square}]
    for s in range(subdistricts):
        members = np.flatnonzero(owner == s)
        sub_code = f"{COUNTY}{s + 1:03d}000"
        rows.append({"code": sub_code, "name": f"合成街道{s + 1}", "level": "subdistrict",
                     "parent_code": city_code, "geometry": shapely.coverage_union_all(cells[members])})
        order = members[np.lexsort((seeds[members, 0], -seeds[members, 1]))]
        for n, i in enumerate(order, start=1):
            rows.append({"code": f"{COUNTY}{s + 1:03d}{n:03d}", "name": f"合成街道{s + 1}第{n}社区",
                         "level": "community", "parent_code": sub_code, "geometry": cells[i]})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=metric_crs)
    frame = frame[[len(shapely.get_parts(g)) > 0 for g in frame.geometry]]  # empty subdistricts: none drawn
    frame = frame.set_geometry([_multi(g) for g in frame.geometry], crs=metric_crs)
    return frame.to_crs(4326).reset_index(drop=True)


def city_grid(
    city: gpd.GeoDataFrame, big_areas: BigAreas = BigAreas.refuse, *, cell_size: float = 100.0,
    metric_crs: int = METRIC_CRS,
) -> tuple[gpd.GeoDataFrame, GridPlan]:
    """The unit grid of ``city``'s communities (``code``, ``community_code``, ``area_m2``, geometry in
    EPSG:4326) and the plan the build chose, under the big-area choice ``big_areas``.

    Raises ``gis.areas.grid.TooManyCells`` under ``refuse`` when a community needs more than 999 cells."""
    communities = city[city["level"] == "community"].to_crs(metric_crs)
    built, plan = build_for_all(list(zip(communities["code"], communities.geometry.values, strict=True)),
                                GridSpec(cell_size), big_areas)
    codes, owners, geoms, areas = built.arrays()
    cells = gpd.GeoDataFrame({"code": codes, "community_code": owners, "area_m2": areas}, geometry=geoms,
                             crs=metric_crs)
    return cells.to_crs(4326), plan


def incident_points(
    n: int,
    city: gpd.GeoDataFrame,
    *,
    clusters: int = 12,
    spread_m: float = 250.0,
    background: float = 0.2,
    seed: int = 7,
    metric_crs: int = METRIC_CRS,
) -> gpd.GeoDataFrame:
    """``n`` random incident locations inside ``city`` (any admin frame in 4326): most in ``clusters``
    hot spots of about ``spread_m`` metres, a ``background`` share spread evenly. EPSG:4326 points with
    an ``id`` and the ``cluster`` they came from (-1 for the background)."""
    rng = np.random.default_rng(seed)
    outline = shapely.union_all(city.to_crs(metric_crs).geometry.values)
    minx, miny, maxx, maxy = outline.bounds
    hot = rng.uniform((minx, miny), (maxx, maxy), (clusters, 2))
    which = np.where(rng.random(n) < background, -1, rng.integers(0, clusters, n))
    xy = np.where(
        (which < 0)[:, None],
        rng.uniform((minx, miny), (maxx, maxy), (n, 2)),
        hot[np.maximum(which, 0)] + rng.normal(0, spread_m, (n, 2)),
    )
    xy = np.clip(xy, (minx, miny), (maxx, maxy))
    shapely.prepare(outline)
    outside = ~shapely.contains_xy(outline, xy[:, 0], xy[:, 1])
    while outside.any():  # a hot spot near a ragged edge: redraw those points anywhere in the city
        xy[outside] = rng.uniform((minx, miny), (maxx, maxy), (int(outside.sum()), 2))
        outside = ~shapely.contains_xy(outline, xy[:, 0], xy[:, 1])
    points = shapely.points(xy)
    frame = gpd.GeoDataFrame({"id": np.arange(1, n + 1), "cluster": which}, geometry=points, crs=metric_crs)
    return frame.to_crs(4326)


def write_city(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path``; the format follows the suffix (.geojson, .gpkg, .shp)."""
    path = Path(path)
    frame.to_file(path)
    return path


def load_city(session: Session, frame: gpd.GeoDataFrame) -> int:
    """Insert the areas of ``frame`` (4326) as current admin areas, in one multi-row insert; flushes.

    For benchmarks on a throwaway database: no validation (see ``gis.areas.boundaries`` for the real import).
    """
    rows = [
        {"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code,
         "geom": from_shape(_multi(r.geometry), srid=4326), "source": "bench.synthetic_city"}
        for r in frame.itertuples()
    ]
    session.execute(insert(AdminArea), rows)
    session.flush()
    return len(rows)


def _voronoi(seeds: np.ndarray, square: shapely.Polygon) -> np.ndarray:
    """The Voronoi cell of each seed (same order), clipped to the square; they tile it exactly."""
    regions = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=square))
    tree = shapely.STRtree(regions)
    seed_idx, region_idx = tree.query(shapely.points(seeds), predicate="within")
    ordered = np.empty(len(seeds), dtype=object)
    ordered[seed_idx] = regions[region_idx]
    return shapely.intersection(ordered, square)


def _renumber_north_west_first(owner: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Number subdistricts by their centre, north to south then west to east, as codes usually run."""
    order = np.lexsort((centres[:, 0], -centres[:, 1]))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[owner]


def _multi(geom: shapely.Geometry) -> MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return MultiPolygon(parts)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_city", description="Write a synthetic city.")
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--cells", type=int, default=10_000, help="about this many 100 m cells")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, required=True, help=".geojson, .gpkg or .shp")
    parser.add_argument("--grid-out", type=Path, help="also build the unit grid and write its cells here")
    parser.add_argument("--big-areas", choices=[b.value for b in BigAreas], default=BigAreas.refuse.value,
                        help="with --grid-out: what a community needing more than 999 cells gets "
                             "(gis/areas/big_areas.py)")
    args = parser.parse_args()
    city = synthetic_city(args.communities, side_m=side_for_cells(args.cells), seed=args.seed)
    print(f"{len(city)} areas → {write_city(city, args.out)}")
    if args.grid_out:
        try:
            cells, plan = city_grid(city, BigAreas(args.big_areas))
        except TooManyCells as exc:
            parser.exit(2, f"grid: {exc}\n")
        chosen = plan.describe() or "every community fits the national 15-digit code"
        print(f"{len(cells):,} cells of {plan.spec.cell_size:g} m ({chosen}) → {write_city(cells, args.grid_out)}")


if __name__ == "__main__":
    main()
