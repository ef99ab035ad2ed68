"""The grid worker's map page in Debian's Chromium at phone size, against a real server (see conftest).

What a grid worker does with the page: log in, see their cells, see open and overdue incidents, read one,
tap the map to report a new one. Every test also checks that the page asked no host but Wangge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from geoalchemy2.shape import to_shape
from PIL import Image
from shapely.geometry import Point
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gis.models import Incident, IncidentPhoto, Status
from tests.browser.conftest import (
    CELL_SPANS,
    INCIDENTS,
    OUTSIDE,
    REPORT_AT,
    WORKER,
    XSS,
    PhonePage,
    SeededIncident,
)
from tests.factories import WORLD_CELLS

pytestmark = pytest.mark.browser

RED = "rgb(214, 39, 40)"  # WorkerConfig.overdue_color #d62728 as the browser reports it


@pytest.fixture(scope="module")
def api_paths(server: str) -> set[str]:
    return set(httpx.get(f"{server}/openapi.json").json()["paths"])


def needs(api_paths: set[str], *paths: str) -> None:
    missing = [p for p in paths if p not in api_paths]
    if missing:
        pytest.skip(f"the API has no {', '.join(missing)} yet")


def tap_at(phone: PhonePage, lon: float, lat: float) -> None:
    """Tap the screen where (lon, lat) is on the map."""
    point = phone.page.evaluate(
        """([lat, lon]) => {
            const map = window.wanggeWorker.map;
            const p = map.latLngToContainerPoint([lat, lon]);
            const size = map.getSize();
            return {x: p.x, y: p.y, inside: p.x > 0 && p.y > 48 && p.x < size.x && p.y < size.y};
        }""",
        [lat, lon],
    )
    assert point["inside"], f"({lon}, {lat}) is not on screen: {point}"
    phone.page.touchscreen.tap(point["x"], point["y"])


def assert_only_wangge_was_asked(phone: PhonePage) -> None:
    assert phone.outside_requests == []
    assert phone.dialogs == []
    assert phone.errors == []


@pytest.fixture
def reported(browser_db: Session) -> Iterator[list[int]]:
    """Ids of incidents a test made through the page; deleted afterwards so other tests see the seed."""
    ids: list[int] = []
    yield ids
    if ids:
        browser_db.execute(delete(Incident).where(Incident.id.in_(ids)))
        browser_db.commit()


def test_the_page_loads_only_wangge_assets_and_asks_for_a_login(phone: PhonePage) -> None:
    page = phone.page
    page.goto(phone.base + "/")
    page.locator("#wg-login").wait_for()
    assert page.locator("#wg-login h1").inner_text() == "网格员登录"
    assert page.evaluate("window.L && window.L.version") == "1.9.4"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert_only_wangge_was_asked(phone)


def test_a_wrong_password_is_refused_in_chinese(phone: PhonePage) -> None:
    page = phone.page
    page.goto(phone.base + "/")
    page.fill("#wg-login-form input[name=username]", WORKER[0])
    page.fill("#wg-login-form input[name=password]", "not-the-password")
    page.click("#wg-login-form button[type=submit]")
    page.locator("#wg-login-error", has_text="用户名或密码错误").wait_for()
    assert page.locator("#wg-login").is_visible()
    assert_only_wangge_was_asked(phone)


def test_logging_in_shows_the_worker_and_highlights_their_own_cells(logged_in: Callable[[], PhonePage]) -> None:
    phone = logged_in()
    page = phone.page
    assert page.locator("#wg-user").inner_text() == WORKER[2]
    assert page.locator("#wg-login").is_hidden()
    # The page fits the view to the worker's cells; of the others, it draws those the view shows.
    west, east = page.evaluate("(() => { const b = window.wanggeWorker.map.getBounds(); "
                               "return [b.getWest(), b.getEast()]; })()")
    in_view = [code for code, (x0, x1) in CELL_SPANS.items() if x0 < east and x1 > west]
    assert set(WORLD_CELLS) <= set(in_view)
    assert len(in_view) < len(CELL_SPANS), "the view should leave some cells out, or this test proves nothing"
    page.wait_for_function(f"document.querySelectorAll('path.wg-cell').length === {len(in_view)}")
    strokes = page.evaluate("""() => Array.from(document.querySelectorAll('path.wg-cell'))
        .map(p => [p.classList.contains('wg-cell-own'), p.getAttribute('stroke')])""")
    own = {stroke for is_own, stroke in strokes if is_own}
    others = {stroke for is_own, stroke in strokes if not is_own}
    assert sum(is_own for is_own, _ in strokes) == len(WORLD_CELLS)
    assert len(own) == 1 and len(others) == 1 and own != others  # one look for the worker's, another for the rest
    assert_only_wangge_was_asked(phone)


def test_a_kept_token_logs_the_worker_in_again_after_a_reload(logged_in: Callable[[], PhonePage]) -> None:
    phone = logged_in()
    phone.page.reload()
    phone.page.locator("path.wg-cell-own").first.wait_for()
    assert phone.page.locator("#wg-login").is_hidden()
    phone.page.click("#wg-logout")
    phone.page.locator("#wg-login").wait_for()
    assert phone.page.evaluate("localStorage.getItem('wangge.worker.session')") is None


def test_the_popup_builder_shows_markup_in_every_field_as_text(phone: PhonePage) -> None:
    page = phone.page
    page.goto(phone.base + "/")
    page.locator("#wg-login").wait_for()
    shown = page.evaluate(
        """(probe) => {
            const box = WanggeWorker.incidentPopup({
                public_id: probe, category_name: probe, status: probe, cell_code: probe, description: probe,
                overdue: true, reported_at: "2026-03-02T01:30:00Z", deadline_at: null,
            });
            document.body.appendChild(box);
            return {
                images: box.querySelectorAll("img").length,
                title: box.querySelector("h3").textContent,
                description: box.querySelector(".wg-popup-description").textContent,
                text: box.textContent,
            };
        }""",
        XSS,
    )
    assert shown["images"] == 0
    assert shown["title"] == XSS and shown["description"] == XSS
    assert shown["text"].count(XSS) == 5
    assert "已逾期" in shown["text"] and "03/02 09:30" in shown["text"]  # Beijing time
    assert "未派遣" in shown["text"]  # no deadline yet
    page.wait_for_timeout(200)
    assert_only_wangge_was_asked(phone)


def test_open_incidents_are_drawn_and_overdue_ones_in_red(
    logged_in: Callable[[], PhonePage], api_paths: set[str]
) -> None:
    needs(api_paths, "/api/v1/incidents")
    phone = logged_in()
    page = phone.page
    still_open = [i for i in INCIDENTS if i.status != "closed"]
    page.wait_for_function(f"document.querySelectorAll('path.wg-incident').length === {len(still_open)}")
    # One look at the DOM (the page may redraw the layer between two separate looks).
    fills = page.evaluate("""() => Array.from(document.querySelectorAll('path.wg-incident'))
        .map(p => [p.classList.contains('wg-incident-overdue'), getComputedStyle(p).fill])""")
    overdue_fills = [fill for overdue, fill in fills if overdue]
    assert len(overdue_fills) == sum(i.overdue for i in still_open)
    assert set(overdue_fills) == {RED}
    assert RED not in {fill for overdue, fill in fills if not overdue}
    assert_only_wangge_was_asked(phone)


def test_user_text_in_an_incident_popup_is_shown_as_text(
    logged_in: Callable[[], PhonePage], api_paths: set[str]
) -> None:
    needs(api_paths, "/api/v1/incidents")
    phone = logged_in()
    page = phone.page
    probe = next(i for i in INCIDENTS if i.description == XSS)
    page.locator("path.wg-incident").first.wait_for()
    tap_at(phone, probe.lon, probe.lat)
    description = page.locator(".leaflet-popup .wg-popup-description")
    description.wait_for()
    assert description.inner_text() == XSS
    assert page.locator(".leaflet-popup img").count() == 0
    assert page.locator("#wg-report").is_hidden()  # tapping an incident opens it, not the report form
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert_only_wangge_was_asked(phone)


def test_tapping_the_map_opens_the_form_and_submitting_reports_an_incident(
    logged_in: Callable[[], PhonePage],
    api_paths: set[str],
    browser_db: Session,
    reported: list[int],
    tmp_path,
) -> None:
    needs(api_paths, "/api/v1/incidents", "/api/v1/categories")
    phone = logged_in()
    page = phone.page
    tap_at(phone, *REPORT_AT)
    form = page.locator("#wg-report")
    form.wait_for()
    page.fill("#wg-category-filter", "占道经营")
    page.select_option("#wg-category", "09006")
    description = "浏览器测试：人行道上有流动摊贩"
    page.fill("#wg-report-form textarea[name=description]", description)
    photo = tmp_path / "scene.jpg"
    Image.new("RGB", (64, 48), (120, 160, 90)).save(photo, "JPEG")
    page.set_input_files("#wg-report-form input[name=photo]", str(photo))
    page.click("#wg-report-submit")
    status = page.locator("#wg-status")
    status.wait_for()
    page.wait_for_function("document.getElementById('wg-status').textContent.includes('上报成功')")
    assert form.is_hidden()

    incident = browser_db.scalars(select(Incident).where(Incident.description == description)).one()
    reported.append(incident.id)
    assert incident.category_code == "09006"
    assert incident.source == "patrol"
    assert incident.cell_code == WORLD_CELLS[1]
    where = to_shape(incident.location)
    assert where.distance(Point(*REPORT_AT)) < 5e-5  # within a few screen pixels (≈ 1 m each) of the tap
    assert browser_db.scalars(select(IncidentPhoto).where(IncidentPhoto.incident_id == incident.id)).all()
    assert "照片已上传" in status.inner_text()
    assert_only_wangge_was_asked(phone)


def test_a_report_outside_every_community_shows_the_servers_message(
    logged_in: Callable[[], PhonePage], api_paths: set[str], browser_db: Session
) -> None:
    needs(api_paths, "/api/v1/incidents", "/api/v1/categories")
    phone = logged_in()
    page = phone.page
    before = browser_db.scalar(select(Incident.id).order_by(Incident.id.desc()).limit(1))
    tap_at(phone, *OUTSIDE)
    page.locator("#wg-report").wait_for()
    page.select_option("#wg-category", "01001")
    page.click("#wg-report-submit")
    error = page.locator("#wg-report-error")
    page.wait_for_function("document.getElementById('wg-report-error').textContent.length > 0")
    assert "上报失败" not in error.inner_text()  # the server's own words, not a generic failure
    assert error.inner_text() == "所选位置不在任何社区范围内，请在社区范围内选点"  # in Chinese, not the API's English
    assert page.locator("#wg-report").is_visible()  # the worker can move the point and try again
    browser_db.expire_all()
    assert browser_db.scalar(select(Incident.id).order_by(Incident.id.desc()).limit(1)) == before
    assert_only_wangge_was_asked(phone)


def _open_popup_of(phone: PhonePage, seeded: SeededIncident) -> None:
    phone.page.locator("path.wg-incident").first.wait_for()
    tap_at(phone, seeded.lon, seeded.lat)
    phone.page.locator(".leaflet-popup").wait_for()


def test_a_popup_stays_open_while_the_map_moves_under_it(
    logged_in: Callable[[], PhonePage], api_paths: set[str]
) -> None:
    """A popup pans the map into view; the page used to reload the incidents on that moveend, and the popup
    went with its marker ~0.5 s after opening."""
    needs(api_paths, "/api/v1/incidents")
    phone = logged_in()
    page = phone.page
    _open_popup_of(phone, INCIDENTS[0])
    page.evaluate("window.wanggeWorker.map.panBy([0, 80], {animate: false})")  # what the popup's autopan does
    page.wait_for_timeout(1200)  # the reload ran 200 ms after moveend
    assert page.locator(".leaflet-popup").count() == 1
    assert page.locator(".leaflet-popup .wg-popup-description").inner_text() == INCIDENTS[0].description
    page.evaluate("window.wanggeWorker.map.closePopup()")  # closing reloads what the view now shows
    page.wait_for_function("window.wanggeWorker.lastView !== null && !window.wanggeWorker.reloadAfterPopup")
    assert_only_wangge_was_asked(phone)


def test_status_names_on_the_page_are_the_apis(logged_in: Callable[[], PhonePage], api_paths: set[str]) -> None:
    needs(api_paths, "/api/v1/incidents")
    phone = logged_in()
    dispatched = next(i for i in INCIDENTS if i.status == "dispatched")
    _open_popup_of(phone, dispatched)
    badge = phone.page.locator(".leaflet-popup .wg-badge").first.inner_text()
    assert badge == Status.dispatched.label_zh  # the API's status_label; the page said 已派遣
    assert_only_wangge_was_asked(phone)
