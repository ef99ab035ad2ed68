"""The base map setting on the role pages (/, /officer, /desk) as on /map: with ``basemap=amap`` each page asks
for AMap's tiles (refused here: the network is closed) and projects every WGS84 overlay, click and located point
through GCJ-02 (api/static/basemap.js + datum.js), so a case lands where AMap's tiles draw its place."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage
from sqlalchemy import Engine

from api.main import create_app
from gis.settings import Settings
from gis.spatial.crs import wgs84_to_gcj02
from tests.browser.conftest import PHONE, REPORT_AT, WORKER
from tests.browser.test_role_pages import DESK, OFFICER, SUPERVISOR, role_people
from tests.live import serve

__all__ = ["role_people"]
pytestmark = pytest.mark.browser
MAPS = {"/": "window.wanggeWorker.map", "/officer": "WanggePages.map()", "/desk": "WanggePages.map()"}
READY = {"/": "path.wg-cell-own", "/officer": "#wg-list .wg-group", "/desk": "#wg-list .wg-rows, #wg-list .wg-muted"}


@pytest.fixture(scope="module")
def amap_pages(browser_database: Engine, tmp_path_factory: pytest.TempPathFactory, role_people: None
               ) -> Iterator[str]:
    url = browser_database.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, state_dir=tmp_path_factory.mktemp("amap-pages"), basemap="amap")
    with serve(create_app(settings, database_url=url)) as base:
        yield base


@pytest.mark.parametrize(("path", "who"), [("/", WORKER), ("/officer", OFFICER), ("/desk", SUPERVISOR)])
def test_each_role_page_draws_on_amap_through_gcj02(browser: Browser, amap_pages: str, path: str,
                                                    who: tuple[str, str, str]) -> None:
    viewport = PHONE if path == "/" else DESK
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(10_000)
    asked: list[str] = []
    errors: list[str] = []
    page.route(lambda u: not u.startswith(amap_pages), lambda route: (asked.append(route.request.url), route.abort()))
    page.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "net::ERR_FAILED" not in message.text:  # the refused AMap tiles
            errors.append(message.text)

    page.on("console", console)
    page.goto(amap_pages + path)
    page.fill("#wg-login-form input[name=username]", who[0])
    page.fill("#wg-login-form input[name=password]", who[1])
    page.click("#wg-login-form button[type=submit]")
    page.locator("#wg-user", has_text=who[2]).wait_for()
    page.locator(READY[path]).first.wait_for()
    the_map = MAPS[path]
    page.wait_for_function(f"() => {the_map} !== null")
    assert page.evaluate(f"() => {the_map}.options.crs.code") == "WANGGE:GCJ02"
    assert any("autonavi.com" in u for u in asked) and all("autonavi.com" in u for u in asked)

    # A WGS84 point is drawn where AMap's Web Mercator grid has its GCJ-02 coordinates: within a metre.
    lon, lat = REPORT_AT
    gx, gy = wgs84_to_gcj02(lon, lat)
    drawn, expected = page.evaluate(
        f"""() => {{ const map = {the_map};
            const a = map.project(L.latLng({lat}, {lon}), 17);
            const b = L.CRS.EPSG3857.latLngToPoint(L.latLng({gy}, {gx}), 17);
            return [[a.x, a.y], [b.x, b.y]]; }}""")
    metres_per_px = 156543.03392 * math.cos(math.radians(lat)) / 2**17
    assert math.dist(drawn, expected) * metres_per_px < 1.0
    if path == "/":
        # A tap where AMap draws the place reports the place in WGS84.
        point = page.evaluate(f"() => {{ const p = {the_map}.latLngToContainerPoint([{lat}, {lon}]);"
                              " return [p.x, p.y]; }")
        page.mouse.click(*point)
        page.locator("#wg-report:not([hidden])").wait_for()
        at = page.evaluate("() => [wanggeWorker.reportAt.lng, wanggeWorker.reportAt.lat]")
        assert math.dist(at, REPORT_AT) * 111_000 < 1.0
    assert not errors, errors
    context.close()
