"""Coordinate reference systems: EPSG constants, cached reprojection, and China's offset datums.

Two kinds of conversion live here, and they must not be confused:

* **EPSG reprojection** (pyproj): WGS84 / CGCS2000 longitude-latitude ⇄ the metric CRS in which areas and
  distances are measured (EPSG:4546, CGCS2000 3-degree Gauss-Kruger CM 111E, for Jishou).
* **Offset datums** (closed formulas, no EPSG code): GCJ-02 (the "Mars" coordinates that AMap, Tencent,
  WeChat and DataV publish) and BD-09 (Baidu), each a deliberate non-linear offset of WGS84 by a few hundred
  metres. Data from those sources is often mislabelled EPSG:4326; it must pass through
  :func:`convert_geometry` (or the point functions) before it meets a WGS84 layer.

CGCS2000 (EPSG:4490) is treated as equal to WGS84 (EPSG:4326): the two differ by centimetres, well below
the accuracy of anything a grid office draws.

All point functions take longitude first, accept Python scalars or array-likes (broadcast against each
other), and return a pair of floats for scalar input and a pair of ``float64`` arrays otherwise.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from gis.errors import InvalidInput

if TYPE_CHECKING:
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

WGS84 = 4326
CGCS2000 = 4490
JISHOU_METRIC = 4546
"""CGCS2000 / 3-degree Gauss-Kruger CM 111E: Jishou (about 109.7°E) sits 1.3° off the central meridian,
where the scale error is about 2e-4 (20 cm per km, 0.04 % of areas), fine for areas and buffers."""

# Datums that we store as EPSG:4326 without any transformation.
_SAME_AS_WGS84 = frozenset({WGS84, CGCS2000})

# GCJ-02 constants as in the widely copied original code: the Krasovsky 1940 ellipsoid.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0

# The usual rectangle outside which GCJ-02 is the identity (as in googollee/eviltransform).
CHINA_BOUNDS = (72.004, 0.8293, 137.8347, 55.8271)  # min lon, min lat, max lon, max lat

# The inverse offsets are solved by fixed-point iteration to this accuracy, in degrees (about 0.1 mm).
INVERSE_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30

Coordinate = float | npt.NDArray[np.float64]
GeometryT = TypeVar("GeometryT", bound="BaseGeometry | npt.NDArray[np.object_]")
_MeasurableT = TypeVar("_MeasurableT", bound="gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry")


class InputDatum(enum.StrEnum):
    """The datum of incoming longitude/latitude: what a form, an upload or an import says it is in."""

    wgs84 = "wgs84"  # GPS, OpenStreetMap, Tianditu (CGCS2000 is treated as the same)
    gcj02 = "gcj02"  # AMap (高德), Tencent, WeChat location, Aliyun DataV
    bd09 = "bd09"  # Baidu

    @property
    def label_zh(self) -> str:
        return {
            "wgs84": "WGS84 / CGCS2000（GPS、天地图）",
            "gcj02": "GCJ-02（高德、腾讯、微信）",
            "bd09": "BD-09（百度）",
        }[self.value]


# --------------------------------------------------------------------------------------------------
# EPSG reprojection


def normalise_epsg(epsg: int) -> int:
    """Map CGCS2000 geographic (4490) to 4326, since we store both as 4326 unchanged."""
    return WGS84 if epsg in _SAME_AS_WGS84 else epsg


def transformer(src: int, dst: int) -> Transformer:
    """A cached pyproj ``Transformer`` from EPSG ``src`` to EPSG ``dst`` with longitude/easting first.

    Building a Transformer costs milliseconds (it searches the PROJ database), so callers in loops
    should come through here. 4490 is replaced by 4326 on both sides.
    """
    return _cached_transformer(normalise_epsg(src), normalise_epsg(dst))


@lru_cache(maxsize=64)
def _cached_transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def reproject(geom: GeometryT, src: int, dst: int) -> GeometryT:
    """Reproject a shapely geometry (or an array of them) from EPSG ``src`` to EPSG ``dst``.

    Z values, when present, are carried through unchanged.
    """
    if normalise_epsg(src) == normalise_epsg(dst):
        return geom
    return _transform_xy(geom, transformer(src, dst).transform)


def to_metric(obj: _MeasurableT, epsg: int = JISHOU_METRIC) -> _MeasurableT:
    """Project to the metric CRS ``epsg`` (metres) for areas, lengths and buffers.

    GeoDataFrames and GeoSeries must carry a CRS (a missing CRS is an error, not a guess); a bare shapely
    geometry is taken to be EPSG:4326 longitude/latitude. Pass ``Settings().metric_crs`` to follow the
    deployment's configuration.

    Raises
    ------
    InvalidInput
        If a GeoDataFrame/GeoSeries has no CRS.
    """
    if hasattr(obj, "to_crs"):
        if obj.crs is None:
            raise InvalidInput("the data has no CRS; set it first (e.g. .set_crs(4326)) before measuring it")
        return cast(_MeasurableT, obj.to_crs(epsg))
    return reproject(obj, WGS84, epsg)


def from_metric(geom: GeometryT, epsg: int = JISHOU_METRIC) -> GeometryT:
    """Back from the metric CRS ``epsg`` to EPSG:4326 longitude/latitude (the inverse of :func:`to_metric`)."""
    return reproject(geom, epsg, WGS84)


# --------------------------------------------------------------------------------------------------
# GCJ-02 and BD-09


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> bool | npt.NDArray[np.bool_]:
    """True where GCJ-02 applies its offset: inside the customary rectangle around China (incl. borders)."""
    x, y, scalar = _arrays(lon, lat)
    min_lon, min_lat, max_lon, max_lat = CHINA_BOUNDS
    inside = (x >= min_lon) & (x <= max_lon) & (y >= min_lat) & (y <= max_lat)
    return bool(inside) if scalar else inside


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """WGS84 → GCJ-02. Points outside China (:data:`CHINA_BOUNDS`) are returned unchanged."""
    x, y, scalar = _arrays(lon, lat)
    return _out(*_wgs84_to_gcj02(x, y), scalar)


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """GCJ-02 → WGS84, the exact inverse of :func:`wgs84_to_gcj02`.

    The common one-step formula (subtract the offset computed at the GCJ-02 point) is wrong by up to
    about two metres; here the forward transform is iterated until it reproduces the input to within
    :data:`INVERSE_TOLERANCE_DEG` (usually three iterations).
    """
    x, y, scalar = _arrays(lon, lat)
    return _out(*_invert(_wgs84_to_gcj02, x, y), scalar)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """GCJ-02 → BD-09. Baidu applies its offset everywhere, so there is no out-of-China test here."""
    x, y, scalar = _arrays(lon, lat)
    return _out(*_gcj02_to_bd09(x, y), scalar)


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """BD-09 → GCJ-02, the exact inverse of :func:`gcj02_to_bd09` (the published closed form, which is off
    by up to a few centimetres, refined by iteration like :func:`gcj02_to_wgs84`)."""
    x, y, scalar = _arrays(lon, lat)
    return _out(*_invert(_gcj02_to_bd09, x, y, start=_bd09_to_gcj02_approx), scalar)


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """WGS84 → BD-09 (through GCJ-02)."""
    x, y, scalar = _arrays(lon, lat)
    return _out(*_gcj02_to_bd09(*_wgs84_to_gcj02(x, y)), scalar)


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[Coordinate, Coordinate]:
    """BD-09 → WGS84 (through GCJ-02), exact in both steps."""
    x, y, scalar = _arrays(lon, lat)
    gx, gy = _invert(_gcj02_to_bd09, x, y, start=_bd09_to_gcj02_approx)
    return _out(*_invert(_wgs84_to_gcj02, gx, gy), scalar)


_Xy = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
_TO_WGS84: dict[InputDatum, Callable[[npt.ArrayLike, npt.ArrayLike], tuple[Coordinate, Coordinate]]] = {
    InputDatum.gcj02: gcj02_to_wgs84,
    InputDatum.bd09: bd09_to_wgs84,
}
_FROM_WGS84: dict[InputDatum, Callable[[npt.ArrayLike, npt.ArrayLike], tuple[Coordinate, Coordinate]]] = {
    InputDatum.gcj02: wgs84_to_gcj02,
    InputDatum.bd09: wgs84_to_bd09,
}


def convert(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    source: InputDatum | str,
    target: InputDatum | str = InputDatum.wgs84,
) -> tuple[Coordinate, Coordinate]:
    """Convert longitude/latitude between any two of the datums in :class:`InputDatum`.

    Raises
    ------
    InvalidInput
        If ``source`` or ``target`` is not one of ``wgs84``, ``gcj02``, ``bd09``.
    """
    src, dst = _datum(source), _datum(target)
    if src == dst:
        x, y, scalar = _arrays(lon, lat)
        return _out(x, y, scalar)
    if src in _TO_WGS84:
        lon, lat = _TO_WGS84[src](lon, lat)
    if dst in _FROM_WGS84:
        lon, lat = _FROM_WGS84[dst](lon, lat)
    x, y, scalar = _arrays(lon, lat)
    return _out(x, y, scalar)


def convert_geometry(
    geom: GeometryT,
    source: InputDatum | str,
    target: InputDatum | str = InputDatum.wgs84,
) -> GeometryT:
    """Convert every vertex of a shapely geometry (or array of geometries) from ``source`` to ``target``.

    All coordinates go through one vectorised call, so a 10,000-vertex outline costs about as much as a
    few points. The geometry's structure (rings, holes, parts) is kept; Z values are carried through.
    The offsets vary slowly (about 1 m per km), so straight edges stay straight to well under a
    millimetre at the scale of a community.

    Raises
    ------
    InvalidInput
        If ``source`` or ``target`` is not a known datum.
    """
    src, dst = _datum(source), _datum(target)
    if src == dst:
        return geom

    def along(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Xy:
        cx, cy = convert(x, y, src, dst)
        return np.asarray(cx), np.asarray(cy)

    return _transform_xy(geom, along)


# --------------------------------------------------------------------------------------------------
# Internals


def _datum(value: InputDatum | str) -> InputDatum:
    try:
        return InputDatum(str(value).lower())
    except ValueError:
        known = ", ".join(d.value for d in InputDatum)
        raise InvalidInput(f"unknown coordinate datum {value!r}; use one of {known}") from None


def _arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], bool]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    scalar = x.ndim == 0 and y.ndim == 0
    x, y = np.broadcast_arrays(x, y)
    return x, y, scalar


def _out(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], scalar: bool) -> tuple[Coordinate, Coordinate]:
    if scalar:
        return float(x), float(y)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def _transform_xy(geom: GeometryT, fn: Callable[..., tuple[npt.ArrayLike, npt.ArrayLike]]) -> GeometryT:
    """Apply ``fn(x, y) -> (x, y)`` to every vertex, leaving Z untouched."""

    def xy_only(
        x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], z: npt.NDArray[np.float64] | None = None
    ) -> tuple[npt.ArrayLike, ...]:
        nx, ny = fn(x, y)
        return (nx, ny) if z is None else (nx, ny, z)

    return shapely.transform(geom, xy_only, include_z=None, interleaved=False)  # type: ignore[no-any-return]


def _gcj02_offset(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Xy:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 (x, y); zero outside China."""
    u, v = x - 105.0, y - 35.0
    shared = (20.0 * np.sin(6.0 * np.pi * u) + 20.0 * np.sin(2.0 * np.pi * u)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * u + 3.0 * v + 0.2 * v * v + 0.1 * u * v + 0.2 * np.sqrt(np.abs(u)) + shared
    dlat += (20.0 * np.sin(np.pi * v) + 40.0 * np.sin(np.pi * v / 3.0)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(np.pi * v / 12.0) + 320.0 * np.sin(np.pi * v / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + u + 2.0 * v + 0.1 * u * u + 0.1 * u * v + 0.1 * np.sqrt(np.abs(u)) + shared
    dlon += (20.0 * np.sin(np.pi * u) + 40.0 * np.sin(np.pi * u / 3.0)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(np.pi * u / 12.0) + 300.0 * np.sin(np.pi * u / 30.0)) * 2.0 / 3.0

    rad_lat = np.radians(y)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    inside = in_china(x, y)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _wgs84_to_gcj02(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Xy:
    dlon, dlat = _gcj02_offset(x, y)
    return x + dlon, y + dlat


def _gcj02_to_bd09(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Xy:
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_approx(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> _Xy:
    """Baidu's published closed-form inverse, a close first guess for :func:`_invert`."""
    u, v = x - 0.0065, y - 0.006
    z = np.hypot(u, v) - 0.00002 * np.sin(v * _BD_X_PI)
    theta = np.arctan2(v, u) - 0.000003 * np.cos(u * _BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(
    forward: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], _Xy],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    start: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], _Xy] | None = None,
) -> _Xy:
    """Solve ``forward(w) = (x, y)`` for ``w`` by fixed-point iteration ``w -= forward(w) - target``.

    It converges because both offsets vary slowly (their Jacobian is within 1e-3 of the identity), so each
    step gains about three decimal digits. NaN inputs stay NaN. Near the edge of :data:`CHINA_BOUNDS`,
    where GCJ-02 jumps, the loop stops after a fixed number of steps with the best estimate.
    """
    wx, wy = (x.copy(), y.copy()) if start is None else start(x, y)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(wx, wy)
        ex, ey = fx - x, fy - y
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.abs(np.concatenate([ex.ravel(), ey.ravel()])), initial=0.0)
        if worst < INVERSE_TOLERANCE_DEG:
            break
        wx, wy = wx - ex, wy - ey
    return wx, wy


_METRES_PER_DEGREE_AT_EQUATOR = 111_320.0


def degrees_for_metres(metres: float, lat: float) -> float:
    """A little more than ``metres`` expressed in degrees of longitude at latitude ``lat`` (the shorter
    degree, so the result is generous in latitude too): the margin for an index prefilter in EPSG:4326
    (``ST_DWithin`` on geometry) that an exact distance in metres then narrows."""
    return metres / (_METRES_PER_DEGREE_AT_EQUATOR * max(math.cos(math.radians(lat)), 0.01)) * 1.01


def gcj02_offset_sql(x: Any, y: Any) -> tuple[Any, Any]:
    """SQL expressions of :func:`_gcj02_offset` (dlon, dlat in degrees at WGS84 lon ``x``, lat ``y``): the same
    formula, for PostGIS to shift what it draws onto GCJ-02 base maps (vector tiles for AMap). Kept beside the
    numpy form; ``tests/gis/spatial/test_crs.py`` holds the two equal."""
    from sqlalchemy import and_, case, func

    pi = math.pi
    u, v = x - 105.0, y - 35.0
    shared = (20.0 * func.sin(6.0 * pi * u) + 20.0 * func.sin(2.0 * pi * u)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * u + 3.0 * v + 0.2 * v * v + 0.1 * u * v + 0.2 * func.sqrt(func.abs(u)) + shared
            + (20.0 * func.sin(pi * v) + 40.0 * func.sin(pi * v / 3.0)) * 2.0 / 3.0
            + (160.0 * func.sin(pi * v / 12.0) + 320.0 * func.sin(pi * v / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + u + 2.0 * v + 0.1 * u * u + 0.1 * u * v + 0.1 * func.sqrt(func.abs(u)) + shared
            + (20.0 * func.sin(pi * u) + 40.0 * func.sin(pi * u / 3.0)) * 2.0 / 3.0
            + (150.0 * func.sin(pi * u / 12.0) + 300.0 * func.sin(pi * u / 30.0)) * 2.0 / 3.0)
    rad_lat = func.radians(y)
    magic = 1.0 - _KRASOVSKY_EE * func.power(func.sin(rad_lat), 2)
    sqrt_magic = func.sqrt(magic)
    dlat = dlat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (_KRASOVSKY_A / sqrt_magic * func.cos(rad_lat) * pi)
    min_lon, min_lat, max_lon, max_lat = CHINA_BOUNDS
    inside = and_(x >= min_lon, x <= max_lon, y >= min_lat, y <= max_lat)
    return case((inside, dlon), else_=0.0), case((inside, dlat), else_=0.0)
