"""The one bounding-box type: a lon/lat box in EPSG:4326, parsed and checked in one place.

REST (``bbox=``), OGC API, exports, the CLI's ``--bbox`` and the layers all take this type; each adapter turns
the ``InvalidInput`` raised here into its own error shape (a 422 for REST, a 400 for OGC, a CLI message).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from gis.errors import InvalidInput


class BBox(NamedTuple):
    """minLon, minLat, maxLon, maxLat in EPSG:4326 (a plain 4-tuple wherever one is expected)."""

    minx: float
    miny: float
    maxx: float
    maxy: float


def check_bbox(bbox: tuple[float, float, float, float] | None, field: str = "bbox") -> BBox | None:
    """``bbox`` as a :class:`BBox`, or InvalidInput naming ``field`` and the fix: finite numbers, lon in
    [-180, 180], lat in [-90, 90], min not above max (boxes across the antimeridian are not supported)."""
    if bbox is None:
        return None
    if len(bbox) != 4 or not all(isinstance(n, int | float) and math.isfinite(n) for n in bbox):
        raise InvalidInput(f"{field}: give four numbers, all finite: minLon,minLat,maxLon,maxLat")
    box = BBox(*(float(n) for n in bbox))
    if not (-180 <= box.minx <= 180 and -180 <= box.maxx <= 180 and -90 <= box.miny <= 90 and -90 <= box.maxy <= 90):
        raise InvalidInput(f"{field}: longitudes must lie in [-180, 180] and latitudes in [-90, 90] (EPSG:4326)")
    if box.miny > box.maxy:
        raise InvalidInput(f"{field}: min must not exceed max: minLon,minLat,maxLon,maxLat (southern edge first)")
    if box.minx > box.maxx:
        raise InvalidInput(f"{field}: min must not exceed max: minLon,minLat,maxLon,maxLat "
                           "(boxes across the antimeridian are not supported)")
    return box


def parse_bbox(text: str | None, field: str = "bbox") -> BBox | None:
    """``"minLon,minLat,maxLon,maxLat"`` (as sent in a URL or on a command line) as a checked :class:`BBox`."""
    if text is None:
        return None
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4:
        raise InvalidInput(f"{field}: {text!r} is not four numbers minLon,minLat,maxLon,maxLat, "
                           "e.g. 109.70,28.25,109.76,28.33")
    return check_bbox((numbers[0], numbers[1], numbers[2], numbers[3]), field)
