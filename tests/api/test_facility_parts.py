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
