"""Mapbox Vector Tiles of any layer, made by PostGIS from the layer's own rows.

One statement per tile: the layer's select limited to the tile's lon/lat box (so its spatial index and any
push-down of ``select_for`` apply), each geometry projected to Web Mercator and clipped/quantised by
``ST_AsMVTGeom`` against ``ST_TileEnvelope``, and the rows encoded by ``ST_AsMVT`` into one MVT layer named
for the layer id. Nothing is assembled in Python: a tile is one round trip and the bytes PostgreSQL wrote.

A layer may draw something else at small scales (``Layer.tile_rows``): the density layer draws communities
or subdistricts there, since a z12 tile would otherwise hold thousands of 100 m cells that nobody can read
and that cost most of the tile's time to encode (PERFORMANCE.md: 190–400 ms at z12 against 23–46 ms at z14).

Property types: MVT values are strings, numbers and booleans; ``numeric`` columns would be written as
strings, so number fields are cast to ``float8`` and dates and times to ISO 8601 text (UTC).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal
from typing import cast as typed

import numpy as np
from sqlalchemy import BindParameter, Float, Integer, Select, Text, bindparam, cast, func, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors

from gis.errors import InvalidInput
from gis.layers.base import BBox, Field, Layer
from gis.spatial.crs import gcj02_offset_sql, gcj02_to_wgs84

MAX_ZOOM = 22  # past this a tile is smaller than a desk; nothing Wangge draws needs it
EXTENT = 4096  # tile coordinates per side: MVT's usual resolution
BUFFER = 64  # tile units drawn past each edge, so strokes do not break at tile seams
WEB_MERCATOR = 3857
_MERCATOR_LAT = 85.0511287798066
Datum = Literal["wgs84", "gcj02"]  # of the base map the tiles are drawn on


@dataclass(frozen=True)
class Tile:
    """An XYZ tile of the Web Mercator grid (y grows southwards, as in slippy maps and ``ST_TileEnvelope``).

    Raises InvalidInput naming the coordinate that cannot be a tile's (z outside 0–22, x or y outside
    0 … 2^z − 1)."""

    z: int
    x: int
    y: int

    def __post_init__(self) -> None:
        if not 0 <= self.z <= MAX_ZOOM:
            raise InvalidInput(f"z: zoom must be between 0 and {MAX_ZOOM}, got {self.z}")
        side = 1 << self.z
        for name, value in (("x", self.x), ("y", self.y)):
            if not 0 <= value < side:
                raise InvalidInput(f"{name}: at zoom {self.z} must be between 0 and {side - 1}, got {value}")

    def bounds(self) -> BBox:
        """The tile's lon/lat box (EPSG:4326): west, south, east, north."""
        side = 1 << self.z

        def lat(y: int) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / side))))

        return BBox(self.x / side * 360 - 180, lat(self.y + 1), (self.x + 1) / side * 360 - 180, lat(self.y))

    def buffered_bounds(self) -> BBox:
        """``bounds`` widened by the MVT buffer, so a feature drawn only in the buffer is still selected."""
        west, south, east, north = self.bounds()
        dx = (east - west) * BUFFER / EXTENT
        dy = (north - south) * BUFFER / EXTENT
        return BBox(max(west - dx, -180), max(south - dy, -_MERCATOR_LAT), min(east + dx, 180),
                    min(north + dy, _MERCATOR_LAT))


def tile_for(lon: float, lat: float, z: int) -> Tile:
    """The tile at zoom ``z`` that holds the point (lon, lat) in WGS84."""
    side = 1 << z
    lat = max(min(lat, _MERCATOR_LAT), -_MERCATOR_LAT)
    x = int((lon + 180) / 360 * side)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * side)
    return Tile(z, min(max(x, 0), side - 1), min(max(y, 0), side - 1))


def _property(column: Any, field: Field) -> Any:
    if field.type == "number":
        return cast(column, Float)
    if field.type == "datetime":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    if field.type == "date":
        return cast(column, Text)
    return column


def _wgs84_box_of_gcj02(box: BBox) -> BBox:
    """The WGS84 box whose GCJ-02 image covers ``box`` (a box of GCJ-02 coordinates)."""
    west, south, east, north = box
    lons, lats = gcj02_to_wgs84(np.array([west, east, west, east]), np.array([south, south, north, north]))
    return BBox(float(np.min(lons)), float(np.min(lats)), float(np.max(lons)), float(np.max(lats)))


_SENTINEL = BBox(-1.234567890123, -2.345678901234, 3.456789012345, 4.567890123456)  # no real tile's box
_CORNERS = ("tile_west", "tile_south", "tile_east", "tile_north")
TEMPLATE_SECONDS = 5.0
_MAX_TEMPLATES = 256


