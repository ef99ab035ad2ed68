"""Every role's page in Chromium against a real server: a case reported on the phone, registered and dispatched
at the desk, taken and handled by the officer with a photo, verified on site by the grid worker, closed at the
desk — with the history matching; then every page at phone and desk size with no horizontal scroll and no
console error. Screenshots go to ``tests/artifacts/`` (look at them: cut-off text, English, blank maps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, ViewportSize
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from gis.facilities import service as facilities
from gis.facilities.service import FacilitySpec, UnitSpec
from gis.models import Incident, IncidentEvent, Team, Unit, User
from gis.people import users
from tests.browser.conftest import PHONE, REPORT_AT, WORKER, PhonePage
from tests.browser.test_worker_page import assert_only_wangge_was_asked, tap_at
from tests.factories import FIRST_COMMUNITY, add_user

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DESK: ViewportSize = {"width": 1280, "height": 900}
OFFICER = ("zhaoliu", "zhiFa-2026", "赵六")
SUPERVISOR = ("sunqi", "jianDu-2026", "孙七")
STAFF = ("zhouba", "sheQu-2026", "周八")  # community staff of the worker's community
MANAGER = ("qianjiu", "gongJian-2026", "钱九")  # the unit manager of UNIT
UNIT = "吉首市图书馆"
APPROVED_ROOM = "三楼报告厅"  # UNIT's room whose bookings wait for the manager's approval
ADMIN = ("admin1", "guanLi-2026", "管理员甲")
TEAM = "镇溪执法中队"


@pytest.fixture(scope="module")
def role_people(browser_database: Engine) -> Iterator[None]:
    """An enforcement team answering for the worker's community, one of its officers, and a supervisor."""
    with sessionmaker(browser_database)() as session, session.begin():
        team = users.create_team(session, name=TEAM, jurisdiction_codes=[FIRST_COMMUNITY])
        add_user(session, "officer", team=team, username=OFFICER[0], password=OFFICER[1], display_name=OFFICER[2])
        add_user(session, "supervisor", username=SUPERVISOR[0], password=SUPERVISOR[1], display_name=SUPERVISOR[2])
        add_user(session, "admin", username=ADMIN[0], password=ADMIN[1], display_name=ADMIN[2])
        add_user(session, "community_staff", username=STAFF[0], password=STAFF[1], display_name=STAFF[2],
                 community_code=FIRST_COMMUNITY)
        manager = add_user(session, "unit_manager", username=MANAGER[0], password=MANAGER[1],
                           display_name=MANAGER[2])
        unit = facilities.create_unit(session, UnitSpec(name=UNIT, kind="government"))
        facilities.add_manager(session, unit=unit, user=manager)
        facilities.pair(session, unit=unit, community_code=FIRST_COMMUNITY, commitment="每月开放报告厅两次")
        facilities.create_facility(session, unit=unit, spec=FacilitySpec(
            name="二楼多功能厅", type="meeting_room", lon=REPORT_AT[0], lat=REPORT_AT[1] + 0.0004, capacity=60,
            opening_hours="Mo-Su 08:00-20:00"))
        facilities.create_facility(session, unit=unit, spec=FacilitySpec(
            name=APPROVED_ROOM, type="meeting_room", lon=REPORT_AT[0] + 0.0003, lat=REPORT_AT[1] + 0.0004,
            capacity=120, opening_hours="Mo-Su 08:00-20:00", approval_required=True))
    yield
    with sessionmaker(browser_database)() as session, session.begin():
        session.execute(delete(User).where(User.username.in_([OFFICER[0], SUPERVISOR[0], STAFF[0], ADMIN[0],
                                                               MANAGER[0]])))
        session.execute(delete(Team).where(Team.name == TEAM))
        session.execute(delete(Unit).where(Unit.name == UNIT))


@dataclass
class Seen:
    """A browser page that records console errors, uncaught errors and requests to any other host."""

    page: Page
    base: str
    errors: list[str]
    outside: list[str]

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def no_horizontal_scroll(self) -> None:
        width = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways: {width}"

    def clean(self) -> None:
        assert self.errors == [] and self.outside == []


