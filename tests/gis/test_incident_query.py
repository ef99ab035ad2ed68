from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy.orm import Session

from gis import incidents, workflow
from gis.errors import InvalidInput
from gis.incident_query import (
    PUBLIC_PROPERTIES,
    IncidentFilter,
    count_incidents,
    incidents_geojson,
    list_incidents,
)
from gis.models import Incident
from gis.workcalendar import WorkCalendar
from tests.gis.conftest import BOX_A, BOX_B, COMMUNITY_A, COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing


@pytest.fixture
def cases(db: Session, street_world: StreetWorld) -> list[Incident]:
    """Six reports an hour apart: four in A (two 占道经营, two 暴露垃圾), two in B; the first is dispatched."""
    spots = [INSIDE_A, (109.702, 28.302), INSIDE_A, (109.708, 28.308), INSIDE_B, (109.712, 28.302)]
    categories = ["09006", "09006", "06010", "06010", "09006", "06010"]
    made = [
        incidents.create(db, category_code=c, lon=x, lat=y, reporter=street_world.grid_worker,
                         description=f"案件{i} 联系人张三 13800000000", reported_at=T0 + timedelta(hours=i),
                         now=T0 + timedelta(hours=i), duplicate_radius_m=0).incident
        for i, ((x, y), c) in enumerate(zip(spots, categories, strict=True))
    ]
    for to in ("registered", "dispatched"):
        workflow.transition(db, incident=made[0], to=to, actor=street_world.supervisor,
                            expected_version=made[0].version, now=T0, calendar=WorkCalendar())
    return made


def ids(items: list[Incident]) -> list[int]:
    return [i.id for i in items]


def geojson_ids(db: Session, filters: IncidentFilter | None = None, **kwargs: Any) -> list[int]:
    collection = orjson.loads(incidents_geojson(db, filters, public=False, **kwargs).geojson)
    return [feature["properties"]["id"] for feature in collection["features"]]


def test_filters_narrow_the_list(db: Session, cases: list[Incident], street_world: StreetWorld) -> None:
    def listed(**kwargs: object) -> list[int]:
        filters, now = IncidentFilter(**kwargs), T0 + timedelta(days=1)  # type: ignore[arg-type]
        rows = ids(list_incidents(db, filters, sort="id", now=now).items)
        assert geojson_ids(db, filters, sort="id", now=now) == rows  # the map's path lists the same cases
        return rows

    assert listed() == ids(cases)
    assert listed(bbox=BOX_A) == ids(cases[:4])
    assert listed(categories=["06010"]) == ids([cases[2], cases[3], cases[5]])
    assert listed(statuses=["dispatched"]) == ids(cases[:1])
    assert listed(community_code=COMMUNITY_B) == ids(cases[4:])
    assert listed(cell_code=f"{COMMUNITY_A}001") == ids(cases[1:2])
    assert listed(subdistrict_code="433101004000") == ids(cases)
    assert listed(team_id=street_world.community_b_team.id) == ids(cases[4:])
    assert listed(reported_from=T0 + timedelta(hours=2), reported_to=T0 + timedelta(hours=4)) == ids(cases[2:4])
    assert listed(overdue=True) == ids(cases[:1])  # 2 working hours from Monday 09:00
    assert listed(overdue=False) == ids(cases[1:])
    assert listed(within_communities={COMMUNITY_B}) == ids(cases[4:])
    assert listed(within_communities=set()) == []
    assert listed(within_communities=set(), also_reported_by=street_world.grid_worker.id) == ids(cases)
    assert count_incidents(db, IncidentFilter(bbox=BOX_A)) == 4


@pytest.mark.parametrize("field, first, second", [
    ("bbox", BOX_A, BOX_B),
    ("categories", ["09006"], ["06010", "07001"]),
    ("statuses", ["dispatched"], ["reported"]),
    ("community_code", COMMUNITY_A, COMMUNITY_B),
    ("cell_code", f"{COMMUNITY_A}001", f"{COMMUNITY_B}002"),
    ("reported_from", T0 + timedelta(hours=4), T0 + timedelta(hours=1)),
    ("updated_from", T0 - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)),
    ("within_communities", {COMMUNITY_A}, {COMMUNITY_B}),
    ("within_cells", {f"{COMMUNITY_A}001"}, set()),
])
def test_the_geojson_binds_each_calls_values_to_its_compiled_statement(
    db: Session, cases: list[Incident], field: str, first: object, second: object
) -> None:
    """Two filters of one shape share a compiled statement: the second must not list the first's cases."""
    now = T0 + timedelta(days=1)
    for value in (first, second, first):
        filters = IncidentFilter(**{field: value})  # type: ignore[arg-type]
        expected = ids(list_incidents(db, filters, sort="id", now=now).items)
        assert geojson_ids(db, filters, sort="id", now=now) == expected
    assert ids(list_incidents(db, IncidentFilter(**{field: first}), sort="id", now=now).items) != ids(  # type: ignore[arg-type]
        list_incidents(db, IncidentFilter(**{field: second}), sort="id", now=now).items)  # type: ignore[arg-type]


