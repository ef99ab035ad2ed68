"""Browser fixtures: a real Wangge server on 127.0.0.1 over a committed test database, and Debian's
Chromium driven by Playwright at phone size.

The tests' usual rolled-back transaction cannot serve a browser (the server answers from its own
connections), so this package makes a database of its own next to the test database, migrates it by the
production path, seeds a small world and commits it, serves it with uvicorn in a thread, and drops it at
the end. Tests that write (reporting an incident) see their rows through ``browser_db``.

The world (``tests.factories`` + this module): the Jishou test world's communities, six cells in
433101004001 of which the grid worker ``WORKER`` patrols the first three, the category table, and four
incidents in those cells: one open, one overdue, one whose description is an XSS probe, one closed.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from geoalchemy2.shape import from_shape
from playwright.sync_api import Browser, Dialog, Page, Request, ViewportSize, sync_playwright
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from gis import migrate
from gis.db import make_engine, normalise_url
from gis.evaluation import facts
from gis.incidents.categories import load_categories
from gis.models import GridCell, Incident
from gis.people import users
from gis.settings import Settings
from tests.conftest import _drop_database, _fresh_database
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS, add_user, add_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}

WORKER = ("wangwu", "xunCha-2026", "王五")  # username, password, display name
OTHER_CELLS = [f"{FIRST_COMMUNITY}{n:03d}" for n in (4, 5, 6)]  # east of the worker's, patrolled by nobody
# West and east edge (lon) of every seeded cell: all lie in one row, 28.250–28.251 N.
CELL_SPANS = {code: (109.700 + i * 0.001, 109.701 + i * 0.001) for i, code in enumerate([*WORLD_CELLS, *OTHER_CELLS])}
XSS = "<img src=x onerror=alert(1)>"


@dataclass(frozen=True)
class SeededIncident:
    description: str
    lon: float
    lat: float
    status: str
    overdue: bool


# Inside the worker's cells (109.700–109.703 E, 28.250–28.251 N, see tests.factories.insert_cells).
INCIDENTS = (
    SeededIncident("井盖松动，有异响", 109.7005, 28.2505, "reported", False),
    SeededIncident("占道经营，已超时未处理", 109.7015, 28.2506, "dispatched", True),
    SeededIncident(XSS, 109.7025, 28.2504, "registered", False),
    SeededIncident("已结案的问题", 109.7012, 28.2502, "closed", False),
)
# A free spot in the worker's middle cell, for tapping a new report, and one just south of every community.
REPORT_AT = (109.7015, 28.2508)
OUTSIDE = (109.7010, 28.2495)


def _seed(session: Session) -> None:
    add_world(session)  # the worker's cells: 109.700–109.703 E, 28.250–28.251 N
    session.add_all(
        GridCell(code=code, community_code=FIRST_COMMUNITY, area_m2=10_000.0,
                 geom=from_shape(MultiPolygon([box(CELL_SPANS[code][0], 28.25, CELL_SPANS[code][1], 28.251)]),
                                 srid=4326))
        for code in OTHER_CELLS
    )
    load_categories(session)
    username, password, name = WORKER
    worker = add_user(session, "grid_worker", username=username, password=password, display_name=name)
    users.assign_cells(session, worker, WORLD_CELLS)
    now = datetime.now(UTC)
    for n, seeded in enumerate(INCIDENTS, start=1):
        cell = WORLD_CELLS[int((seeded.lon - 109.70) / 0.001)]
        dispatched = seeded.status in {"dispatched", "closed"}
        session.add(
            Incident(
                public_id=f"JS-2026-{n:06d}",
                category_code="01001" if n % 2 else "09006",
                description=seeded.description,
                location=from_shape(Point(seeded.lon, seeded.lat), srid=4326),
                source="patrol",
                reporter_id=worker.id,
                cell_code=cell,
                community_code=FIRST_COMMUNITY,
                subdistrict_code=FIRST_COMMUNITY[:9] + "000",
                status=seeded.status,
                reported_at=now - timedelta(days=2),
                dispatched_at=now - timedelta(days=2) if dispatched else None,
                deadline_at=(now - timedelta(hours=3)) if seeded.overdue else (now + timedelta(days=1)),
                closed_at=now - timedelta(hours=1) if seeded.status == "closed" else None,
            )
        )
    session.flush()
    # Written straight into the table, as a dump or a script would: their evaluation facts are made the way
    # `wangge evaluation rebuild-facts` makes them for such data (the service's paths keep their own).
    facts.rebuild(session)


@pytest.fixture(scope="session")
def browser_database(database_url: str) -> Iterator[Engine]:
    """A committed, seeded database beside the test database, dropped at the end of the session."""
    parsed = make_url(normalise_url(database_url))
    url = parsed.set(database=f"{parsed.database}_browser").render_as_string(hide_password=False)
    _fresh_database(url)
    engine = make_engine(url)
    migrate.upgrade(engine)
    with sessionmaker(engine)() as session, session.begin():
        _seed(session)
    yield engine
    engine.dispose()
    _drop_database(url)


@pytest.fixture
def browser_db(browser_database: Engine) -> Iterator[Session]:
    """A session on the served database, to check what the page wrote."""
    with sessionmaker(browser_database)() as session:
        yield session


@pytest.fixture(scope="session")
def server(browser_database: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free 127.0.0.1 port; yields the base URL."""
    state = tmp_path_factory.mktemp("browser-state")
    url = browser_database.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url, state_dir=Path(state)), database_url=url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; uvicorn serves the bound socket, no race
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True, name="wangge-uvicorn")
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start; see the log above")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `scripts/ensure-system.sh browser` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PhonePage:
    """A page at phone size that records every request to another host and every dialog."""

    page: Page
    base: str
    outside_requests: list[str]
    dialogs: list[str]
    errors: list[str]


@pytest.fixture
def phone(browser: Browser, server: str) -> Iterator[PhonePage]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    record = PhonePage(page=page, base=server, outside_requests=[], dialogs=[], errors=[])

    def on_request(request: Request) -> None:
        url = request.url
        if not (url.startswith(server + "/") or url.startswith(("data:", "blob:"))):
            record.outside_requests.append(url)

    def on_dialog(dialog: Dialog) -> None:
        record.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("request", on_request)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: record.errors.append(str(error)))
    yield record
    context.close()


@pytest.fixture
def logged_in(phone: PhonePage) -> Callable[[], PhonePage]:
    """Open the page and log in as the grid worker; returns the page once the worker's cells are drawn."""

    def login() -> PhonePage:
        page = phone.page
        page.goto(phone.base + "/")
        form = page.locator("#wg-login-form")
        form.locator("input[name=username]").fill(WORKER[0])
        form.locator("input[name=password]").fill(WORKER[1])
        form.locator("button[type=submit]").click()
        page.locator("path.wg-cell-own").first.wait_for()
        return phone

    return login