@pytest.fixture
def open_as(browser: Browser, server: str, role_people: None) -> Iterator[Callable[[ViewportSize], Seen]]:
    contexts = []

    def make(viewport: ViewportSize) -> Seen:
        phone = viewport["width"] < 600
        context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale="zh-CN",
                                      timezone_id="Asia/Shanghai", device_scale_factor=2 if phone else 1)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        seen = Seen(page, server, [], [])

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                seen.errors.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: seen.errors.append(str(error)))
        page.on("request", lambda r: None if r.url.startswith((server + "/", "data:", "blob:"))
                else seen.outside.append(r.url))
        return seen

    yield make
    for context in contexts:
        context.close()


def log_in(seen: Seen, path: str, who: tuple[str, str, str]) -> None:
    page = seen.page
    page.goto(seen.base + path)
    form = page.locator("#wg-login-form")
    form.locator("input[name=username]").fill(who[0])
    form.locator("input[name=password]").fill(who[1])
    form.locator("button[type=submit]").click()
    page.locator("#wg-user", has_text=who[2]).wait_for()


def open_case(seen: Seen, public_id: str) -> None:
    seen.page.locator(f".wg-row[data-public-id='{public_id}'] .wg-row-open").first.click()
    seen.page.locator("#wg-case .wg-case").wait_for()


def press(seen: Seen, move: str, *, photo: Path | None = None, note: str | None = None, status: str) -> None:
    form = seen.page.locator(f"#wg-case form[data-move='{move}']")
    if note is not None:
        form.locator("textarea[name=note]").fill(note)
    if photo is not None:
        form.locator("input[name=photo]").set_input_files(str(photo))
    form.locator("button[type=submit]").click()
    seen.page.locator("#wg-case-status", has_text=status).wait_for()


@pytest.fixture
def cleanup(browser_db: Session) -> Iterator[list[int]]:
    ids: list[int] = []
    yield ids
    if ids:
        browser_db.execute(delete(Incident).where(Incident.id.in_(ids)))
        browser_db.commit()


def test_a_case_goes_from_the_phone_through_desk_and_officer_and_back_to_closed(
    open_as: Callable[[ViewportSize], Seen], browser_db: Session, cleanup: list[int], tmp_path: Path
) -> None:
    photo = tmp_path / "after.jpg"
    Image.new("RGB", (64, 48), (90, 160, 120)).save(photo, "JPEG")

    worker = open_as(PHONE)
    log_in(worker, "/", WORKER)
    worker.page.locator("path.wg-cell-own").first.wait_for()
    tap_at(PhonePage(worker.page, worker.base, [], [], []), *REPORT_AT)
    worker.page.select_option("#wg-category", "09006")
    worker.page.fill("#wg-report-form textarea[name=description]", "流程测试：店外占道经营")
    worker.page.click("#wg-report-submit")
    worker.page.wait_for_function("document.getElementById('wg-status').textContent.includes('上报成功')")
    incident = browser_db.scalars(select(Incident).where(Incident.description == "流程测试：店外占道经营")).one()
    cleanup.append(incident.id)
    public_id = incident.public_id

    desk = open_as(DESK)
    log_in(desk, "/desk", SUPERVISOR)
    open_case(desk, public_id)
    desk.shot("desk-case-reported")
    press(desk, "register", status="立案")
    assert desk.page.locator("#wg-case form[data-move='dispatch'] select[name=team_id] option:checked").inner_text() \
        == f"{TEAM}（建议）"
    press(desk, "dispatch", status="派遣")

    officer = open_as(PHONE)
    log_in(officer, "/officer", OFFICER)
    to_take = officer.page.locator(".wg-group", has_text="待接单")
    to_take.locator(f".wg-row[data-public-id='{public_id}']").wait_for()
    officer.shot("officer-queue-phone")
    open_case(officer, public_id)
    press(officer, "take", status="处置中")
    press(officer, "handle", photo=photo, note="已劝离，恢复通行", status="已处置")
    officer.page.locator("#wg-case .wg-photos img[src^='blob:']").first.wait_for()  # the photo, fetched with the token
    officer.shot("officer-case-handled-phone")

    worker.page.click("#wg-work-open")
    worker.page.locator(f"#wg-to-check .wg-row[data-public-id='{public_id}']").wait_for()
    worker.shot("worker-my-work-phone")
    open_case(worker, public_id)
    press(worker, "verify", photo=photo, note="现场核查：已清理", status="核查通过")
    worker.shot("worker-case-verified-phone")

    desk.page.locator("#wg-case [data-close-case]").click()
    desk.page.reload()
    desk.page.select_option("#wg-filter select[name=status]", "verified")
    desk.page.locator(f"#wg-list .wg-row[data-public-id='{public_id}']").wait_for()
    open_case(desk, public_id)
    press(desk, "close", status="结案")
    desk.shot("desk-case-closed")

    shown = desk.page.locator("#wg-case .wg-event").evaluate_all(
        "items => items.map(i => [i.dataset.action, i.dataset.to])")
    browser_db.expire_all()
    stored = browser_db.execute(select(IncidentEvent.action, IncidentEvent.to_status)
                                .where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)).all()
    assert [tuple(s) for s in shown] == [tuple(s) for s in stored] == [
        ("report", "reported"), ("register", "registered"), ("dispatch", "dispatched"), ("take", "in_progress"),
        ("handle", "handled"), ("verify", "verified"), ("close", "closed")]
    for seen in (worker, desk, officer):
        seen.clean()


