"""Checks on polygons before they are stored: repair, plausibility, containment, overlaps and gaps.

Each check returns :class:`~gis.errors.Problem` findings tied to a feature label (its code and name), so a
caller can gather every finding of a file and report them together before writing anything. Input
geometries are lon/lat (EPSG:4326) for :func:`repair_polygonal` and :func:`check_lonlat`, and already in
the metric CRS for the area checks (see :class:`Metric`), so areas are square metres, never degrees².
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.errors import Problem
from gis.settings import Settings
from gis.spatial.crs import WGS84, reproject, transformer

POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Region:
    """Where the data is expected to lie, in lon/lat degrees."""

    name: str
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lon0: float, lat0: float, lon1: float, lat1: float) -> bool:
        return self.min_lon <= lon0 and lon1 <= self.max_lon and self.min_lat <= lat0 and lat1 <= self.max_lat

    @classmethod
    def of(cls, settings: Settings) -> Region:
        """The region a deployment expects its data in (``WANGGE_REGION``, ``WANGGE_REGION_NAME``)."""
        return cls(settings.region_name, *settings.region_box)

    def describe(self) -> str:
        return f"{self.name}: {self.min_lon:g}, {self.min_lat:g} – {self.max_lon:g}, {self.max_lat:g}"


CHINA = Region("China", 73.0, 3.0, 136.0, 54.0)

# Geometries equal to within this many degrees (about 0.1 mm) are the same boundary.
SAME_GEOMETRY_DEG = 1e-9


@dataclass(frozen=True)
class Tolerance:
    """How much area a check lets pass: the larger of ``ratio`` × a reference area and ``min_m2``.

    The reference is the child's area for containment, the smaller sibling's for overlaps and the smallest
    sibling's for gaps, so that the tolerance scales from compounds to prefectures.
    """

    ratio: float = 0.01
    min_m2: float = 50.0

    def allowed(self, reference_m2: float) -> float:
        return max(self.min_m2, self.ratio * reference_m2)


DEFAULT_TOLERANCE = Tolerance()


@dataclass(frozen=True)
class Metric:
    """Measures in the metric CRS (an EPSG code, see ``Settings.metric_crs``) and points back to lon/lat."""

    epsg: int

    def project(self, geoms: Sequence[BaseGeometry]) -> list[BaseGeometry]:
        """Lon/lat geometries into the metric CRS, in one vectorised call."""
        return list(reproject(np.asarray(geoms, dtype=object), WGS84, self.epsg))

    def where(self, geom: BaseGeometry) -> str:
        """A point of ``geom`` (metric) as 'lon, lat' for a person to look up on a map."""
        point = geom.representative_point()
        lon, lat = transformer(self.epsg, WGS84).transform(point.x, point.y)
        return f"{lon:.5f}, {lat:.5f}"


def same_geometry(a: BaseGeometry, b: BaseGeometry) -> bool:
    """Equal boundaries (lon/lat), whatever the ring start, orientation or order of parts."""
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=SAME_GEOMETRY_DEG))


def repair_polygonal(geom: BaseGeometry | None, label: str) -> tuple[MultiPolygon | None, list[Problem]]:
    """The geometry as a valid MultiPolygon, with what was wrong; None when it cannot be used.

    Empty and missing geometries and non-polygons are errors. Invalid polygons (a bow-tie, a ring that
    touches itself) are repaired with ``make_valid``, keeping only the polygonal parts, and reported as a
    warning. A GeometryCollection of polygons counts as polygonal.
    """
    if geom is None or geom.is_empty:
        return None, [Problem("error", label, "has no geometry (empty or null)",
                              "draw its boundary, or remove the feature from the file")]
    parts = _polygonal_parts(geom)
    if parts is None:
        return None, [Problem("error", label, f"is a {geom.geom_type}, not a polygon",
                              "give boundaries as closed polygons (not lines or points)")]
    multi = MultiPolygon(parts)
    if multi.is_valid:
        return multi, []
    reason = shapely.is_valid_reason(multi)
    repaired = _polygonal_parts(shapely.make_valid(multi)) or []
    if not repaired:
        return None, [Problem("error", label, f"is invalid ({reason}) and nothing is left once repaired",
                              "redraw the boundary")]
    fixed = MultiPolygon(repaired)
    return fixed, [Problem("warning", label, f"was invalid ({reason}); repaired into {len(repaired)} valid "
                           "polygon(s)", "check the repaired shape; redraw it if it is not what was meant")]


def _polygonal_parts(geom: BaseGeometry) -> list[Polygon] | None:
    """The polygons making up ``geom``, dropping lines/points a repair leaves; None if it has no area."""
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty else []
    if isinstance(geom, MultiPolygon):
        return [p for p in geom.geoms if not p.is_empty]
    if geom.geom_type == "GeometryCollection":
        parts = [p for g in geom.geoms for p in (_polygonal_parts(g) or [])]
        return parts or None
    return None


def check_lonlat(geom: BaseGeometry, label: str, region: Region = CHINA) -> Problem | None:
    """An error when a lon/lat geometry is not plausibly in ``region``: swapped axes, projected metres
    labelled as degrees, or the wrong place altogether."""
    lon0, lat0, lon1, lat1 = geom.bounds
    where = f"bounds {lon0:.4f}, {lat0:.4f} – {lon1:.4f}, {lat1:.4f}"
    if not all(math.isfinite(v) for v in (lon0, lat0, lon1, lat1)):
        return Problem("error", label, "has coordinates that cannot be turned into lon/lat",
                       "check the file's CRS (.prj, or --crs EPSG:xxxx)")
    latitude_too_big = max(abs(lat0), abs(lat1)) > 90 and max(abs(lon0), abs(lon1)) <= 180
    if region.contains(lat0, lon0, lat1, lon1) or latitude_too_big:
        return Problem("error", label, f"is not plausible lon/lat ({where}): lon/lat look swapped; the x "
                       "values read as latitudes and the y values as longitudes",
                       "write x = longitude, y = latitude (GeoJSON is [lon, lat]), then import again")
    if max(abs(lon0), abs(lon1)) > 180 or max(abs(lat0), abs(lat1)) > 90:
        return Problem("error", label, f"is not lon/lat at all ({where}): projected coordinates labelled as "
                       "degrees?", "give the file's real CRS with --crs EPSG:xxxx (e.g. EPSG:4546)")
    if not region.contains(lon0, lat0, lon1, lat1):
        return Problem("error", label, f"lies outside the region this deployment expects ({where}; WANGGE_REGION "
                       f"is {region.describe()})",
                       "if the file is right and the city is new, run `wangge city init FILE --name NAME` and put "
                       "its lines in .env (or set WANGGE_REGION); otherwise check the file's CRS (.prj or --crs) "
                       "and datum (--datum), and that it is the right file")
    return None


def check_inside(
    child: BaseGeometry,
    parent: BaseGeometry,
    tolerance: Tolerance,
    metric: Metric,
    *,
    child_label: str,
    parent_label: str,
) -> Problem | None:
    """An error when more of ``child`` than the tolerance lies outside ``parent`` (both metric)."""
    outside = child.difference(parent)
    if outside.area <= tolerance.allowed(child.area):
        return None
    share = 100 * outside.area / child.area if child.area else 100.0
    return Problem(
        "error", child_label,
        f"{outside.area:,.0f} m² ({share:.1f}%) lies outside its parent {parent_label}, around "
        f"{metric.where(outside)}",
        "redraw the boundary inside its parent's, or correct its parent code",
    )


def check_overlaps(
    geoms: Sequence[BaseGeometry],
    labels: Sequence[str],
    tolerance: Tolerance,
    metric: Metric,
    *,
    concerns: Callable[[int, int], bool] = lambda i, j: True,
) -> list[Problem]:
    """Errors for each pair of areas (metric) that share more than the tolerance of the smaller one.

    ``concerns(i, j)`` picks the pairs worth reporting (e.g. those touching the file being imported).
    """
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    problems = []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j or not concerns(i, j):
            continue
        shared = geoms[i].intersection(geoms[j])
        if shared.area > tolerance.allowed(min(geoms[i].area, geoms[j].area)):
            problems.append(Problem(
                "error", labels[i],
                f"overlaps {labels[j]} by {shared.area:,.0f} m², around {metric.where(shared)}",
                "redraw the shared edge so that neighbouring areas meet without overlapping",
            ))
    return problems


def find_gaps(
    parent: BaseGeometry,
    children: Sequence[BaseGeometry],
    tolerance: Tolerance,
    metric: Metric,
    *,
    parent_label: str,
) -> list[Problem]:
    """Warnings for each piece of ``parent`` (metric) that none of ``children`` covers, beyond tolerance
    relative to the smallest child."""
    if not children:
        return []
    allowed = tolerance.allowed(min(c.area for c in children))
    uncovered = parent.difference(shapely.union_all(children))
    pieces = _polygonal_parts(uncovered) or []
    return [
        Problem("warning", parent_label,
                f"{piece.area:,.0f} m² is covered by none of its {len(children)} sub-area(s), around "
                f"{metric.where(piece)}",
                "extend a neighbouring sub-area over it, or add the missing one")
        for piece in pieces
        if piece.area > allowed
    ]
