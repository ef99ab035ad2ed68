import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from api.deps import token_config
from api.main import create_app
from gis.facilities import service as facilities
from gis.facilities.opening_hours import TIMEZONE
from gis.models import AdminArea, Booking, Facility, Unit, User
from gis.people import security, users
from gis.settings import Settings
from tests.facility_world import INSIDE, OUTSIDE, add_facility, add_unit
from tests.factories import FIRST_COMMUNITY

Headers = dict[str, str]
NEXT_MONDAY = (datetime.now(TIMEZONE) + timedelta(days=7 - datetime.now(TIMEZONE).weekday() + 7)).replace(
    hour=0, minute=0, second=0, microsecond=0)


def slot(hour: int, hours: int = 1, day: int = 0) -> dict[str, str]:
    start = NEXT_MONDAY + timedelta(days=day, hours=hour)
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat()}


@pytest.fixture
def world(db: Session, make_user: Callable[..., User]) -> dict[str, object]:
    unit = add_unit(db, "测试医院", "hospital")
    manager = make_user("unit_manager")
    facilities.add_manager(db, unit=unit, user=manager)
    room = add_facility(db, unit, opening_hours="Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00", capacity=40)
    return {"unit": unit, "manager": manager, "room": room, "staff": make_user("community_staff"),
            "planner": make_user("planner"), "other_manager": make_user("unit_manager")}


def test_a_unit_manager_adds_a_facility_to_their_unit(client: TestClient, world, auth_headers) -> None:
    body = {"name": "停车场", "type": "parking_lot", "lon": INSIDE[0], "lat": INSIDE[1], "capacity": 200,
            "open_share": 0.3, "opening_hours": "周一至周五 18:30-07:30；周六、周日 全天", "rules": "7座及以下"}
    response = client.post(f"/api/v1/units/{world['unit'].id}/facilities", json=body,
                           headers=auth_headers(world["manager"]))
    assert response.status_code == 201, response.text
    read = response.json()
    assert (read["community_code"], read["open_capacity"], read["capacity_unit"]) == (FIRST_COMMUNITY, 60, "spaces")
    assert read["opening_hours"] == "Mo-Fr 18:30-07:30; Sa-Su 00:00-24:00"


def test_a_manager_of_another_unit_may_not_add_or_edit_its_facilities(client: TestClient, world, auth_headers) -> None:
    headers = auth_headers(world["other_manager"])
    assert client.patch(f"/api/v1/facilities/{world['room'].id}", json={"capacity": 10},
                        headers=headers).status_code == 403
    assert client.post(f"/api/v1/units/{world['unit'].id}/facilities", headers=headers, json={
        "name": "x", "type": "other", "lon": INSIDE[0], "lat": INSIDE[1], "capacity": 1,
        "opening_hours": "Mo 08:00-09:00"}).status_code == 403


@pytest.mark.parametrize(("changes", "status", "names"), [
    ({"lon": OUTSIDE[0], "lat": OUTSIDE[1]}, 422, "outside every community"),
    ({"opening_hours": "Mo-Fr 18:30"}, 422, "opening_hours"),
    ({"capacity": 0}, 422, "capacity"),
])
def test_bad_facilities_are_refused_and_nothing_is_written(client: TestClient, world, auth_headers, db: Session,
                                                          changes: dict[str, object], status: int, names: str) -> None:
    body = {"name": "新会议室", "type": "meeting_room", "lon": INSIDE[0], "lat": INSIDE[1], "capacity": 30,
            "opening_hours": "Mo 08:00-09:00", **changes}
    response = client.post(f"/api/v1/units/{world['unit'].id}/facilities", json=body,
                           headers=auth_headers(world["manager"]))
    assert response.status_code == status and names in response.json()["detail"]
    assert db.scalar(select(Facility).where(Facility.name == "新会议室")) is None


