"""api.routes.page_parts: the role pages' HTML parts, over HTTP with each role's token, through a whole case.

The browser tests drive the same parts in Chromium; these check what each part holds and refuses, fast."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from api.routes.page_parts import MAX_EVENTS_SHOWN
from gis.models import IncidentEvent, Status, User
from gis.people import users
from tests.api.test_incidents_api import image, report
from tests.gis.conftest import COMMUNITY_A, INSIDE_A, StreetWorld, street_world

__all__ = ["street_world"]

Headers = dict[str, str]


@pytest.fixture
def as_user(auth_headers: Callable[[User], Headers], street_world: StreetWorld) -> Callable[[str], Headers]:
    def headers(who: str) -> Headers:
        user = street_world.officer_b if who == "officer_b" else street_world.user(who)
        return auth_headers(user)

    return headers


def _version(html: str) -> str:
    match = re.search(r'data-version="(\d+)"', html)
    assert match, html
    return match.group(1)


def _move(client: TestClient, headers: Headers, case_id: int, to: str, html: str, **fields: str):
    files = {"photo": ("after.jpg", image(), "image/jpeg")} if fields.pop("photo", None) else None
    return client.post(f"/app/cases/{case_id}/moves", data={"to": to, "version": _version(html), **fields},
                       files=files, headers={**headers, "Accept-Language": "zh-CN"})


def test_a_case_goes_round_every_role_through_the_page_parts(
    client: TestClient, as_user, street_world, db: Session
) -> None:
    users.assign_cells(db, street_world.grid_worker, [c for c in street_world.cells if c.startswith(COMMUNITY_A)])
    worker, desk, officer = as_user("grid_worker"), as_user("supervisor"), as_user("officer")
    case = report(client, worker, description="人行道摆摊<script>")
    case_id = case["id"]

    page = client.get(f"/app/cases/{case_id}", headers=desk).text
    assert "&lt;script&gt;" in page and "<script>" not in page  # user text is escaped
    assert {"register", "reject", "void"} <= set(re.findall(r'data-move="(\w+)"', page))
    page = _move(client, desk, case_id, "register", page).text
    assert street_world.subdistrict_team.name + "（建议）" in page  # dispatch suggests the team of the location
    page = _move(client, desk, case_id, "dispatch", page, team_id=str(street_world.subdistrict_team.id)).text

    queue = client.get("/app/queue", headers=officer).text
    assert case["public_id"] in queue.split("待接单")[1].split("处置中")[0]
    assert "data-bounds=" in queue  # the map fits the team's jurisdiction
    page = client.get(f"/app/cases/{case_id}", headers=officer).text
    page = _move(client, officer, case_id, "take", page).text
    page = _move(client, officer, case_id, "request_extension", page, note="商户配合整改中", hours="6").text
    desk_view = client.get(f"/app/cases/{case_id}", headers=desk).text
    assert "申请延期 6 小时：商户配合整改中" in desk_view and 'name="requested_by"' in desk_view
    page = _move(client, desk, case_id, "extend", desk_view, note="同意", hours="6",
                 requested_by=str(street_world.officer_a.id)).text
    assert "申请延期 6 小时" not in page  # answered
    refused = _move(client, officer, case_id, "handle", page)  # 占道经营 needs a photo after handling
    assert refused.status_code == 422 and refused.json()["messages"]["zh-CN"] == "照片有误或缺少处置后照片"
    page = _move(client, officer, case_id, "handle", page, photo="1", note="已劝离").text
    assert "处置后" in page and 'data-photo-src="/api/v1/incidents/' in page

    work = client.get("/app/work", headers=worker).text
    assert case["public_id"] in work.split("待我核查")[1].split("我的网格内已逾期")[0]
    page = client.get(f"/app/cases/{case_id}", headers=worker).text
    assert re.findall(r'data-move="(\w+)"', page) == ["verify", "rework"]
    page = _move(client, worker, case_id, "verify", page, photo="1", note="现场已清理").text
    page = _move(client, desk, case_id, "close", page).text

    steps = re.findall(r'data-action="(\w+)" data-to="(\w+)"', page)
    assert steps == [("report", "reported"), ("register", "registered"), ("dispatch", "dispatched"),
                     ("take", "in_progress"), ("request_extension", "in_progress"), ("extend", "in_progress"),
                     ("handle", "handled"), ("verify", "verified"), ("close", "closed")]
    assert Status.closed.label_zh in page


def test_parts_answer_only_with_a_token_and_only_to_the_roles_they_serve(client: TestClient, as_user) -> None:
    assert client.get("/app/work").status_code == 401
    assert client.get("/app/desk", headers=as_user("officer")).status_code == 403
    assert client.get("/app/queue", headers=as_user("grid_worker")).status_code == 403
    bad = client.get("/app/desk?status=nonsense", headers={**as_user("supervisor"), "Accept-Language": "zh-CN"})
    assert bad.status_code == 422 and bad.json()["code"] == "InvalidInput"


def test_the_desk_list_filters_and_pages(client: TestClient, as_user) -> None:
    worker, desk = as_user("grid_worker"), as_user("supervisor")
    made = [report(client, worker, at=(INSIDE_A[0] + i * 1e-5, INSIDE_A[1]))["public_id"] for i in range(23)]
    first = client.get("/app/desk?status=reported", headers=desk).text
    second = client.get("/app/desk?status=reported&offset=20", headers=desk).text
    shown = re.findall(r'data-public-id="([^"]+)"', first) + re.findall(r'data-public-id="([^"]+)"', second)
    assert sorted(shown) == sorted(made) and "下一页" in first and "下一页" not in second
    assert re.findall(r'data-public-id="([^"]+)"', client.get("/app/desk?status=closed", headers=desk).text) == []


def test_the_desk_page_names_no_team_until_the_centre_has_signed_in(
        client: TestClient, db: Session, as_user) -> None:
    """The desk's page is served to anyone (it signs in by script): its team filter is a part behind the
    desk's right, so an anonymous visitor learns nothing of the city's teams."""
    users.create_team(db, name="<b>执法三中队</b>", jurisdiction_codes=[COMMUNITY_A])
    db.flush()
    page = client.get("/desk")
    assert page.status_code == 200 and "执法三中队" not in page.text
    assert client.get("/app/teams").status_code == 401
    assert client.get("/app/teams", headers=as_user("officer")).status_code == 403
    options = client.get("/app/teams", headers=as_user("supervisor")).text
    assert "&lt;b&gt;执法三中队&lt;/b&gt;" in options and "<b>" not in options


def test_a_case_panel_shows_a_bounded_history_however_long_it_grows(
        client: TestClient, db: Session, as_user, street_world: StreetWorld) -> None:
    case = report(client, as_user("grid_worker"))
    db.add_all(IncidentEvent(incident_id=case["id"], actor_id=street_world.supervisor.id, action="escalate",
                             from_status="reported", to_status="reported", note=f"催办 {i}")
               for i in range(MAX_EVENTS_SHOWN + 50))
    db.flush()
    html = client.get(f"/app/cases/{case['id']}", headers=as_user("supervisor")).text
    assert html.count('class="wg-event"') == MAX_EVENTS_SHOWN
    assert f"催办 {MAX_EVENTS_SHOWN + 49}" in html and "催办 0<" not in html  # the newest are shown
    assert "更早的 51 条记录未显示" in html  # the report and the first 50 reminders
