"""Every list in every answer is bounded (issue 14, finding 2): many open cases at one point name at most
``MAX_DUPLICATES`` possible duplicates, nearest first; merged cases, histories and facility lists come in pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from gis.facilities import service as facilities
from gis.facilities.service import UnitSpec
from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.service import MAX_DUPLICATES
from gis.models import Incident, User
from tests.facility_world import facility_spec
from tests.gis.conftest import INSIDE_A, StreetWorld, street_world

__all__ = ["street_world"]
URL = "/api/v1/incidents"
CROWD = MAX_DUPLICATES * 3  # open cases of one category on one point, as a geocoded hotline export makes


def crowd(db: Session, world: StreetWorld, n: int = CROWD) -> list[Incident]:
    made = [incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1], reporter=world.supervisor,
                             duplicate_radius_m=0).incident for _ in range(n)]
    db.flush()
    return made


@pytest.mark.parametrize("idempotent", [False, True], ids=["fast path", "detailed path"])
def test_a_report_among_many_open_cases_names_only_the_nearest_few(
        client: TestClient, db: Session, street_world: StreetWorld, auth_headers: Callable[[User], dict[str, str]],
        idempotent: bool) -> None:
    crowd(db, street_world)
    near = incidents.create(db, category_code="09006", lon=INSIDE_A[0] + 0.0002, lat=INSIDE_A[1],
                            reporter=street_world.supervisor, duplicate_radius_m=0).incident  # ~20 m east
    headers = {**auth_headers(street_world.grid_worker), **({"Idempotency-Key": "k-1"} if idempotent else {})}
    response = client.post(URL, json={"category_code": "09006", "lon": INSIDE_A[0] + 0.00001, "lat": INSIDE_A[1]},
                           headers=headers)
    assert response.status_code == 201, response.text
    found = response.json()["possible_duplicates"]
    assert len(found) == MAX_DUPLICATES
    assert near.public_id not in {d["public_id"] for d in found}  # the crowd at ~1 m comes first
    assert all(d["lon"] == pytest.approx(INSIDE_A[0]) for d in found)


def test_the_duplicates_of_a_case_are_bounded_and_count_what_was_merged(
        client: TestClient, db: Session, street_world: StreetWorld,
        auth_headers: Callable[[User], dict[str, str]]) -> None:
    original, *others = crowd(db, street_world, 130)
    merged_ids = [i.id for i in others[:110]]
    db.execute(update(Incident).where(Incident.id.in_(merged_ids)).values(status="duplicate", duplicate_of=original.id))
    db.flush()
    answer = client.get(f"{URL}/{original.id}/duplicates", headers=auth_headers(street_world.supervisor)).json()
    assert len(answer["possible"]) == MAX_DUPLICATES
    assert len(answer["merged"]) == 100 and answer["merged_total"] == 110
    assert [m["id"] for m in answer["merged"]] == sorted(merged_ids, reverse=True)[:100]


def test_service_find_duplicates_takes_at_most_its_limit(db: Session, street_world: StreetWorld) -> None:
    first, *_ = crowd(db, street_world, 15)
    assert len(incidents.find_duplicates(db, first, radius_m=50)) == MAX_DUPLICATES
    assert len(incidents.find_duplicates(db, first, radius_m=50, limit=3)) == 3


def test_a_history_comes_in_pages(client: TestClient, db: Session, street_world: StreetWorld,
                                  auth_headers: Callable[[User], dict[str, str]]) -> None:
    case = crowd(db, street_world, 1)[0]
    for to in ("register", "dispatch"):
        workflow.transition(db, incident=case, to=to, actor=street_world.supervisor, expected_version=case.version)
    db.flush()
    headers = auth_headers(street_world.supervisor)
    whole = client.get(f"{URL}/{case.id}/history", headers=headers).json()
    assert [e["action"] for e in whole] == ["report", "register", "dispatch"]
    page = client.get(f"{URL}/{case.id}/history", params={"limit": 1, "offset": 1}, headers=headers).json()
    assert [e["action"] for e in page] == ["register"]


@pytest.mark.parametrize("path", ["/api/v1/units", "/api/v1/facilities"])
def test_facility_lists_come_in_pages(client: TestClient, db: Session, street_world: StreetWorld,
                                      auth_headers: Callable[[User], dict[str, str]], path: str) -> None:
    for name in ("州政府机关", "州法院"):
        unit = facilities.create_unit(db, UnitSpec(name=name, kind="government"))
        facilities.create_facility(db, unit=unit, spec=facility_spec(name=f"{name}会议室", at=INSIDE_A))
    db.flush()
    headers = auth_headers(street_world.admin)
    assert len(client.get(path, headers=headers).json()) == 2
    first = client.get(path, params={"limit": 1}, headers=headers).json()
    second = client.get(path, params={"limit": 1, "offset": 1}, headers=headers).json()
    assert len(first) == len(second) == 1 and first != second
