from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy.orm import Session

from gis.incidents import service as incidents
from gis.incidents.geojson import PUBLIC_PROPERTIES, incidents_geojson
from gis.incidents.query import IncidentFilter, list_incidents
from gis.models import Incident
from tests.gis.conftest import (
    BOX_A,
    BOX_B,
    COMMUNITY_A,
    COMMUNITY_B,
    T0,
    StreetWorld,
    geojson_ids,
    ids,
)


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


@pytest.mark.parametrize("sort", ["-reported_at", "reported_at", "-updated_at", "id", "-id"])
def test_walking_geojson_pages_by_cursor_visits_the_lists_order(db: Session, cases: list[Incident], sort: str) -> None:
    """Every page after the first binds a new cursor to the same compiled statement."""
    expected = ids(list_incidents(db, sort=sort, limit=100).items)
    seen: list[int] = []
    cursor = None
    while True:
        page = incidents_geojson(db, public=False, sort=sort, limit=2, cursor=cursor)
        seen += [feature["properties"]["id"] for feature in orjson.loads(page.geojson)["features"]]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected and len(seen) == 6
