"""The shared-facility page (/sharing) end to end in Chromium: community staff ask for a room that needs the
unit's approval, the unit manager approves one request and declines another with a reason, the staff see both
outcomes; the manager pairs the unit with a community and ends the pairing. Every confirmation is a dialog the
user accepts; screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import ViewportSize
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gis.models import Booking, Facility, UnitPairing
from tests.browser.conftest import PHONE
from tests.browser.test_role_pages import (
    APPROVED_ROOM,
    DESK,
    MANAGER,
    STAFF,
    Seen,
    log_in,
    open_as,
    role_people,
)
from tests.factories import FIRST_COMMUNITY

__all__ = ["open_as", "role_people"]
pytestmark = pytest.mark.browser


@pytest.fixture
def no_bookings_left(browser_db: Session) -> Iterator[None]:
    yield
    room = browser_db.scalars(select(Facility.id).where(Facility.name == APPROVED_ROOM)).one()
    browser_db.execute(delete(Booking).where(Booking.facility_id == room))
    browser_db.commit()


def ask(seen: Seen, day_index: int, group: str) -> None:
    """Staff: ask for the room on the week's ``day_index`` day, 09:00–11:00, for ``group``."""
    form = seen.page.locator("#wg-case form[data-move='book']")
    form.locator("select[name=day]").select_option(index=day_index)
    form.locator("input[name=group_name]").fill(group)
    form.locator("button[type=submit]", has_text="提交预约申请").click()
    seen.page.locator("#wg-case .wg-booking[data-status='requested']", has_text=group).wait_for()


def accept_next_dialog(seen: Seen, said: list[str]) -> None:
    seen.page.once("dialog", lambda dialog: (said.append(dialog.message), dialog.accept()))


def test_staff_ask_the_unit_manager_approves_one_declines_another_and_staff_see_both(
    open_as: Callable[[ViewportSize], Seen], browser_db: Session, no_bookings_left: None
) -> None:
    staff = open_as(PHONE)
    log_in(staff, "/sharing", STAFF)
    staff.page.locator("#wg-list .wg-row-open", has_text=APPROVED_ROOM).click()
    staff.page.locator("#wg-case .wg-week", has_text="预约须经本单位审批").wait_for()
    ask(staff, 1, "社区舞蹈队")
    ask(staff, 2, "老年大学")
    staff.shot("sharing-requested-phone")

    manager = open_as(DESK)
    log_in(manager, "/sharing", MANAGER)
    requests = manager.page.locator("#wg-list [data-section=requests] .wg-request")
    requests.filter(has_text="社区舞蹈队").wait_for()
    assert requests.count() == 2
    manager.shot("sharing-requests-desk")
    said: list[str] = []
    accept_next_dialog(manager, said)
    requests.filter(has_text="社区舞蹈队").locator("button.wg-primary", has_text="批准").click()
    manager.page.locator("#wg-list .wg-notice", has_text="已批准").wait_for()
    assert said == ["批准这次预约？"]
    second = manager.page.locator("#wg-list .wg-request", has_text="老年大学")
    second.locator("input[name=note]").fill("当天单位自用")
    second.locator("button", has_text="不批准").click()
    manager.page.locator("#wg-list .wg-notice", has_text="已拒绝").wait_for()
    manager.page.locator("#wg-list [data-section=requests]", has_text="没有待审批的预约").wait_for()
    manager.shot("sharing-decided-desk")

    staff.page.reload()
    mine = staff.page.locator("#wg-list [data-section=mine]")
    mine.locator(".wg-mine[data-status='active']", has_text=APPROVED_ROOM).wait_for()
    mine.locator(".wg-mine[data-status='declined']", has_text="原因：当天单位自用").wait_for()
    staff.shot("sharing-outcomes-phone")
    browser_db.expire_all()
    stored = browser_db.execute(select(Booking.group_name, Booking.status, Booking.decision_note)
                                .join(Facility).where(Facility.name == APPROVED_ROOM).order_by(Booking.starts_at))
    assert [tuple(r) for r in stored] == [("社区舞蹈队", "active", None), ("老年大学", "declined", "当天单位自用")]
    for seen in (staff, manager):
        seen.clean()


def test_the_unit_manager_pairs_with_a_community_and_ends_it_after_confirming(
    open_as: Callable[[ViewportSize], Seen], browser_db: Session
) -> None:
    manager = open_as(PHONE)
    log_in(manager, "/sharing", MANAGER)
    pairings = manager.page.locator("#wg-list [data-section=pairings]")
    pairings.locator(f".wg-pairing[data-community='{FIRST_COMMUNITY}']", has_text="每月开放报告厅两次").wait_for()
    form = pairings.locator("form[data-form=pair]").first
    other = form.locator("select[name=community_code] option").evaluate_all(
        f"options => options.map(o => o.value).filter(v => v && v !== '{FIRST_COMMUNITY}')")[0]
    form.locator("select[name=community_code]").select_option(other)
    form.locator("input[name=commitment]").fill("周末开放停车场")
    form.locator("button[type=submit]").click()
    added = manager.page.locator(f"#wg-list .wg-pairing[data-community='{other}']")
    added.wait_for()
    manager.shot("sharing-paired-phone")
    manager.no_horizontal_scroll()
    said: list[str] = []
    accept_next_dialog(manager, said)
    added.locator("button", has_text="解除").click()
    added.wait_for(state="detached")
    assert said and said[0].startswith("确定解除与")
    manager.page.locator("#wg-list .wg-notice", has_text="已解除").wait_for()
    browser_db.expire_all()
    assert browser_db.scalar(select(UnitPairing).where(UnitPairing.community_code == other)) is None
    manager.clean()