@pytest.mark.parametrize(("size", "viewport"), [("phone", PHONE), ("desk", DESK)])
@pytest.mark.parametrize(("path", "who", "ready"), [
    ("/", WORKER, "path.wg-cell-own"),
    ("/officer", OFFICER, "#wg-list .wg-group"),
    ("/desk", SUPERVISOR, "#wg-list .wg-rows, #wg-list .wg-muted"),
    ("/sharing", STAFF, "#wg-list .wg-row"),
    ("/sharing", MANAGER, "#wg-list [data-section=requests]"),
    ("/admin", ADMIN, "#wg-list .wg-table"),
])
def test_every_page_fits_its_screen_without_console_errors(
    open_as: Callable[[ViewportSize], Seen], size: str, viewport: ViewportSize, path: str,
    who: tuple[str, str, str], ready: str,
) -> None:
    seen = open_as(viewport)
    log_in(seen, path, who)
    seen.page.locator(ready).first.wait_for()
    if path == "/":
        seen.page.click("#wg-work-open")
        seen.page.locator("#wg-work-list .wg-group").first.wait_for()
    seen.page.wait_for_timeout(300)
    seen.shot(f"page{path.replace('/', '-') if path != '/' else '-worker'}-{who[0]}-{size}")
    seen.no_horizontal_scroll()
    seen.clean()


def test_each_role_lands_on_its_own_page_after_logging_in_at_the_root(open_as: Callable[[ViewportSize], Seen]) -> None:
    seen = open_as(DESK)
    seen.page.goto(seen.base + "/")
    seen.page.fill("#wg-login-form input[name=username]", SUPERVISOR[0])
    seen.page.fill("#wg-login-form input[name=password]", SUPERVISOR[1])
    seen.page.click("#wg-login-form button[type=submit]")
    seen.page.wait_for_url(seen.base + "/desk")
    seen.page.locator("#wg-user", has_text=SUPERVISOR[2]).wait_for()
    seen.clean()
    assert_only_wangge_was_asked(PhonePage(seen.page, seen.base, [], [], []))


def test_community_staff_book_a_shared_room_from_its_week(open_as: Callable[[ViewportSize], Seen]) -> None:
    seen = open_as(PHONE)
    log_in(seen, "/sharing", STAFF)
    seen.page.locator("#wg-list .wg-row-open", has_text="二楼多功能厅").click()
    seen.page.locator("#wg-case .wg-day").first.wait_for()
    form = seen.page.locator("#wg-case form[data-move='book']")
    form.locator("select[name=day]").select_option(index=1)  # tomorrow
    form.locator("input[name=group_name]").fill("社区书法班")
    form.locator("button[type=submit]").click()
    seen.page.locator("#wg-case .wg-booking", has_text="社区书法班").wait_for()
    seen.shot("sharing-booked-phone")
    form = seen.page.locator("#wg-case form[data-move='book']")
    form.locator("select[name=day]").select_option(index=1)
    form.locator("button[type=submit]").click()  # the same slot again: refused, in Chinese
    seen.page.locator("#wg-status", has_text="该时段已被预约").wait_for()
    seen.page.once("dialog", lambda dialog: dialog.accept())
    seen.page.locator("#wg-case .wg-booking", has_text="社区书法班").locator("button").click()
    seen.page.locator("#wg-case .wg-booking", has_text="社区书法班").wait_for(state="detached")
    seen.errors = [e for e in seen.errors if "409" not in e]  # the refused booking's answer, expected
    seen.clean()
