"""Base maps: the one place that turns the ``basemap`` setting into what a page draws under its layers.

Choices (``WANGGE_BASEMAP``):

- ``none`` (default, for isolated networks): no outside tile at all; pages draw the city outline, compounds and
  boundaries as a light base from Wangge's own layers (``light_layers``).
- ``osm``: OpenStreetMap's standard tiles.
- ``tianditu_vector`` / ``tianditu_imagery``: 天地图 vector or imagery with its label layer; needs
  ``WANGGE_TIANDITU_KEY`` (a browser key). Tianditu's web-Mercator tiles are CGCS2000, i.e. WGS84 here.
- ``amap``: 高德 tiles, which are GCJ-02. Everything Wangge draws is WGS84, so the page puts every overlay, tile
  of its own, click and located point through GCJ-02 (``datum = "gcj02"``; see ``api/static/map.js``, whose
  conversion a browser test holds equal to ``gis.spatial.crs.wgs84_to_gcj02`` within 1 m).
- ``mbtiles``: a raster MBTiles file (``WANGGE_BASEMAP_MBTILES``) that Wangge serves itself at
  ``/basemap/{z}/{x}/{y}`` — a base map for a network that reaches nothing outside.

``basemap_for(settings)`` is what ``/map`` uses and what the worker page can use: a JSON-ready description.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gis.settings import Settings

TIANDITU = "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}" \
           "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
MBTILES_URL = "/basemap/{z}/{x}/{y}"
# The layers a page draws from Wangge itself when there is no base map: readable, not an empty grey sheet.
LIGHT_LAYERS = ("subdistricts", "communities", "compounds")


@dataclass(frozen=True)
class Basemap:
    """What a page needs to draw a base map: raster tile URL templates (Leaflet's ``{s}``, ``{z}``, ``{x}``,
    ``{y}``), attribution, and the datum its tiles are in (``gcj02`` shifts every overlay)."""

    kind: str
    title: str = "无底图"
    url: str | None = None
    overlays: list[dict[str, str]] = field(default_factory=list)
    attribution: str = ""
    subdomains: str = "abc"
    max_zoom: int = 18
    datum: str = "wgs84"
    light_layers: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def basemap_for(settings: Settings) -> Basemap:
    """The base map the settings choose. ValueError names the setting that is missing (a Tianditu key, an
    MBTiles file) rather than serving a map of error tiles."""
    kind = settings.basemap
    if kind == "none":
        return Basemap(kind, light_layers=LIGHT_LAYERS)
    if kind == "osm":
        return Basemap(kind, "OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                       attribution="© OpenStreetMap contributors", subdomains="", max_zoom=19)
    if kind in {"tianditu_vector", "tianditu_imagery"}:
        if settings.tianditu_key is None:
            raise ValueError(f"WANGGE_TIANDITU_KEY: basemap={kind} needs a Tianditu browser key")
        key = settings.tianditu_key.get_secret_value()
        base, labels = ("vec", "cva") if kind == "tianditu_vector" else ("img", "cia")
        return Basemap(kind, "天地图" + ("矢量" if base == "vec" else "影像"), TIANDITU.format(layer=base, key=key),
                       overlays=[{"url": TIANDITU.format(layer=labels, key=key), "title": "天地图注记"}],
                       attribution="© 天地图", subdomains="01234567", max_zoom=18)
    if kind == "amap":
        return Basemap(kind, "高德地图",
                       "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
                       attribution="© 高德地图", subdomains="1234", max_zoom=18, datum="gcj02")
    if kind == "mbtiles":
        if settings.basemap_mbtiles is None or not settings.basemap_mbtiles.is_file():
            raise ValueError("WANGGE_BASEMAP_MBTILES: basemap=mbtiles needs an existing .mbtiles file")
        return Basemap(kind, "本地底图", MBTILES_URL, subdomains="", max_zoom=19)
    raise ValueError(f"WANGGE_BASEMAP: unknown base map {kind!r}")
