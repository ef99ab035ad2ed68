"""Every vendored browser file a page may link, with its version named once.

The files live in ``api/static/vendor/<package>-<version>/`` (``api/static/vendor/README.md`` says where each
came from and how to upgrade it). Pages and routes link them through these constants, so an upgrade is a new
folder plus one changed version here, and nothing else spells a version. Leaflet itself is declared in
``maps.assets`` (Folium's link names come with it) and is listed in ``ALL`` too.

A plugin's script must be linked after Leaflet's: each one extends the global ``L``.
"""

from __future__ import annotations

from dataclasses import dataclass

from maps.assets import LEAFLET_CSS as LEAFLET_CSS  # re-exported: one import for every vendored file
from maps.assets import LEAFLET_JS as LEAFLET_JS
from maps.assets import Asset


@dataclass(frozen=True)
class Package:
    """One npm package as vendored: its folder under the static root is ``vendor/<name>-<version>``."""

    name: str
    version: str

    @property
    def folder(self) -> str:
        return f"vendor/{self.name}-{self.version}"

    def asset(self, link_name: str, file: str) -> Asset:
        """The file ``file`` of this package, under the link name a Folium page would give it."""
        return Asset(link_name, f"{self.folder}/{file}")


SWAGGER_UI = Package("swagger-ui-dist", "5.35.0")
# Redoc 2.x: 3.x's standalone bundle is an ES module (FastAPI's <script src> cannot load it) that also sends
# telemetry to Redocly; see the README.
REDOC = Package("redoc", "2.5.4")
VECTORGRID = Package("leaflet.vectorgrid", "1.3.0")
MARKERCLUSTER = Package("leaflet.markercluster", "1.5.3")
HEAT = Package("leaflet.heat", "0.2.0")
FULLSCREEN = Package("leaflet.fullscreen", "5.3.3")
LOCATECONTROL = Package("leaflet.locatecontrol", "0.90.1")
ECHARTS = Package("echarts", "6.1.0")
HTMX = Package("htmx.org", "2.0.11")
IDB_KEYVAL = Package("idb-keyval", "6.3.0")

SWAGGER_UI_JS = SWAGGER_UI.asset("swagger_ui", "swagger-ui-bundle.js")
SWAGGER_UI_CSS = SWAGGER_UI.asset("swagger_ui_css", "swagger-ui.css")
SWAGGER_UI_FAVICON = SWAGGER_UI.asset("swagger_ui_favicon", "favicon-32x32.png")
REDOC_JS = REDOC.asset("redoc", "redoc.standalone.js")

# Draws Mapbox vector tiles (the /tiles endpoints) on a canvas; the bundled build carries pbf and
# vector-tile, so it needs nothing but Leaflet.
VECTORGRID_JS = VECTORGRID.asset("leaflet_vectorgrid", "Leaflet.VectorGrid.bundled.min.js")
MARKERCLUSTER_JS = MARKERCLUSTER.asset("leaflet_markercluster", "leaflet.markercluster.js")
MARKERCLUSTER_CSS = MARKERCLUSTER.asset("leaflet_markercluster_css", "MarkerCluster.css")
MARKERCLUSTER_DEFAULT_CSS = MARKERCLUSTER.asset("leaflet_markercluster_default_css", "MarkerCluster.Default.css")
HEAT_JS = HEAT.asset("leaflet_heat", "leaflet-heat.js")
# Its icons are SVG data URIs inside the CSS: there is no image file to serve. 5.x has no factory:
# ``new L.Control.FullScreen()``, or the map option ``fullscreenControl: true``.
FULLSCREEN_JS = FULLSCREEN.asset("leaflet_fullscreen", "Control.FullScreen.umd.js")
FULLSCREEN_CSS = FULLSCREEN.asset("leaflet_fullscreen_css", "Control.FullScreen.css")
LOCATECONTROL_JS = LOCATECONTROL.asset("leaflet_locatecontrol", "L.Control.Locate.min.js")
LOCATECONTROL_CSS = LOCATECONTROL.asset("leaflet_locatecontrol_css", "L.Control.Locate.min.css")
ECHARTS_JS = ECHARTS.asset("echarts", "echarts.min.js")
HTMX_JS = HTMX.asset("htmx", "htmx.min.js")
# The UMD build defines the global ``idbKeyval`` (get/set/del/entries…) for a page without a bundler.
IDB_KEYVAL_JS = IDB_KEYVAL.asset("idb_keyval", "umd.js")

ALL: tuple[Asset, ...] = (
    LEAFLET_JS,
    LEAFLET_CSS,
    SWAGGER_UI_JS,
    SWAGGER_UI_CSS,
    SWAGGER_UI_FAVICON,
    REDOC_JS,
    VECTORGRID_JS,
    MARKERCLUSTER_JS,
    MARKERCLUSTER_CSS,
    MARKERCLUSTER_DEFAULT_CSS,
    HEAT_JS,
    FULLSCREEN_JS,
    FULLSCREEN_CSS,
    LOCATECONTROL_JS,
    LOCATECONTROL_CSS,
    ECHARTS_JS,
    HTMX_JS,
    IDB_KEYVAL_JS,
)
"""Every declared asset, for tests and for a page that wants to list what it may link."""
