"""Unit grid builds: ours (gis.areas.grid + gis.areas.grid_store) against a naive geopandas build of the same grid.

The baseline does what a first version would: a GeoDataFrame of the whole lattice over the city,
``geopandas.overlay`` with the communities, then the same sliver rule (prefer whole pieces, longest
shared border) by comparing every sliver with every piece of its community, the same numbering by
``apply`` over rows, and ``to_postgis`` for the write. Both builds must agree on the number of cells
and their total area, or the row says so.
"""

from __future__ import annotations

import math

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry import box
from sqlalchemy import delete, text

from bench import BenchContext, Row, benchmark, timed
from bench.synthetic_city import load_city, side_for_cells, synthetic_city
from gis.areas import grid, grid_store
from gis.models import AdminArea, GridCell
from gis.settings import PROJECT_ROOT

JISHOU_SAMPLE = PROJECT_ROOT / "data" / "boundaries" / "jishou_admin.geojson"


@benchmark("grid")
def grid_builds(ctx: BenchContext) -> list[Row]:
    """The Jishou sample (when present) and a synthetic city of ~10,000 cells (~2,000 with --quick).

    Admin areas and cells are committed to the throwaway database while measuring, and removed at the
    end so that the next benchmark starts from an empty store.
    """
    rows: list[Row] = []
    try:
        if JISHOU_SAMPLE.exists():
            rows += _grid_rows(ctx, "Jishou sample", gpd.read_file(JISHOU_SAMPLE))
        else:
            rows.append(Row("grid build, Jishou sample", None, None, f"skipped: {JISHOU_SAMPLE.name} is absent"))
        target = 2_000 if ctx.quick else 10_000
        city = synthetic_city(25 if ctx.quick else 100, side_m=side_for_cells(target), seed=2024)
        rows += _grid_rows(ctx, f"synthetic ~{target:,} cells", city)
    finally:
        _reset(ctx)
    return rows


def _grid_rows(ctx: BenchContext, label: str, areas: gpd.GeoDataFrame) -> list[Row]:
    spec = grid.GridSpec(cell_size=ctx.settings.cell_size_m, sliver_ratio=ctx.settings.sliver_ratio)
    metric = ctx.settings.metric_crs
    communities = areas[areas["level"] == "community"].to_crs(metric)
    pairs = list(zip(communities["code"], communities.geometry.values, strict=True))

    ours_s, ours = timed(lambda: grid.build_grid(pairs, spec), ctx.repeat)
    naive_s, naive = timed(lambda: naive_build(communities[["code", "geometry"]], spec), ctx.repeat)
    agree = _agreement(ours, naive)
    size = f"{len(pairs)} communities, {ours.cells:,} cells"
    rows = [Row(f"grid build, {label} (pure)", ours_s, naive_s, f"{size}; {agree}")]

    _reset(ctx)
    with ctx.sessions.begin() as session:
        load_city(session, areas)

    def ours_db() -> grid_store.BuildReport:
        with ctx.sessions.begin() as session:
            return grid_store.build_grid(session, settings=ctx.settings)

    def naive_db() -> gpd.GeoDataFrame:
        stored = gpd.read_postgis(
            text("SELECT code, ST_Transform(geom, :srid) AS geom FROM admin_area "
                 "WHERE level = 'community' AND valid_to IS NULL ORDER BY code").bindparams(srid=metric),
            ctx.engine, geom_col="geom", crs=metric,
        ).rename_geometry("geometry")
        cells = naive_build(stored, spec)
        naive_check(stored, cells)
        cells.to_crs(4326).to_postgis("grid_cell_naive", ctx.engine, if_exists="replace", index=False)
        return cells

    def clear_cells() -> None:
        with ctx.sessions.begin() as session:
            session.execute(delete(GridCell))

    db_s, report = timed(ours_db, ctx.repeat, setup=clear_cells)
    naive_db_s, _ = timed(naive_db, ctx.repeat)
    rows.append(Row(f"grid build + DB write, {label}", db_s, naive_db_s,
                    f"{report.written.inserted:,} rows, coverage checked (ours in SQL after the write)"))
    rebuild_s, again = timed(ours_db, ctx.repeat)
    rows.append(Row(f"grid rebuild, same settings, {label}", rebuild_s, None,
                    f"upsert by code: {again.written.unchanged:,} unchanged, {again.written.inserted} new; "
                    "no baseline (to_postgis can only replace)"))
    return rows


def _reset(ctx: BenchContext) -> None:
    with ctx.sessions.begin() as session:
        session.execute(delete(GridCell))
        session.execute(delete(AdminArea))
        session.execute(text("DROP TABLE IF EXISTS grid_cell_naive"))


def _agreement(ours: grid.GridBuild, naive: gpd.GeoDataFrame) -> str:
    """Whether both builds gave the same codes with the same areas (an independent check of ours)."""
    codes, _, _, areas = ours.arrays()
    theirs = dict(zip(naive["code"], naive["area_m2"], strict=True))
    differ = [c for c, a in zip(codes, areas, strict=True) if not math.isclose(a, theirs.get(c, -1.0), rel_tol=1e-6)]
    if len(codes) == len(theirs) and not differ:
        return "same codes and areas as the baseline"
    return f"DIFFERS from the baseline: {len(theirs):,} cells, {len(differ)} codes differ"


