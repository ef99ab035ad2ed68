"""The vendored files at work in Chromium: the API's doc pages render, and every Leaflet plugin, ECharts,
htmx and idb-keyval load together on Leaflet 1.9.4 and do their job, asking no other host.

Needs no database: the app's doc pages and static files read none, so this module serves the real app
(with ``api.routes.docs`` wired as ``tests.api.test_docs.docs_app`` does) on its own port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Request

from gis.settings import Settings
from maps import vendor
from tests.api.test_docs import docs_app

DESK = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = docs_app(Settings(state_dir=Path(tmp_path_factory.mktemp("docs-state"))))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True, name="wangge-docs")
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the docs server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


class Recorded:
    """A desk-size page that records requests to other hosts and uncaught errors.

    Chromium reports a request that the page's Content-Security-Policy refuses as a request that failed
    with ``csp``: it never left the browser, so it moves from ``outside`` to ``blocked``.
    """

    def __init__(self, page: Page, base: str) -> None:
        self.page, self.base = page, base
        self.outside: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._on_request)
        page.on("requestfailed", self._on_failed)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _is_outside(self, url: str) -> bool:
        return not (url.startswith(self.base + "/") or url.startswith(("data:", "blob:")))

    def _on_request(self, request: Request) -> None:
        if self._is_outside(request.url):
            self.outside.append(request.url)

    def _on_failed(self, request: Request) -> None:
        if self._is_outside(request.url) and request.failure == "csp":
            self.outside.remove(request.url)
            self.blocked.append(request.url)


@pytest.fixture
def desk(browser: Browser, docs_server: str) -> Iterator[Recorded]:
    context = browser.new_context(viewport=DESK, locale="zh-CN")  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield Recorded(page, docs_server)
    context.close()


def test_swagger_ui_renders_the_app_s_operations(desk: Recorded, tmp_path: Path) -> None:
    desk.page.goto(desk.base + "/docs")
    desk.page.locator(".opblock").first.wait_for()
    assert desk.page.locator(".opblock").count() > 10
    assert "Wangge" in desk.page.locator(".info .title").inner_text()
    desk.page.screenshot(path=str(tmp_path / "swagger-ui.png"))
    assert desk.outside == desk.blocked == [] and desk.errors == []


def test_redoc_renders_the_app_s_operations(desk: Recorded, tmp_path: Path) -> None:
    desk.page.goto(desk.base + "/redoc")
    desk.page.locator("h1").first.wait_for()
    assert "Wangge" in desk.page.locator("h1").first.inner_text()
    assert desk.page.locator("[data-section-id^='operation/']").count() > 10
    desk.page.screenshot(path=str(tmp_path / "redoc.png"))
    assert desk.outside == [] and desk.errors == []
    # ReDoc 2's footer logo (tests/maps/test_vendor.py's KNOWN_EXTERNAL): refused by the page's policy.
    assert desk.blocked == ["https://cdn.redoc.ly/redoc/logo-mini.svg"]


def _plugin_page(static: str) -> str:
    css = [vendor.LEAFLET_CSS, vendor.MARKERCLUSTER_CSS, vendor.MARKERCLUSTER_DEFAULT_CSS, vendor.FULLSCREEN_CSS,
           vendor.LOCATECONTROL_CSS]
    js = [vendor.LEAFLET_JS, vendor.VECTORGRID_JS, vendor.MARKERCLUSTER_JS, vendor.HEAT_JS, vendor.FULLSCREEN_JS,
          vendor.LOCATECONTROL_JS, vendor.ECHARTS_JS, vendor.HTMX_JS, vendor.IDB_KEYVAL_JS]
    links = "".join(f'<link rel="stylesheet" href="{a.url(static)}">' for a in css)
    scripts = "".join(f'<script src="{a.url(static)}"></script>' for a in js)
    return (
        f"<!DOCTYPE html><html><head>{links}</head><body>"
        '<div id="map" style="width:600px;height:400px"></div><div id="chart" style="width:300px;height:200px"></div>'
        f"{scripts}</body></html>"
    )


# Draws a GeoJSON square through VectorGrid (its SVG renderer, the default, or canvas), 20 clustered
# markers, a heat layer, both controls, a bar chart, and an IndexedDB round trip; returns what it finds.
_PLUGINS_SCRIPT = """async (renderer) => {
  const map = L.map('map', {center: [28.28, 109.71], zoom: 15});
  const square = {type: 'FeatureCollection', features: [{type: 'Feature', properties: {code: 'c1'},
    geometry: {type: 'Polygon', coordinates: [[[109.705, 28.275], [109.715, 28.275], [109.715, 28.285],
      [109.705, 28.285], [109.705, 28.275]]]}}]};
  const grid = L.vectorGrid.slicer(square, {interactive: true,
    rendererFactory: renderer === 'canvas' ? L.canvas.tile : L.svg.tile, vectorTileLayerStyles: {sliced: {fill: true,
    fillColor: '#c33', fillOpacity: 0.5, weight: 1}}});
  window.clicked = [];
  grid.on('click', (e) => window.clicked.push(e.layer.properties.code));
  grid.addTo(map);
  const cluster = L.markerClusterGroup();
  for (let i = 0; i < 20; i++) cluster.addLayer(L.marker([28.28 + i * 1e-5, 109.71]));
  cluster.addTo(map);
  window.map = map;
  window.heat = L.heatLayer([[28.28, 109.71, 1], [28.281, 109.711, 0.5]], {radius: 20}).addTo(map);
  new L.Control.FullScreen().addTo(map);  // 5.x has no L.control.fullscreen factory
  L.control.locate().addTo(map);
  const chart = echarts.init(document.getElementById('chart'));
  chart.setOption({xAxis: {data: ['a', 'b']}, yAxis: {}, series: [{type: 'bar', data: [1, 2]}]});
  await idbKeyval.set('wangge-test', {n: 1});
  const back = await idbKeyval.get('wangge-test');
  await new Promise((r) => setTimeout(r, 500));
  return {
    htmx: htmx.version,
    clusters: document.querySelectorAll('.marker-cluster').length,
    heat: document.querySelectorAll('canvas.leaflet-heatmap-layer').length,
    fullscreen: document.querySelectorAll('.leaflet-control-zoom-fullscreen').length,
    locate: document.querySelectorAll('.leaflet-control-locate').length,
    chart: document.querySelectorAll('#chart canvas').length,
    tiles: document.querySelectorAll('.leaflet-tile').length,
    idb: back && back.n,
  };
}"""


def test_every_plugin_loads_on_leaflet_1_9_and_does_its_job(desk: Recorded, tmp_path: Path) -> None:
    desk.page.goto(desk.base + "/healthz")
    desk.page.set_content(_plugin_page(desk.base + "/static"))
    result = desk.page.evaluate(_PLUGINS_SCRIPT, "svg")
    desk.page.screenshot(path=str(tmp_path / "plugins.png"))
    assert result["htmx"].startswith(vendor.HTMX.version.split(".")[0] + ".")
    assert result["clusters"] >= 1
    assert result["heat"] == 1
    assert result["fullscreen"] == 1
    assert result["locate"] == 1
    assert result["chart"] >= 1
    assert result["tiles"] >= 1
    assert result["idb"] == 1
    assert desk.outside == [] and desk.errors == []


def _wait_until(page: Page, condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(50)


def test_vectorgrid_clicks_need_the_fakestop_shim_on_leaflet_1_9(desk: Recorded) -> None:
    # The known fault the README describes: on the canvas renderer a click on a feature throws without the
    # shim, and fires with it.
    desk.page.goto(desk.base + "/healthz")
    desk.page.set_content(_plugin_page(desk.base + "/static"))
    desk.page.evaluate(_PLUGINS_SCRIPT, "canvas")
    desk.page.evaluate("map.removeLayer(heat)")  # its canvas lies over the tiles and would take the click
    box = desk.page.locator("#map").bounding_box()
    assert box is not None
    middle = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2 + 40)  # inside the square, below the cluster
    desk.page.mouse.click(*middle)
    _wait_until(desk.page, lambda: any("fakeStop" in e for e in desk.errors))
    desk.page.wait_for_timeout(300)  # the errors of mousedown, mouseup and click arrive one by one
    assert desk.page.evaluate("window.clicked") == []
    desk.errors.clear()
    desk.page.evaluate("() => { L.DomEvent.fakeStop = L.DomEvent.fakeStop || L.DomEvent.stop; }")
    desk.page.mouse.click(*middle)
    desk.page.wait_for_function("window.clicked.length > 0")
    desk.page.wait_for_timeout(300)
    assert desk.errors == []
    assert desk.page.evaluate("window.clicked") == ["c1"]
