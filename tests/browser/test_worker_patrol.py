"""The patrol log in Chromium: start, walk through two of the worker's cells, stop; the server holds the
route and counts the cells covered, and the page says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gis.models import Patrol, PatrolPoint, User
from gis.people import patrols
from tests.browser.conftest import PHONE, WORKER
from tests.factories import WORLD_CELLS

pytestmark = pytest.mark.browser


@pytest.fixture
def walker(browser: Browser, server: str, browser_db: Session) -> Iterator:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", permissions=["geolocation"],
                                  geolocation={"longitude": 109.7005, "latitude": 28.2505, "accuracy": 8})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page, server, errors
    context.close()
    worker = browser_db.scalar(select(User.id).where(User.username == WORKER[0]))
    browser_db.execute(delete(Patrol).where(Patrol.user_id == worker))
    browser_db.commit()


def test_a_patrol_walks_two_cells_and_the_page_and_the_server_agree(walker, browser_db: Session) -> None:
    page, server, errors = walker
    page.goto(server + "/")
    page.fill("#wg-login-form input[name=username]", WORKER[0])
    page.fill("#wg-login-form input[name=password]", WORKER[1])
    page.click("#wg-login-form button[type=submit]")
    page.locator("path.wg-cell-own").first.wait_for()
    page.click("#wg-patrol")
    page.locator("#wg-patrol", has_text="结束巡查").wait_for()
    page.wait_for_function("window.wanggeWorker.patrol && window.wanggeWorker.patrol.buffer.length >= 1")
    page.context.set_geolocation({"longitude": 109.7015, "latitude": 28.2506, "accuracy": 8})
    page.wait_for_function("window.wanggeWorker.patrol.buffer.length >= 2")
    page.click("#wg-patrol")  # stop: what is buffered is sent first
    # "今日巡查" is written only after the stop's answer; "巡查中 · 已覆盖 …" may show first, from a send.
    page.locator("#wg-patrol-state", has_text="今日巡查 · 已覆盖 2 个网格").wait_for()
    assert page.locator("path.wg-patrol-route").count() == 1

    browser_db.expire_all()
    patrol = browser_db.scalars(select(Patrol).join(User).where(User.username == WORKER[0])).one()
    assert patrol.ended_at is not None
    assert browser_db.scalars(select(PatrolPoint).where(PatrolPoint.patrol_id == patrol.id)).all()
    worker = browser_db.scalars(select(User).where(User.username == WORKER[0])).one()
    assert patrols.day(browser_db, user=worker, on=patrol.started_at).cells == WORLD_CELLS[:2]
    assert page.locator("#wg-patrol-state").inner_text().startswith("今日巡查")
    assert errors == []