def test_community_staff_book_and_a_conflicting_booking_is_a_409_naming_the_slot(
        client: TestClient, world, auth_headers) -> None:
    url = f"/api/v1/facilities/{world['room'].id}/bookings"
    headers = auth_headers(world["staff"])
    first = client.post(url, json={**slot(19, 2), "quantity": 20, "group_name": "合唱团"}, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["community_code"] == FIRST_COMMUNITY
    clash = client.post(url, json=slot(20), headers=headers)
    assert clash.status_code == 409
    assert f"booking {first.json()['id']}" in clash.json()["detail"] and clash.json()["code"] == "BookingConflict"


@pytest.mark.parametrize(("body", "status", "names"), [
    (slot(12), 422, "closed at"),  # Monday noon: the room opens at 18:30
    ({**slot(19), "quantity": 41}, 422, "quantity: 41"),
    ({**slot(19), "community_code": "433101005001"}, 403, "outside the community"),
])
def test_bad_bookings_are_refused_with_a_clear_4xx_and_nothing_written(
        client: TestClient, world, auth_headers, db: Session, body: dict[str, object], status: int,
        names: str) -> None:
    response = client.post(f"/api/v1/facilities/{world['room'].id}/bookings", json=body,
                           headers=auth_headers(world["staff"]))
    assert response.status_code == status and names in response.json()["detail"], response.text
    assert db.scalar(select(Booking)) is None


def test_planners_read_but_may_not_book(client: TestClient, world, auth_headers) -> None:
    headers = auth_headers(world["planner"])
    assert client.get("/api/v1/facilities", headers=headers).json()[0]["name"] == world["room"].name
    assert client.post(f"/api/v1/facilities/{world['room'].id}/bookings", json={
        **slot(19), "community_code": FIRST_COMMUNITY}, headers=headers).status_code == 403


def test_the_calendar_shows_open_windows_and_bookings_and_cancel_frees_the_slot(
        client: TestClient, world, auth_headers) -> None:
    staff = auth_headers(world["staff"])
    booked = client.post(f"/api/v1/facilities/{world['room'].id}/bookings", json=slot(19), headers=staff).json()
    start, end = NEXT_MONDAY.isoformat(), (NEXT_MONDAY + timedelta(days=1)).isoformat()
    cal = client.get(f"/api/v1/facilities/{world['room'].id}/calendar", params={"start": start, "end": end},
                     headers=auth_headers(world["planner"])).json()
    assert [b["booking_id"] for b in cal["bookings"]] == [booked["id"]]
    assert len(cal["open"]) == 1 and cal["exclusive"] is True
    assert client.post(f"/api/v1/bookings/{booked['id']}/cancel",
                       headers=auth_headers(world["manager"])).json()["status"] == "cancelled"
    assert client.post(f"/api/v1/facilities/{world['room'].id}/bookings", json=slot(19),
                       headers=staff).status_code == 201


def test_a_request_waits_for_the_unit_manager_who_approves_or_declines_it(
        client: TestClient, world, auth_headers) -> None:
    room, staff, manager = world["room"], auth_headers(world["staff"]), auth_headers(world["manager"])
    assert client.patch(f"/api/v1/facilities/{room.id}", json={"approval_required": True},
                        headers=manager).json()["approval_required"] is True
    url = f"/api/v1/facilities/{room.id}/bookings"
    first = client.post(url, json=slot(19), headers=staff).json()
    assert first["status"] == "requested"
    assert client.post(url, json=slot(19), headers=staff).status_code == 409  # the request holds its slot
    waiting = client.get("/api/v1/bookings", params={"status": "requested"}, headers=manager).json()
    assert [b["id"] for b in waiting] == [first["id"]]
    refused = client.post(f"/api/v1/bookings/{first['id']}/approve", headers=staff)
    assert refused.status_code == 403 and refused.json()["code"] == "Forbidden"
    assert client.post(f"/api/v1/bookings/{first['id']}/approve", headers=auth_headers(world["other_manager"])
                       ).status_code == 403
    approved = client.post(f"/api/v1/bookings/{first['id']}/approve", headers=manager).json()
    assert approved["status"] == "active" and approved["decided_at"] is not None

    second = client.post(url, json=slot(22), headers=staff).json()
    no_reason = client.post(f"/api/v1/bookings/{second['id']}/decline", json={"note": ""}, headers=manager)
    assert no_reason.status_code == 422
    declined = client.post(f"/api/v1/bookings/{second['id']}/decline", json={"note": "当晚单位自用"},
                           headers=manager).json()
    assert (declined["status"], declined["decision_note"]) == ("declined", "当晚单位自用")
    again = client.post(f"/api/v1/bookings/{second['id']}/approve", headers=manager)
    assert again.status_code == 409 and again.json()["code"] == "Conflict"
    mine = client.get("/api/v1/bookings", params={"include_cancelled": "true"}, headers=staff).json()
    assert {b["id"]: b["status"] for b in mine} == {first["id"]: "active", second["id"]: "declined"}


def test_units_list_their_pairings_without_contacts(client: TestClient, world, auth_headers) -> None:
    put = client.put(f"/api/v1/units/{world['unit'].id}/pairings/{FIRST_COMMUNITY}",
                     json={"since": "2023-03-01", "commitment": "开放停车场"}, headers=auth_headers(world["manager"]))
    assert put.status_code == 200, put.text
    units = client.get("/api/v1/units", params={"community_code": FIRST_COMMUNITY},
                       headers=auth_headers(world["staff"])).json()
    assert units[0]["pairings"] == [{"community_code": FIRST_COMMUNITY, "since": "2023-03-01",
                                     "commitment": "开放停车场"}]
    assert "contact_name" not in units[0] and "contact_phone" not in units[0]


# -- parallel requests against a real app and committed rows ----------------------------------------

PARALLEL_COMMUNITY = "433101999002"


@pytest.fixture
def live(engine: Engine, tmp_path) -> Iterator[tuple[TestClient, Headers, Headers, int]]:
    """An app on the real test database, with a committed community, room and two staff users."""
    settings = Settings(database_url="postgresql://unused/unused", state_dir=tmp_path / "state")
    app = create_app(settings, database_url=engine.url.render_as_string(hide_password=False))
    with Session(engine) as session:
        session.add(AdminArea(code=PARALLEL_COMMUNITY, name="并行测试社区", level="community",
                              parent_code="433101999000",
                              geom=from_shape(MultiPolygon([box(112.0, 29.0, 112.01, 29.01)]), 4326)))
        session.flush()
        unit = facilities.create_unit(session, facilities.UnitSpec(name="并行测试单位", kind="school"))
        room = facilities.create_facility(session, unit=unit, spec=facilities.FacilitySpec(
            name="并行会议室", type="meeting_room", lon=112.005, lat=29.005, capacity=30,
            opening_hours="Mo-Su 00:00-24:00"))
        staff = [users.create_user(session, username=f"parallel_staff_{i}", display_name="并行", role="community_staff",
                                   community_code=PARALLEL_COMMUNITY) for i in range(2)]
        session.commit()
        ids = (unit.id, room.id, [s.id for s in staff])
    config = token_config(settings)
    headers = [{"Authorization": "Bearer " + security.create_access_token(str(i), secret=config.secret,
                                                                          minutes=5).token} for i in ids[2]]
    try:
        with TestClient(app) as client:
            yield client, headers[0], headers[1], ids[1]
    finally:
        with Session(engine) as session:
            session.execute(delete(Booking).where(Booking.facility_id == ids[1]))
            session.execute(delete(Facility).where(Facility.id == ids[1]))
            session.execute(delete(Unit).where(Unit.id == ids[0]))
            session.execute(delete(User).where(User.id.in_(ids[2])))
            session.execute(delete(AdminArea).where(AdminArea.code == PARALLEL_COMMUNITY))
            session.commit()


def test_parallel_requests_for_the_same_slot_exactly_one_wins(live) -> None:
    client, first, second, room = live
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def attempt(headers: Headers) -> None:
        barrier.wait()
        statuses.append(client.post(f"/api/v1/facilities/{room}/bookings", json=slot(9), headers=headers).status_code)

    threads = [threading.Thread(target=attempt, args=(h,)) for h in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201, 409]
