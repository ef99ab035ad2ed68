"""Build the synthetic Jishou sample: administrative areas and residential compounds of urban Jishou.

Real community boundaries of Jishou are not public. This script draws plausible ones from real division
codes and real (approximate, AMap-geocoded) centre points, in ``source/`` (Vonng/adcode, CC BY 4.0). The
SHAPES ARE SYNTHETIC; README.md says exactly how they are made. The output is deterministic: running the
script twice gives byte-identical files, and tests/gis/seed/test_sample_data.py checks that the committed files
are what :func:`build` produces.

    .venv/bin/python data/boundaries/make_jishou.py            # rewrites the two GeoJSON files
    .venv/bin/python data/boundaries/make_jishou.py --check    # exit 1 if they are out of date
"""

from __future__ import annotations

import csv
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPoint, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from gis.spatial import crs

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
ADMIN_FILE = "jishou_admin.geojson"
COMPOUNDS_FILE = "jishou_compounds.geojson"

METRIC = crs.JISHOU_METRIC
DECIMALS = 7  # about 1 cm: enough for boundaries, and a stable text form for git
GRID = 10.0**-DECIMALS

PREFECTURE_CODE, PREFECTURE_NAME = "433100000000", "湘西土家族苗族自治州"
CITY_CODE = "433101000000"
SUBDISTRICT_CODES = ("433101002000", "433101004000", "433101005000", "433101007000", "433101008000")
URBAN_UR_CODES = frozenset({"111", "112"})  # NBS urban-rural class: 111 main urban area, 112 urban-rural fringe

# Named by the local press but missing from the 2016 code list. Codes in a local 9xx range that the NBS
# never assigns to 居委会 (they use 001–199 for communities, 200–399 for villages); centres invented
# (GCJ-02) at one and two thirds of the way from 竹园社区 (109.689282, 28.251828) to 科技园社区
# (109.71672, 28.272972), inside 乾州.
LOCAL_COMMUNITIES = (
    ("433101004901", "云峰社区", "433101004000", 109.698428, 28.258876),
    ("433101004902", "小溪桥社区", "433101004000", 109.707574, 28.265924),
)
PRESS_NAMED = ("云峰", "小溪桥", "光明", "胡麻井", "荣昌坪", "峒河", "大田", "五里牌")

# Region around the centres: each centre gets a disc of three quarters of the distance to its nearest
# neighbour, clamped to 600–900 m; the union is closed (buffer out, then in) to fill the gaps between discs.
RADIUS_SHARE_OF_NEAREST = 0.75
RADIUS_MIN_M, RADIUS_MAX_M = 600.0, 900.0
SMOOTHING_M = 250.0

# Compounds: rectangles 80–250 m a side, at least INSET_M inside their community and GAP_M from each other.
SIDE_MIN_M, SIDE_MAX_M = 80.0, 250.0
INSET_M, GAP_M = 15.0, 20.0
REAL_COMPOUND = ("世纪山水小区", "433101004901")  # a real name (press), with a synthetic shape and attributes
OLD_SUFFIXES = ("老街小区", "职工宿舍区", "老院子小区")
NEW_SUFFIXES = ("家园", "花园", "雅苑", "新村")
# Invented; any likeness to a real firm is coincidental.
PROPERTY_COMPANIES = (
    "吉首乾元物业服务有限公司",
    "湘西武陵物业管理有限公司",
    "吉首安居物业服务有限公司",
    "湘西锦程物业管理有限公司",
)


@dataclass(frozen=True)
class Division:
    """One row of the division-code list (or a local addition), centre in GCJ-02 as published."""

    code: str
    name: str
    parent_code: str
    lon_gcj02: float | None
    lat_gcj02: float | None
    ur_code: str


