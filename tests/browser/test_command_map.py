"""The command map at /map in Chromium: tiles drawn with their legend, class bounds and a cell's popup equal to
the database's counts, a filter change that redraws, screenshots at phone and desk size (tests/artifacts/)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from shapely.geometry import Point
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from gis.settings import Settings
from gis.spatial.crs import to_metric, wgs84_to_gcj02
from maps.classes import classify
from tests.browser.conftest import CELL_SPANS, CHROMIUM_ARGS  # noqa: F401  (the world the server holds)
from tests.factories import WORLD_CELLS, add_user
from tests.live import serve

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DESK: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
CHIEF = ("zhihui", "zhiHui-2026")
VIEW = "map=17/28.25050/109.70250"


@pytest.fixture(scope="module")
def chief(browser_database: Engine) -> str:
    with sessionmaker(browser_database)() as session, session.begin():
        if session.execute(text("SELECT 1 FROM app_user WHERE username = :u"), {"u": CHIEF[0]}).first() is None:
            add_user(session, "supervisor", username=CHIEF[0], password=CHIEF[1], display_name="指挥中心")
    return CHIEF[0]


def _page(browser: Browser, server: str, size: ViewportSize, query: str, errors: list[str],
          outside: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport=size, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else outside.append(r.url))
    page.goto(f"{server}/map?{query}")
    page.wait_for_load_state("load")
    assert not errors, errors
    form = page.locator("#cm-login-form")
    form.locator("input[name=username]").fill(CHIEF[0])
    form.locator("input[name=password]").fill(CHIEF[1])
    form.locator("button[type=submit]").click()
    page.locator("#cm-legend-density .cm-class").first.wait_for()
    yield page
    context.close()


@pytest.fixture
def desk(browser: Browser, server: str, chief: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    errors: list[str] = []
    outside: list[str] = []
    for page in _page(browser, server, DESK, f"{VIEW}&window=30d", errors, outside):
        yield page, errors, outside


def _db_counts(session: Session, since: datetime, status: str | None = None) -> dict[str, int]:
    """Counts per cell straight from the table, for cells of the world row (independent of the layer's SQL)."""
    rows = session.execute(text(
        "SELECT c.code, count(i.id) FROM grid_cell c LEFT JOIN incident i ON i.cell_code = c.code "
        "AND i.reported_at >= :since AND i.status NOT IN ('void', 'duplicate') "
        "AND (CAST(:status AS text) IS NULL OR i.status = :status) GROUP BY c.code"),
        {"since": since, "status": status})
    return {code: int(n) for code, n in rows}


def _view_cells(page: Page) -> list[str]:
    west, south, east, north = page.evaluate(
        "() => { const b = wanggeMapApp.map.getBounds(); "
        "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")
    rows_in_view = south <= 28.251 and north >= 28.25  # every seeded cell lies in 28.250–28.251 N
    return [code for code, (w, e) in CELL_SPANS.items() if rows_in_view and w <= east and e >= west]


def _legend_uppers(page: Page) -> list[float]:
    return [float(v) for v in page.locator("#cm-legend-density .cm-class").evaluate_all(
        "rows => rows.map(r => r.dataset.upper)")]


def test_the_density_legend_and_a_cells_popup_equal_the_database(
    desk: tuple[Page, list[str], list[str]], browser_db: Session,
) -> None:
    page, errors, outside = desk
    since = datetime.now(UTC) - timedelta(days=30)
    counts = _db_counts(browser_db, since)
    in_view = _view_cells(page)
    assert len(in_view) >= 3
    expected = classify([counts[c] for c in in_view], "quantiles", 5).bounds
    assert _legend_uppers(page) == pytest.approx(expected)
    # Click the worker's second cell away from its incidents' markers: its popup gives the database's count.
    west, east = CELL_SPANS[WORLD_CELLS[1]]
    lon = west + 0.8 * (east - west)
    point = page.evaluate(f"() => wanggeMapApp.map.latLngToContainerPoint([28.2502, {lon}])")
    box = page.locator("div.folium-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    popup = page.locator(".leaflet-popup-content .cm-popup")
    popup.wait_for()
    assert WORLD_CELLS[1] in popup.inner_text()
    cells = dict(zip(popup.locator("th").all_inner_texts(), popup.locator("td").all_inner_texts(), strict=True))
    assert cells["案件数"] == str(counts[WORLD_CELLS[1]])
    assert not errors and not outside


def test_a_filter_change_redraws_tiles_and_legend(desk: tuple[Page, list[str], list[str]], browser_db: Session) -> None:
    page, errors, _ = desk
    before = _legend_uppers(page)
    page.locator("#cm-filters-toggle").click()
    with page.expect_request(lambda r: "/tiles/incident_density/" in r.url and "status=closed" in r.url):
        page.locator("#cm-status").select_option("closed")
    page.wait_for_function("() => location.search.includes('status=closed')")
    closed = _db_counts(browser_db, datetime.now(UTC) - timedelta(days=30), "closed")
    expected = classify([closed[c] for c in _view_cells(page)], "quantiles", 5).bounds
    page.wait_for_function(f"() => document.querySelectorAll('#cm-legend-density .cm-class').length == {len(expected)}")
    assert _legend_uppers(page) == pytest.approx(expected) and expected != before
    assert not errors


@pytest.mark.parametrize(("name", "size"), [("desk", DESK), ("phone", PHONE)])
def test_screenshots_of_every_layer(browser: Browser, server: str, chief: str, name: str, size: ViewportSize) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    outside: list[str] = []
    layers = "incident_density,facility_sharing,subdistricts,communities,grid_cells,incident_points,facilities"
    for query, label in ((f"{VIEW}&window=30d", "density"),
                         (f"map=17/28.25050/109.70250&layers={layers}&window=30d", "all-layers")):
        for page in _page(browser, server, size, query, errors, outside):
            page.wait_for_timeout(800)  # tiles of the whole view
            page.screenshot(path=str(ARTIFACTS / f"command-map-{label}-{name}.png"))
            if label == "all-layers":
                page.locator("#cm-legend-sharing").wait_for()
                assert page.locator("#cm-legend .cm-legend-section h3").count() >= 3
    assert not errors and not outside


@pytest.fixture(scope="module")
def amap_server(browser_database: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = browser_database.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, state_dir=tmp_path_factory.mktemp("amap"), basemap="amap")
    with serve(create_app(settings, database_url=url)) as base:
        yield base


def test_amap_mode_moves_every_overlay_by_the_projects_gcj02_conversion(
    browser: Browser, amap_server: str, chief: str,
) -> None:
    errors: list[str] = []
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    asked: list[str] = []
    # No request leaves localhost: AMap's tiles are refused (and recorded), the overlays still draw.
    page.route(lambda url: not url.startswith(amap_server), lambda route: (asked.append(route.request.url),
                                                                              route.abort()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{amap_server}/map?{VIEW}&window=30d")
    page.locator("#cm-login-form input[name=username]").fill(CHIEF[0])
    page.locator("#cm-login-form input[name=password]").fill(CHIEF[1])
    page.locator("#cm-login-form button[type=submit]").click()
    page.locator("#cm-legend-density .cm-class").first.wait_for()
    assert any("autonavi" in url for url in asked)
    for lon, lat in [(109.7015, 28.2506), (116.397, 39.908), (87.6, 43.8)]:
        gx, gy = wgs84_to_gcj02(lon, lat)
        js = page.evaluate(f"() => WanggeDatum.toGcj({lon}, {lat})")
        metric = to_metric(gpd.GeoSeries([Point(*js), Point(gx, gy)], crs=4326))
        assert metric.iloc[0].distance(metric.iloc[1]) < 1.0
    # An incident marker (WGS84) is drawn at the GCJ-02 point's place on the Web Mercator grid of AMap's tiles.
    page.wait_for_function("() => wanggeMapApp.overlays.incident_points.getLayers().length > 0")
    lon, lat, dx, dy = page.evaluate(
        "() => { const m = wanggeMapApp.overlays.incident_points.getLayers()[0], map = wanggeMapApp.map;"
        " const ll = m.getLatLng(), z = map.getZoom(); const drawn = map.project(ll, z);"
        " return [ll.lng, ll.lat, drawn.x, drawn.y]; }")
    gx, gy = wgs84_to_gcj02(lon, lat)
    ex, ey = page.evaluate(
        f"() => {{ const p = L.CRS.EPSG3857.latLngToPoint(L.latLng({gy}, {gx}), 17); return [p.x, p.y]; }}")
    metres_per_px = 156543.03392 * math.cos(math.radians(lat)) / 2**17
    assert math.hypot(dx - ex, dy - ey) * metres_per_px < 1.0
    tiles = [r for r in page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
             if "/tiles/incident_density/" in r]
    assert tiles and all("datum=gcj02" in t for t in tiles)
    assert not errors
    context.close()


def test_the_standalone_map_renders_with_the_network_closed(
    browser: Browser, browser_db: Session, tmp_path: Path,
) -> None:
    from api.routes.pages import STATIC_DIR
    from gis.layers import registry
    from maps.takeaway import plan_for, standalone_html

    plan = plan_for(browser_db, registry(Settings(database_url="postgresql://unused/unused")), "density",
                    area=WORLD_CELLS[0][:12])
    out = tmp_path / "density.html"
    out.write_text(standalone_html(plan, STATIC_DIR), encoding="utf-8")
    context = browser.new_context(viewport=DESK, locale="zh-CN", offline=True)
    page = context.new_page()
    asked: list[str] = []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
               else (asked.append(route.request.url), route.abort()))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(out.as_uri())
    page.locator("path.leaflet-interactive").first.wait_for()
    assert page.locator("path.leaflet-interactive").count() == len(plan.frame)
    assert page.locator(".wangge-legend").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "standalone-density-desk.png"))
    assert not errors and not asked
    context.close()
