"""The grid worker's phone without signal, and duplicates shown before sending, in Chromium.

Offline reports wait in IndexedDB with their Idempotency-Key and go when the network is back: two reports
made offline are exactly two cases, and a report whose answer was lost is sent again without a second case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PIL import Image
from playwright.sync_api import Route
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gis.models import Incident, IncidentPhoto
from tests.browser.conftest import INCIDENTS, REPORT_AT, PhonePage
from tests.browser.test_worker_page import assert_only_wangge_was_asked, tap_at

pytestmark = pytest.mark.browser


@pytest.fixture
def made(browser_db: Session) -> Iterator[list[str]]:
    """Descriptions of reports a test made; their cases are deleted afterwards."""
    descriptions: list[str] = []
    yield descriptions
    if descriptions:
        browser_db.execute(delete(Incident).where(Incident.description.in_(descriptions)))
        browser_db.commit()


def cases_with(db: Session, description: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).where(Incident.description == description)) or 0


def fill_report(phone: PhonePage, description: str, at: tuple[float, float] = REPORT_AT,
                category: str = "01001") -> None:
    page = phone.page
    tap_at(phone, *at)
    page.locator("#wg-report").wait_for()
    page.select_option("#wg-category", category)
    page.fill("#wg-report-form textarea[name=description]", description)


def test_two_reports_made_offline_become_exactly_two_cases_when_the_signal_returns(
    logged_in: Callable[[], PhonePage], browser_db: Session, made: list[str]
) -> None:
    phone = logged_in()
    page = phone.page
    page.context.set_offline(True)
    for n in (1, 2):
        description = f"离线上报测试 {n}"
        made.append(description)
        fill_report(phone, description, at=(REPORT_AT[0] + (n - 1) * 0.0003, REPORT_AT[1]))
        page.click("#wg-report-submit")
        page.wait_for_function(f"document.getElementById('wg-status').textContent.includes('待发送 {n} 条')")
        assert page.locator("#wg-report").is_hidden()
    assert [cases_with(browser_db, d) for d in made] == [0, 0]
    page.context.set_offline(False)
    page.wait_for_function("document.getElementById('wg-status').textContent.includes('已补报 2 条')")
    assert [cases_with(browser_db, d) for d in made] == [1, 1]
    assert page.evaluate("window.wanggeWorker.outboxKeys().then(k => k.length)") == 0
    assert_only_wangge_was_asked(phone)


def test_a_report_whose_answer_was_lost_is_sent_again_without_a_second_case(
    logged_in: Callable[[], PhonePage], browser_db: Session, made: list[str]
) -> None:
    phone = logged_in()
    page = phone.page
    description = "应答丢失测试"
    made.append(description)
    lost: list[int] = []

    def reach_the_server_then_drop_the_answer(route: Route) -> None:
        if route.request.method == "POST" and not lost:
            route.fetch()  # the server creates the case ...
            lost.append(1)
            route.abort("connectionreset")  # ... and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/incidents", reach_the_server_then_drop_the_answer)
    fill_report(phone, description)
    page.click("#wg-report-submit")
    page.wait_for_function("document.getElementById('wg-status').textContent.includes('待发送 1 条')")
    assert cases_with(browser_db, description) == 1
    page.evaluate("window.dispatchEvent(new Event('online'))")  # the signal is back: the queue is sent again
    page.wait_for_function("document.getElementById('wg-status').textContent.includes('已补报 1 条')")
    assert cases_with(browser_db, description) == 1  # the same Idempotency-Key: the first case, not a second
    page.unroute("**/api/v1/incidents")


def test_duplicates_nearby_are_shown_before_sending_and_same_case_files_nothing(
    logged_in: Callable[[], PhonePage], browser_db: Session, tmp_path
) -> None:
    phone = logged_in()
    page = phone.page
    existing = INCIDENTS[0]  # 井盖松动 (01001), open, in the worker's first cell
    before = browser_db.scalar(select(func.count()).select_from(Incident))
    tap_at(phone, existing.lon + 0.0003, existing.lat)  # ~29 m away, clear of its marker
    page.locator("#wg-report").wait_for()
    page.select_option("#wg-category", "01001")
    item = page.locator("#wg-nearby .wg-nearby-item").first
    item.wait_for()
    assert "米" in item.inner_text() and "JS-2026-000001" in item.inner_text()
    photo = tmp_path / "same.jpg"
    Image.new("RGB", (40, 30), (10, 90, 200)).save(photo, "JPEG")
    page.set_input_files("#wg-report-form input[name=photo]", str(photo))
    item.locator("button.wg-same").click()
    page.wait_for_function("document.getElementById('wg-status').textContent.includes('已确认为同一案件')")
    browser_db.expire_all()
    assert browser_db.scalar(select(func.count()).select_from(Incident)) == before  # no new case
    joined = browser_db.scalars(select(IncidentPhoto).join(Incident).where(
        Incident.public_id == "JS-2026-000001")).all()
    assert len(joined) == 1
    browser_db.execute(delete(IncidentPhoto).where(IncidentPhoto.id == joined[0].id))
    browser_db.commit()
    assert_only_wangge_was_asked(phone)