def test_geojson_pages_by_offset_and_limit_rebind(db: Session, cases: list[Incident]) -> None:
    every = ids(list_incidents(db, sort="id").items)
    assert geojson_ids(db, sort="id", limit=2, offset=1) == every[1:3]
    assert geojson_ids(db, sort="id", limit=3, offset=2) == every[2:5]
    overdue_at = {True: T0 + timedelta(days=1), False: T0}  # the clock that decides "overdue" is bound too
    for late, now in overdue_at.items():
        assert geojson_ids(db, IncidentFilter(overdue=True), sort="id", now=now) == (every[:1] if late else [])


def test_bad_filter_values_are_refused_naming_the_field(db: Session, cases: list[Incident]) -> None:
    with pytest.raises(InvalidInput, match=r"^status: unknown"):
        list_incidents(db, IncidentFilter(statuses=["open"]))
    with pytest.raises(InvalidInput, match=r"^bbox: "):
        list_incidents(db, IncidentFilter(bbox=(109.8, 28.3, 109.7, 28.4)))
    with pytest.raises(InvalidInput, match=r"^reported_from: give a time zone"):
        list_incidents(db, IncidentFilter(reported_from=datetime(2026, 3, 1)))
    with pytest.raises(InvalidInput, match=r"^sort: "):
        list_incidents(db, sort="category")
    with pytest.raises(InvalidInput, match=r"^limit: "):
        list_incidents(db, limit=0)


@pytest.mark.parametrize("sort", ["-reported_at", "reported_at", "-updated_at", "id", "-id"])
def test_walking_the_keyset_cursor_visits_every_case_once_in_order(db: Session, cases: list[Incident], sort) -> None:
    expected = ids(list_incidents(db, sort=sort, limit=100).items)
    seen: list[int] = []
    cursor = None
    while True:
        page = list_incidents(db, sort=sort, limit=4, cursor=cursor)
        seen += ids(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == 6
    assert ids(list_incidents(db, sort=sort, limit=2, offset=2).items) == expected[2:4]


def test_a_cursor_from_another_sort_or_a_made_up_one_is_refused(db: Session, cases: list[Incident]) -> None:
    cursor = list_incidents(db, sort="-reported_at", limit=2).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="made for sort"):
        list_incidents(db, sort="id", cursor=cursor)
    with pytest.raises(InvalidInput, match=r"^cursor: not a cursor"):
        list_incidents(db, cursor="bm90LWEtY3Vyc29y")
    with pytest.raises(InvalidInput, match="not both"):
        list_incidents(db, cursor=cursor, offset=2)


def test_the_public_geojson_has_places_and_dates_but_no_reporter_or_free_text(
    db: Session, cases: list[Incident]
) -> None:
    page = incidents_geojson(db, IncidentFilter(bbox=BOX_A), public=True, now=T0 + timedelta(days=1))
    collection = orjson.loads(page.geojson)
    assert collection["type"] == "FeatureCollection" and page.returned == 4
    first = collection["features"][0]
    assert first["id"] == cases[3].public_id  # newest first
    assert first["geometry"] == {"type": "Point", "coordinates": [109.708, 28.308]}
    assert set(first["properties"]) == set(PUBLIC_PROPERTIES)
    assert "13800000000" not in page.geojson.decode() and "张三" not in page.geojson.decode()
    assert not {"description", "address", "reporter_id"} & set(first["properties"])
    overdue = {f["id"]: f["properties"]["overdue"] for f in collection["features"]}
    assert overdue[cases[0].public_id] is True and overdue[cases[1].public_id] is False


def test_the_staff_geojson_adds_the_description(db: Session, cases: list[Incident]) -> None:
    collection = orjson.loads(incidents_geojson(db, public=False, sort="id").geojson)
    assert collection["features"][0]["properties"]["description"] == cases[0].description
    assert collection["features"][0]["properties"]["team_id"] == cases[0].team_id


def test_coordinates_are_rounded_to_seven_decimals(db: Session, street_world: StreetWorld) -> None:
    incidents.create(db, category_code="09006", lon=109.705123456789, lat=28.305987654321)
    coordinates = orjson.loads(incidents_geojson(db).geojson)["features"][0]["geometry"]["coordinates"]
    assert coordinates == [109.7051235, 28.3059877]


def test_geojson_pages_follow_the_same_cursor_as_the_list(db: Session, cases: list[Incident]) -> None:
    listed = list_incidents(db, limit=4)
    page = incidents_geojson(db, limit=4)
    assert [f["id"] for f in orjson.loads(page.geojson)["features"]] == [i.public_id for i in listed.items]
    assert page.next_cursor == listed.next_cursor
    rest = incidents_geojson(db, limit=4, cursor=page.next_cursor)
    assert rest.returned == 2 and rest.next_cursor is None
    empty = incidents_geojson(db, IncidentFilter(categories=["07001"]))
    assert orjson.loads(empty.geojson) == {"type": "FeatureCollection", "features": []} and empty.returned == 0