def read_divisions(source_dir: Path = SOURCE_DIR) -> dict[str, Division]:
    """The code list, keyed by 12-digit code (read as text: leading digits matter)."""
    divisions = {}
    with (source_dir / "433101.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            code, parent, name, lon, lat, ur_code = row[0], row[1], row[2], row[12], row[13], row[8]
            divisions[code] = Division(
                code, name, parent, float(lon) if lon else None, float(lat) if lat else None, ur_code
            )
    return divisions


def read_outline(source_dir: Path = SOURCE_DIR) -> Polygon:
    """The city outline as WGS84 (the source is GCJ-02, though any reader would label it EPSG:4326)."""
    with (source_dir / "433101.json").open(encoding="utf-8") as f:
        outline = shape(json.load(f))
    return crs.convert_geometry(outline, crs.InputDatum.gcj02)


def select_communities(divisions: dict[str, Division]) -> list[Division]:
    """Urban communities (ur_code 111/112) of the five urban subdistricts that have a centre, plus the
    press-named local additions, in code order."""
    chosen = [
        d
        for d in divisions.values()
        if d.parent_code in SUBDISTRICT_CODES and d.ur_code in URBAN_UR_CODES and d.lon_gcj02 is not None
    ]
    chosen += [Division(code, name, parent, lon, lat, "111") for code, name, parent, lon, lat in LOCAL_COMMUNITIES]
    return sorted(chosen, key=lambda d: d.code)


def community_cells(centres: np.ndarray, outline: BaseGeometry) -> list[Polygon]:
    """Voronoi cells around ``centres`` (metric, shape (n, 2)) clipped to the buffered region and ``outline``.

    A clipped cell can fall apart where a neighbour's larger disc reaches behind it; only the part holding
    the centre is kept, so every community is one polygon and no two overlap.
    """
    gaps = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    radii = np.clip(RADIUS_SHARE_OF_NEAREST * gaps.min(axis=1), RADIUS_MIN_M, RADIUS_MAX_M)
    points = shapely.points(centres)
    region = shapely.union_all(shapely.buffer(points, radii)).buffer(SMOOTHING_M).buffer(-SMOOTHING_M)
    region = region.intersection(outline)
    envelope = region.envelope.buffer(5_000)
    voronoi = shapely.voronoi_polygons(MultiPoint(centres), extend_to=envelope, ordered=True)
    cells = []
    for point, cell in zip(points, voronoi.geoms, strict=True):
        clipped = cell.intersection(region)
        parts = [p for p in getattr(clipped, "geoms", [clipped]) if isinstance(p, Polygon) and p.covers(point)]
        if len(parts) != 1:
            raise RuntimeError(f"the cell of {point} does not hold its centre once ({len(parts)} parts)")
        cells.append(parts[0])
    return cells


def place_compounds(community: Polygon, count: int, rng: random.Random, taken: list[Polygon]) -> list[Polygon]:
    """Up to ``count`` rotated rectangles inside ``community`` (metric), clear of ``taken`` and each other."""
    inner = community.buffer(-INSET_M)
    minx, miny, maxx, maxy = inner.bounds
    placed: list[Polygon] = []
    for _ in range(count):
        for attempt in range(600):
            shrink = 0.85 ** (attempt // 100)  # small communities get smaller compounds, never below 80 m
            width = max(SIDE_MIN_M, rng.uniform(SIDE_MIN_M, SIDE_MAX_M) * shrink)
            height = max(SIDE_MIN_M, rng.uniform(SIDE_MIN_M, SIDE_MAX_M * 0.8) * shrink)
            cx, cy = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            rect = box(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
            rect = affinity.rotate(rect, rng.uniform(-35.0, 35.0), origin="centroid")
            if rect.within(inner) and all(rect.distance(other) >= GAP_M for other in taken + placed):
                placed.append(rect)
                break
    return placed


def compound_properties(
    name: str, community: Division, subdistrict_name: str, rect: Polygon, old: bool, rng: random.Random
) -> dict[str, Any]:
    """Plausible attributes: old walk-ups (5–6 floors, no property company) or newer mid-rises."""
    floors = rng.randint(5, 6) if old else rng.randint(11, 18)
    coverage, flat_m2 = (0.35, 75.0) if old else (0.25, 105.0)
    return {
        "name": name,
        "community_code": community.code,
        "address": f"湖南省吉首市{subdistrict_name}{community.name}{name}",
        "households": int(round(rect.area * coverage * floors / flat_m2, -1)),
        "property_company": None if old else rng.choice(PROPERTY_COMPANIES),
        "built_year": rng.randint(1985, 2000) if old else rng.randint(2003, 2021),
    }


def build(source_dir: Path = SOURCE_DIR) -> dict[str, dict[str, Any]]:
    """Both FeatureCollections, keyed by file name, exactly as :func:`write` stores them."""
    divisions = read_divisions(source_dir)
    outline = _on_grid(read_outline(source_dir))
    communities = select_communities(divisions)
    centres_wgs84 = crs.gcj02_to_wgs84(
        np.array([c.lon_gcj02 for c in communities]), np.array([c.lat_gcj02 for c in communities])
    )
    centres = np.column_stack(crs.transformer(crs.WGS84, METRIC).transform(*centres_wgs84))
    cells_metric = community_cells(centres, crs.to_metric(outline, METRIC))
    cells = [_on_grid(crs.from_metric(cell, METRIC)) for cell in cells_metric]

    subdistrict_names = {code: divisions[code].name.removesuffix("办事处") for code in SUBDISTRICT_CODES}
    admin = [
        _feature(outline, code=PREFECTURE_CODE, name=PREFECTURE_NAME, level="prefecture", parent_code=None),
        _feature(outline, code=CITY_CODE, name=divisions[CITY_CODE].name, level="city", parent_code=PREFECTURE_CODE),
    ]
    for code in SUBDISTRICT_CODES:
        children = [cell for cell, c in zip(cells, communities, strict=True) if c.parent_code == code]
        union = shapely.union_all(children, grid_size=GRID)
        admin.append(
            _feature(union, code=code, name=subdistrict_names[code], level="subdistrict", parent_code=CITY_CODE)
        )
    for community, cell in zip(communities, cells, strict=True):
        admin.append(
            _feature(
                cell, code=community.code, name=community.name, level="community", parent_code=community.parent_code
            )
        )

    compounds = []
    for community, cell in zip(communities, cells_metric, strict=True):
        rng = random.Random(int(community.code))
        short = community.name.removesuffix("社区").removesuffix("村")
        subdistrict_name = subdistrict_names[community.parent_code]
        taken: list[Polygon] = []
        if community.code == REAL_COMPOUND[1]:
            taken = place_compounds(cell, 1, rng, taken)
            props = compound_properties(REAL_COMPOUND[0], community, subdistrict_name, taken[0], False, rng)
            compounds.append(_feature(_on_grid(crs.from_metric(taken[0], METRIC)), **props, synthetic=False))
        count = rng.randint(2, 4)
        olds = [True, False] + [rng.random() < 0.4 for _ in range(count - 2)]
        old_names, new_names = rng.sample(OLD_SUFFIXES, 3), rng.sample(NEW_SUFFIXES, 3)
        for old, rect in zip(olds, place_compounds(cell, count, rng, taken), strict=False):
            suffix = (old_names if old else new_names).pop(0)
            props = compound_properties(short + suffix, community, subdistrict_name, rect, old, rng)
            compounds.append(_feature(_on_grid(crs.from_metric(rect, METRIC)), **props, synthetic=True))

    return {ADMIN_FILE: _collection(admin), COMPOUNDS_FILE: _collection(compounds)}


def dumps(collection: dict[str, Any]) -> str:
    """GeoJSON text with one feature per line, so that a changed community shows as one changed line."""
    features = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"])
    return f'{{"type":"FeatureCollection","features":[\n{features}\n]}}\n'


def write(target_dir: Path = HERE, source_dir: Path = SOURCE_DIR) -> list[Path]:
    written = []
    for name, collection in build(source_dir).items():
        path = target_dir / name
        path.write_text(dumps(collection), encoding="utf-8")
        written.append(path)
    return written


def _on_grid(geom: BaseGeometry) -> BaseGeometry:
    """Snap to the 1e-7 degree grid of the output, keeping the geometry valid."""
    return shapely.set_precision(geom, GRID)


def _feature(geom: BaseGeometry, **properties: Any) -> dict[str, Any]:
    rounded = shapely.transform(geom, lambda xy: np.round(xy, DECIMALS))
    return {"type": "Feature", "properties": properties, "geometry": _plain(mapping(rounded))}


def _plain(value: Any) -> Any:
    """Tuples (from shapely's ``mapping``) to lists, so that built and re-read GeoJSON compare equal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = [name for name, fc in build().items() if (HERE / name).read_text(encoding="utf-8") != dumps(fc)]
        for name in stale:
            print(f"{name} is out of date: run .venv/bin/python data/boundaries/make_jishou.py", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