# --------------------------------------------------------------------------------------------------
# The baseline


def naive_build(communities: gpd.GeoDataFrame, spec: grid.GridSpec) -> gpd.GeoDataFrame:
    """The same grid the slow way: full lattice + ``geopandas.overlay``, slivers and codes row by row.

    ``communities`` has ``code`` and ``geometry`` in the metric CRS. Returns ``code``,
    ``community_code``, ``area_m2`` and the cell geometries (metric).
    """
    size = spec.cell_size
    minx, miny, maxx, maxy = communities.total_bounds
    squares = [
        {"row": r, "col": c, "geometry": box(c * size, r * size, (c + 1) * size, (r + 1) * size)}
        for r in range(math.floor(miny / size), math.ceil(maxy / size))
        for c in range(math.floor(minx / size), math.ceil(maxx / size))
    ]
    lattice = gpd.GeoDataFrame(squares, geometry="geometry", crs=communities.crs)
    pieces = gpd.overlay(lattice, communities, how="intersection", keep_geom_type=True)
    pieces = pieces.explode(index_parts=False).reset_index(drop=True)
    pieces["area"] = pieces.geometry.area
    pieces = pieces[pieces["area"] > 0].reset_index(drop=True)

    cells = []
    for code, group in pieces.groupby("code", sort=True):
        cells += _naive_community(code, group.reset_index(drop=True), spec)
    return gpd.GeoDataFrame(cells, geometry="geometry", crs=communities.crs)


def naive_check(communities: gpd.GeoDataFrame, cells: gpd.GeoDataFrame) -> None:
    """The coverage check the geopandas way: dissolve the cells per community, compare the areas."""
    unions = cells.dissolve(by="community_code")
    outlines = communities.set_index("code").loc[unions.index]
    gaps = outlines.geometry.difference(unions.geometry, align=True).area
    spills = unions.geometry.difference(outlines.geometry, align=True).area
    overlaps = cells.groupby("community_code")["area_m2"].sum() - unions.geometry.area
    limit = grid.COVERAGE_TOLERANCE * outlines.geometry.area
    if (gaps > limit).any() or (spills > limit).any() or (overlaps > grid.OVERLAP_TOLERANCE_M2).any():
        raise AssertionError("the naive grid does not tile its communities")


def _naive_community(code: str, pieces: pd.DataFrame, spec: grid.GridSpec) -> list[dict[str, object]]:
    geoms = list(pieces.geometry)
    areas = list(pieces["area"])
    sliver = [a < spec.sliver_area for a in areas]
    eps = 1e-6 * spec.cell_size
    parent = list(range(len(geoms)))
    for i in range(len(geoms)):
        if not sliver[i]:
            continue
        best = None
        for j in range(len(geoms)):
            if i == j or geoms[i].distance(geoms[j]) > eps:
                continue
            shared = geoms[i].boundary.intersection(geoms[j].buffer(eps, quad_segs=1)).length
            if shared <= 1e-3 * spec.cell_size:
                continue
            key = (not sliver[j], shared, areas[j], -j)
            if best is None or key > best[0]:
                best = (key, j)
        if best is not None:
            parent[i] = best[1]

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    # Chains of slivers end at a whole piece; slivers pointing at each other form a cycle: break it at
    # its largest piece so that every piece finds a root.
    for i in range(len(geoms)):
        seen = []
        j = i
        while parent[j] != j and j not in seen:
            seen.append(j)
            j = parent[j]
        if parent[j] != j:
            cycle = seen[seen.index(j):]
            root = max(cycle, key=lambda k: (not sliver[k], areas[k], -k))
            parent[root] = root
    members: dict[int, list[int]] = {}
    for i in range(len(geoms)):
        members.setdefault(find(i), []).append(i)
    out = []
    for _, group in members.items():
        root = max(group, key=lambda k: (not sliver[k], areas[k], -k))
        if sliver[root] and sum(areas[k] for k in group) < grid.SPECK_SHARE * spec.cell_area:
            continue
        geom = shapely.union_all([geoms[k] for k in group])
        out.append({"row": pieces.loc[root, "row"], "col": pieces.loc[root, "col"], "geometry": geom})
    frame = pd.DataFrame(out)
    frame["rep"] = frame["geometry"].apply(lambda g: g.representative_point())
    frame["x"] = frame["rep"].apply(lambda p: p.x)
    frame["y"] = frame["rep"].apply(lambda p: p.y)
    frame = frame.sort_values(["row", "col", "y", "x"], ascending=[False, True, False, True])
    frame["code"] = [f"{code}{n:03d}" for n in range(1, len(frame) + 1)]
    frame["community_code"] = code
    frame["area_m2"] = frame["geometry"].apply(lambda g: g.area)
    return frame[["code", "community_code", "area_m2", "geometry"]].to_dict("records")
