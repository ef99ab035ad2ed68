"""api.routes.facility_parts: a facility's week, booking and cancelling from the page, over HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.facilities import service as facilities
from gis.incidents.work_calendar import SHANGHAI
from gis.models import User
from tests.facility_world import add_facility, add_unit
from tests.factories import FIRST_COMMUNITY


@pytest.fixture
def world(db: Session, make_user: Callable[..., User]) -> dict[str, object]:
    unit = add_unit(db, name="吉首市档案馆")
    facilities.pair(db, unit=unit, community_code=FIRST_COMMUNITY)
    room = add_facility(db, unit, name="三楼会议室", opening_hours="Mo-Su 08:00-18:00")
    manager = make_user("unit_manager")
    facilities.add_manager(db, unit=unit, user=manager)
    return {"room": room, "manager": manager, "staff": make_user("community_staff"), "planner": make_user("planner")}


def test_staff_book_a_room_from_its_week_and_the_manager_sees_and_cancels_it(
    client: TestClient, world, auth_headers
) -> None:
    staff, manager = auth_headers(world["staff"]), auth_headers(world["manager"])
    room = world["room"]
    listed = client.get("/app/facilities", headers=staff).text
    assert "三楼会议室" in listed and f'hx-get="/app/facilities/{room.id}/week"' in listed
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    week = client.get(f"/app/facilities/{room.id}/week", headers=staff).text
    assert week.count('class="wg-day"') == 7 and "08:00–18:00" in week and 'data-move="book"' in week
    booked = client.post(f"/app/facilities/{room.id}/bookings", headers=staff,
                         data={"day": tomorrow, "starts": "09:00", "ends": "11:00", "group_name": "老年协会<b>"})
    assert booked.status_code == 200, booked.text
    assert "09:00–11:00" in booked.text and "老年协会&lt;b&gt;" in booked.text
    clash = client.post(f"/app/facilities/{room.id}/bookings", headers={**staff, "Accept-Language": "zh-CN"},
                        data={"day": tomorrow, "starts": "10:00", "ends": "12:00"})
    assert clash.status_code == 409 and clash.json()["messages"]["zh-CN"] == "该时段已被预约，请换一个时段"

    own = client.get("/app/facilities", headers=manager).text
    assert "本单位结对共建社区" in own and FIRST_COMMUNITY in own
    week = client.get(f"/app/facilities/{room.id}/week?day={tomorrow}", headers=manager).text
    booking_id = re.search(r'data-booking-id="(\d+)"', week).group(1)
    assert "取消预约" in week and 'data-move="book"' not in week  # managers cancel; staff book
    cancelled = client.post(f"/app/bookings/{booking_id}/cancel", data={"day": tomorrow}, headers=manager)
    assert cancelled.status_code == 200 and 'data-booking-id' not in cancelled.text


def test_the_week_refuses_a_bad_day_and_roles_without_facility_rights(client: TestClient, world, auth_headers) -> None:
    room = world["room"]
    bad = client.get(f"/app/facilities/{room.id}/week?day=tomorrow", headers=auth_headers(world["staff"]))
    assert bad.status_code == 422 and bad.json()["code"] == "InvalidInput"
    booking = client.post(f"/app/facilities/{room.id}/bookings", headers=auth_headers(world["manager"]),
                          data={"day": "2030-01-01", "starts": "09:00", "ends": "10:00"})
    assert booking.status_code in (403, 422)


def test_the_manager_approves_and_declines_requests_from_the_page_and_staff_see_the_outcome(
    client: TestClient, world, auth_headers, db: Session
) -> None:
    staff, manager = auth_headers(world["staff"]), auth_headers(world["manager"])
    room = world["room"]
    tomorrow = (datetime.now(SHANGHAI) + timedelta(days=1)).date().isoformat()
    week = client.get(f"/app/facilities/{room.id}/week", headers=manager).text
    assert "预约即时确认" in week and 'data-form="approval"' in week
    assert 'data-form="approval"' not in client.get(f"/app/facilities/{room.id}/week", headers=staff).text
    turned = client.post(f"/app/facilities/{room.id}/approval", data={"required": "yes"}, headers=manager)
    assert turned.status_code == 200 and "预约须经本单位审批" in turned.text
    for starts, ends in (("09:00", "10:00"), ("14:00", "15:00")):
        booked = client.post(f"/app/facilities/{room.id}/bookings", headers=staff,
                             data={"day": tomorrow, "starts": starts, "ends": ends, "purpose": "议事会"})
        assert booked.status_code == 200 and 'data-status="requested"' in booked.text
    listed = client.get("/app/facilities", headers=manager).text
    ids = re.findall(r'class="wg-request" data-booking-id="(\d+)"', listed)
    assert len(ids) == 2 and "待审批的预约" in listed
    approved = client.post(f"/app/bookings/{ids[0]}/decision", data={"decision": "approve"}, headers=manager)
    assert approved.status_code == 200 and "已批准" in approved.text
    unexplained = client.post(f"/app/bookings/{ids[1]}/decision", data={"decision": "decline"},
                              headers={**manager, "Accept-Language": "zh-CN"})
    assert unexplained.status_code == 422 and "原因" in unexplained.json()["messages"]["zh-CN"]
    declined = client.post(f"/app/bookings/{ids[1]}/decision", data={"decision": "decline", "note": "单位自用"},
                           headers=manager)
    assert declined.status_code == 200 and 'class="wg-request"' not in declined.text
    assert client.post(f"/app/bookings/{ids[1]}/decision", data={"decision": "approve"},
                       headers=staff).status_code == 403
    mine = client.get("/app/facilities", headers=staff).text
    assert "本社区的预约" in mine and "已确认" in mine and "未通过" in mine and "原因：单位自用" in mine


def test_a_unit_manager_pairs_with_a_community_and_ends_it_from_the_page(
    client: TestClient, world, auth_headers, db: Session
) -> None:
    manager = auth_headers(world["manager"])
    unit_id = world["room"].unit_id
    listed = client.get("/app/facilities", headers=manager).text
    assert 'data-form="pair"' in listed and f'data-community="{FIRST_COMMUNITY}"' in listed
    other = re.findall(r'<option value="(\d{12})">', listed)
    assert other, "the form offers the current communities"
    target = next(code for code in other if code != FIRST_COMMUNITY)
    paired = client.post(f"/app/units/{unit_id}/pairings", headers=manager,
                         data={"community_code": target, "since": "2026-01-01", "commitment": "每月开放两次<i>"})
    assert paired.status_code == 200 and f'data-community="{target}"' in paired.text
    assert "已与" in paired.text and "每月开放两次&lt;i&gt;" in paired.text
    ended = client.post(f"/app/units/{unit_id}/pairings/{target}/end", headers=manager)
    assert ended.status_code == 200 and f'data-community="{target}"' not in ended.text and "已解除" in ended.text
    refused = client.post(f"/app/units/{unit_id}/pairings", headers=auth_headers(world["staff"]),
                          data={"community_code": target})
    assert refused.status_code == 403
    bad = client.post(f"/app/units/{unit_id}/pairings", headers=manager, data={"community_code": target,
                                                                              "since": "去年"})
    assert bad.status_code == 422 and bad.json()["code"] == "InvalidInput"
