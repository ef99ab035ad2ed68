"""OGC API – Features, Part 2 (Coordinate Reference Systems by Reference) for ``/ogc``: the CRSs a client may
ask for with ``crs`` and give its ``bbox`` in with ``bbox-crs``.

Offered: CRS84 (the default and storage CRS, lon/lat), EPSG:4326 and EPSG:4490 (CGCS2000) in their
authorities' lat/lon order, the deployment's metric CRS (``WANGGE_METRIC_CRS``), EPSG:4546 (CGCS2000 3°
Gauss–Krüger CM 111°E, the Jishou planners' grid) and EPSG:3857. As Part 2 requires, coordinates follow the
axis order of the CRS's definition: north first where the authority says so (lat/lon; the Gauss–Krüger
zones' northing/easting), which GDAL's OAPIF driver reads back the right way round. The answer names its CRS
in the ``Content-Crs`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pyproj import CRS, Transformer

from gis.errors import WanggeError
from gis.settings import Settings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
CONFORMANCE_CRS = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"
ALWAYS_OFFERED = (4326, 4490, 4546, 3857)
METRIC_DECIMALS = 3  # millimetres


class BadParameter(WanggeError):
    """A query parameter the API does not define, or a value it cannot use (a ``crs`` or ``bbox-crs`` not
    offered among them): 400, as OGC API requires."""


@dataclass(frozen=True)
class OutputCrs:
    uri: str
    srid: int  # what PostGIS transforms to
    flip_axes: bool  # north first in the authority's definition
    decimals: int  # of the coordinates written


def offered(settings: Settings) -> list[str]:
    """The CRS URIs every collection offers, CRS84 first (the storage CRS)."""
    codes = dict.fromkeys([4326, 4490, settings.metric_crs, *ALWAYS_OFFERED])
    return [CRS84, *(f"{EPSG_URI}{code}" for code in codes)]


def output_crs(raw: str | None, settings: Settings, *, parameter: str = "crs") -> OutputCrs:
    """The CRS named by ``raw`` (a URI of :func:`offered`, or an ``EPSG:n`` / ``[EPSG:n]`` short form)."""
    if raw is None or raw.strip() in (CRS84, "[OGC:CRS84]", "OGC:CRS84"):
        return OutputCrs(CRS84, 4326, False, 7)
    text = raw.strip().removeprefix("[").removesuffix("]")
    code = text.removeprefix(EPSG_URI) if text.startswith(EPSG_URI) else text.upper().removeprefix("EPSG:")
    uris = offered(settings)
    if not code.isdigit() or f"{EPSG_URI}{int(code)}" not in uris:
        raise BadParameter(f"{parameter}={raw!r}: not offered; use one of {', '.join(uris)}")
    epsg = int(code)
    crs = _crs(epsg)
    return OutputCrs(f"{EPSG_URI}{epsg}", epsg, _north_first(crs), 7 if crs.is_geographic else METRIC_DECIMALS)


def bbox_to_crs84(box: tuple[float, float, float, float], raw_crs: str | None,
                  settings: Settings) -> tuple[float, float, float, float]:
    """A ``bbox`` given in ``bbox-crs`` (its axis order) as lon/lat, the smallest box holding it."""
    chosen = output_crs(raw_crs, settings, parameter="bbox-crs")
    if chosen.uri == CRS84:
        return box
    return _to_crs84(chosen.srid).transform_bounds(*box, densify_pts=21)


@cache
def _crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


@cache
def _to_crs84(epsg: int) -> Transformer:
    # Authority-compliant on the way in (the bbox is in the CRS's own axis order), lon/lat on the way out.
    return Transformer.from_crs(_crs(epsg), CRS.from_user_input("OGC:CRS84"))


def _north_first(crs: CRS) -> bool:
    return crs.axis_info[0].direction.lower() in ("north", "south")
