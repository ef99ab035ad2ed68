"""Boundary import of a ~1,000-polygon file: ours (read, validate everything, write in one transaction)
against the naive way (geopandas read, make_valid, a per-feature containment loop and a sibling overlay
for the same checks, then ``to_postgis``), both on the same file in the same run."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import delete, text

from bench import BenchContext, Row, benchmark, timed
from bench.synthetic_city import side_for_cells, synthetic_city, write_city
from gis.areas import boundaries
from gis.models import AdminArea


@benchmark("boundaries")
def boundary_import(ctx: BenchContext) -> list[Row]:
    communities = 180 if ctx.quick else 924
    city = synthetic_city(communities, side_m=side_for_cells(communities * 40), seed=7)
    # The file carries its prefecture, as a real one would: every other parent is then in the file.
    prefecture = city.iloc[[0]].assign(code="433199000000"[:4] + "00000000", name="合成州", level="prefecture",
                                       parent_code=None)
    city.loc[0, "parent_code"] = prefecture.iloc[0]["code"]
    city = gpd.GeoDataFrame(pd.concat([prefecture, city], ignore_index=True), crs=city.crs)
    path = write_city(city, ctx.workdir / "city.gpkg")
    polygons = len(city)

    def clear() -> None:
        with ctx.sessions.begin() as session:
            session.execute(delete(AdminArea))
            session.execute(text("DROP TABLE IF EXISTS admin_area_naive"))

    def ours() -> boundaries.ImportSummary:
        with ctx.sessions.begin() as session:
            return boundaries.import_boundaries(session, path, settings=ctx.settings)

    ours_s, summary = timed(ours, ctx.repeat, setup=clear)
    reimport_s, again = timed(ours, ctx.repeat)
    naive_s, _ = timed(lambda: naive_import(ctx, path), ctx.repeat, setup=clear)
    clear()
    return [
        Row(f"boundary import, {polygons:,} polygons (GPKG)", ours_s, naive_s,
            f"validated: containment, sibling overlaps and gaps in m²; {summary}"),
        Row(f"boundary re-import, same file, {polygons:,} polygons", reimport_s, None,
            f"no-op detection ({again}); no baseline (to_postgis can only append or replace)"),
    ]


def naive_import(ctx: BenchContext, path: object) -> int:
    """What a first version would do with geopandas alone: the same checks, one feature at a time."""
    frame = gpd.read_file(path).to_crs(ctx.settings.metric_crs)
    frame["geometry"] = frame.geometry.make_valid()
    by_code = frame.set_index("code")
    outside = 0
    for row in frame.itertuples():  # child inside parent, feature by feature
        if row.parent_code in by_code.index:
            parent = by_code.loc[row.parent_code].geometry
            outside += int(row.geometry.difference(parent).area > 0.01 * row.geometry.area)
    overlaps = 0
    for _, siblings in frame.groupby("parent_code"):  # sibling overlaps with a self-overlay
        if len(siblings) > 1:
            pairs = gpd.overlay(siblings[["code", "geometry"]], siblings[["code", "geometry"]], how="intersection",
                                keep_geom_type=True)
            pairs = pairs[pairs["code_1"] < pairs["code_2"]]
            overlaps += int((pairs.area > 1.0).sum())
    gaps = shapely.area(shapely.difference(
        shapely.union_all(frame[frame["level"] == "city"].geometry.values),
        shapely.union_all(frame[frame["level"] == "community"].geometry.values),
    ))
    out = frame.to_crs(4326)
    out["valid_from"] = pd.Timestamp.now().date()
    out.to_postgis("admin_area_naive", ctx.engine, if_exists="replace", index=False)
    return outside + overlaps + int(gaps > 0)