def _statement(layer: Layer, z: int, box: Any, envelope_args: tuple[Any, Any, Any], datum: Datum) -> Select[Any]:
    rows = layer.tile_rows(box, z).subquery("rows")
    envelope = func.ST_TileEnvelope(*envelope_args)
    fields = layer.fields
    placed: Any = rows.c.geom
    if datum == "gcj02":
        centre = func.ST_Centroid(rows.c.geom)
        dlon, dlat = gcj02_offset_sql(func.ST_X(centre), func.ST_Y(centre))
        placed = func.ST_Translate(rows.c.geom, dlon, dlat)
    geom = func.ST_AsMVTGeom(func.ST_Transform(placed, WEB_MERCATOR), envelope, EXTENT, BUFFER, True)
    features = (
        select(*(_property(rows.c[f.name], f).label(f.name) for f in fields), geom.label("geom"))
        .select_from(rows)
        .subquery("features")
    )
    mvt = func.ST_AsMVT(literal_column("features.*"), layer.id, EXTENT, "geom")
    return select(func.coalesce(mvt, b"")).select_from(features).where(features.c.geom.is_not(None))


def _template(layer: Layer, z: int, datum: Datum) -> Select[Any] | None:
    """The statement of every tile of ``layer`` at zoom ``z``, with the tile's box and coordinates as named
    parameters (``tile_west`` … ``tile_north``, ``tile_z``/``tile_x``/``tile_y``); None when the layer's rows do
    not take the box as plain values (it computed something from it), so that each tile is built afresh.

    Why: building a tile's SQLAlchemy statement costs 15–30 ms of Python here (measured by
    ``bench/bench_tiles.py``'s world), as much as PostgreSQL's work on it, and one server process builds one
    at a time. The layer builds its rows for a sentinel box; its four numbers are then swapped for parameters.
    """
    coords = (bindparam("tile_z", type_=Integer), bindparam("tile_x", type_=Integer),
              bindparam("tile_y", type_=Integer))
    stmt = _statement(layer, z, _SENTINEL, coords, datum)
    found: set[float] = set()
    corners = dict(zip(_SENTINEL, _CORNERS, strict=True))

    def swap(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter) and isinstance(element.value, float) and element.value in corners:
            found.add(element.value)
            return bindparam(corners[element.value], type_=Float)
        return None

    swapped = typed(Select[Any], visitors.replacement_traverse(stmt, {}, swap))
    return swapped if found == set(corners) else None


class _Templates:
    """Tile statements by the layer as configured (``repr``: filters, scope, radius), zoom and datum, each
    used for ``TEMPLATE_SECONDS`` at most: a layer's rows may hold the moment they were built (the last year
    up to now, the week's bookings), so no tile counts from a moment more than a few seconds old."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, int, str], tuple[float, Select[Any] | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, layer: Layer, z: int, datum: Datum) -> Select[Any] | None:
        key = (repr(layer), z, datum)
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] <= TEMPLATE_SECONDS:
                self._kept.move_to_end(key)
                return kept[1]
        made = _template(layer, z, datum)
        with self._lock:
            self._kept[key] = (now, made)
            self._kept.move_to_end(key)
            while len(self._kept) > _MAX_TEMPLATES:
                self._kept.popitem(last=False)
        return made


_templates = _Templates()


def _values(tile: Tile, datum: Datum) -> dict[str, Any]:
    box = tile.buffered_bounds()
    rows_box = box if datum == "wgs84" else _wgs84_box_of_gcj02(box)
    return {"tile_z": tile.z, "tile_x": tile.x, "tile_y": tile.y,
            **dict(zip(_CORNERS, (float(v) for v in rows_box), strict=True))}


def tile_statement(layer: Layer, tile: Tile, datum: Datum = "wgs84") -> Select[Any]:
    """One statement whose single value is the tile's MVT bytes (an empty bytea for an empty tile).

    ``datum="gcj02"``: the tile of a GCJ-02 map (AMap). Each feature is moved by the GCJ-02 offset at its
    centroid (``gcj02_offset_sql``, the formula of ``gis.spatial.crs``): the offset changes by about 2.5 m per
    km, so a 100 m cell is placed within 0.3 m and a 2 km community, drawn at zoom 12–13 where a pixel is
    17–34 m, within a few metres: less than a pixel at the zoom where each is drawn."""
    template = _templates.get(layer, tile.z, datum)
    if template is not None:
        return template.params(_values(tile, datum))
    box = tile.buffered_bounds()
    rows_box = box if datum == "wgs84" else _wgs84_box_of_gcj02(box)
    return _statement(layer, tile.z, rows_box, (tile.z, tile.x, tile.y), datum)


def render_tile(session: Session, layer: Layer, tile: Tile, datum: Datum = "wgs84") -> bytes:
    """The MVT bytes of ``layer`` in ``tile``: one layer named ``layer.id``, geometry in tile units."""
    # PostGIS declares its functions costly, so PostgreSQL would JIT-compile a tile's plan for longer than the
    # tile takes to make; off for the rest of this transaction only.
    session.execute(text("SET LOCAL jit = off"))
    template = _templates.get(layer, tile.z, datum)
    if template is None:
        return bytes(session.execute(tile_statement(layer, tile, datum)).scalar_one())
    return bytes(session.execute(template, _values(tile, datum)).scalar_one())
