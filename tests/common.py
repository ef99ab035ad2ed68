"""Canonical geometries, a small Jishou world, and helpers that write them as GIS files into tmp_path.

The geometries sit around Jishou (lon 109.70–109.76, lat 28.25–28.33), so files made from them pass the
"plausible lon/lat in China" check. A *row* is a plain dict of attributes plus ``geometry`` (lon/lat).
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

Row = dict[str, Any]

# -- canonical geometries (lon/lat, about 1 km across) ------------------------------------------------

X0, Y0, SIZE = 109.70, 28.25, 0.01


def square(x0: float = X0, y0: float = Y0, size: float = SIZE) -> Polygon:
    return box(x0, y0, x0 + size, y0 + size)


def polygon_with_hole(x0: float = X0, y0: float = Y0, size: float = SIZE) -> Polygon:
    inner = size / 4
    return Polygon(square(x0, y0, size).exterior.coords,
                   [square(x0 + inner, y0 + inner, size / 2).exterior.coords])


def bow_tie(x0: float = X0, y0: float = Y0, size: float = SIZE) -> Polygon:
    """Self-intersecting: the ring crosses itself in the middle. Invalid, repairable into two triangles."""
    x1, y1 = x0 + size, y0 + size
    return Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])


def multipolygon(x0: float = X0, y0: float = Y0, size: float = SIZE) -> MultiPolygon:
    return MultiPolygon([square(x0, y0, size / 2), square(x0 + size / 2, y0 + size / 2, size / 2)])


SQUARE = square()
POLYGON_WITH_HOLE = polygon_with_hole()
BOW_TIE = bow_tie()
MULTIPOLYGON = multipolygon()


# -- a small world: prefecture → city → 2 subdistricts → 4 communities of squares -------------------

PREFECTURE, CITY = "433100000000", "433101000000"
QIANZHOU, ZHENXI = "433101004000", "433101005000"
COMMUNITIES = {"433101004001": "乾州社区", "433101004002": "万溶江社区",
               "433101005001": "镇溪社区", "433101005002": "光明社区"}


def area(code: str, name: str, level: str, parent: str | None, geometry: BaseGeometry) -> Row:
    return {"code": code, "name": name, "level": level, "parent_code": parent, "geometry": geometry}


def jishou_world() -> list[Row]:
    """Eight areas that tile exactly: each level covers its parent with no gap and no overlap."""
    rows = [
        area(PREFECTURE, "湘西土家族苗族自治州", "prefecture", None, box(109.70, 28.25, 109.76, 28.33)),
        area(CITY, "吉首市", "city", PREFECTURE, box(109.70, 28.25, 109.76, 28.33)),
        area(QIANZHOU, "乾州街道", "subdistrict", CITY, box(109.70, 28.25, 109.73, 28.33)),
        area(ZHENXI, "镇溪街道", "subdistrict", CITY, box(109.73, 28.25, 109.76, 28.33)),
    ]
    for (code, name), (x0, y0) in zip(COMMUNITIES.items(), [(109.70, 28.25), (109.70, 28.29),
                                                           (109.73, 28.25), (109.73, 28.29)], strict=True):
        rows.append(area(code, name, "community", code[:9] + "000", box(x0, y0, x0 + 0.03, y0 + 0.04)))
    return rows


def replace(rows: Iterable[Row], code: str, /, **changes: Any) -> list[Row]:
    """A copy of ``rows`` with the row of ``code`` changed (``code=`` among the changes renames it)."""
    return [{**row, **changes} if row["code"] == code else dict(row) for row in rows]


def compound(name: str, community: str | None, geometry: BaseGeometry, **extra: Any) -> Row:
    return {"name": name, "community_code": community, "address": extra.get("address"),
            "households": extra.get("households"), "property_company": extra.get("property_company"),
            "built_year": extra.get("built_year"), "geometry": geometry}


# -- writing files ---------------------------------------------------------------------------------

def frame(rows: Sequence[Row], crs: int | str | None = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(list(rows), geometry="geometry", crs=crs)


def write_geojson(folder: Path, rows: Sequence[Row], name: str = "areas.geojson", *, crs: int = 4326) -> Path:
    """A GeoJSON of ``rows`` (lon/lat), reprojected to ``crs`` first when that is not 4326."""
    path = folder / name
    data = frame(rows)
    pyogrio.write_dataframe(data if crs == 4326 else data.to_crs(crs), path, driver="GeoJSON")
    return path


def write_raw_geojson(folder: Path, features: Sequence[dict[str, Any]], name: str = "raw.geojson") -> Path:
    """A GeoJSON written by hand, for what libraries refuse to write (null, swapped or odd geometries).

    Each feature is ``{"properties": {...}, "geometry": <shapely geometry, GeoJSON dict or None>}``.
    """
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": f["properties"],
         "geometry": mapping(f["geometry"]) if isinstance(f["geometry"], BaseGeometry) else f["geometry"]}
        for f in features
    ]}
    path = folder / name
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def write_shapefile(
    folder: Path,
    rows: Sequence[Row],
    name: str = "areas",
    *,
    crs: int = 4326,
    encoding: str = "UTF-8",
    cpg: bool = True,
    prj: bool = True,
) -> Path:
    """A shapefile of ``rows`` in ``crs`` with DBF text in ``encoding``; ``cpg=False`` drops the .cpg
    (as many Chinese files come), ``prj=False`` drops the .prj (no CRS)."""
    path = folder / f"{name}.shp"
    data = frame(rows)
    with warnings.catch_warnings():  # DBF names are cut to 10 characters, as in real shapefiles
        warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
        pyogrio.write_dataframe(data if crs == 4326 else data.to_crs(crs), path, driver="ESRI Shapefile",
                                encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def zip_shapefile(shp: Path, name: str | None = None) -> Path:
    """The shapefile's parts in a .zip beside it."""
    target = shp.with_name(name or f"{shp.stem}.zip")
    with zipfile.ZipFile(target, "w") as archive:
        for part in sorted(shp.parent.glob(f"{shp.stem}.*")):
            if part.suffix.lower() != ".zip":
                archive.write(part, part.name)
    return target


def write_gpkg(folder: Path, layers: dict[str, Sequence[Row]], name: str = "areas.gpkg") -> Path:
    path = folder / name
    for layer, rows in layers.items():
        pyogrio.write_dataframe(frame(rows), path, layer=layer, driver="GPKG")
    return path


def write_kml(folder: Path, rows: Sequence[Row], name: str = "areas.kml") -> Path:
    """A KML as Google Earth writes it: the name in <name>, other attributes as ExtendedData."""
    path = folder / name
    data = frame(rows)
    pyogrio.write_dataframe(data, path, driver="LIBKML")
    return path
