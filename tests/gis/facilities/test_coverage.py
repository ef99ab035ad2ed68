from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.facilities.coverage import sharing_select, unreached_cells, unreached_compounds
from gis.layers import registry
from gis.layers.facilities import FacilitySharingLayer
from gis.models import Booking, Compound, Facility
from gis.settings import Settings
from tests.facility_world import add_facility, add_unit
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS

# The world's three cells are 0.001° squares along lat 28.250–28.251 from lon 109.700 eastwards; there a
# degree of longitude is about 98.1 km. EAST lies in the cells' row, 372 m east of the third cell, 471 m
# of the second and 569 m of the first.
IN_FIRST_CELL = (109.7005, 28.2505)
EAST = (109.7068, 28.2505)


@pytest.fixture
def world(db: Session) -> Session:
    unit = add_unit(db)
    add_facility(db, unit, name="停车场", type="parking_lot", at=IN_FIRST_CELL, capacity=100, open_share=0.3,
                 opening_hours="Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00")
    add_facility(db, unit, name="会议室", type="meeting_room", at=EAST, capacity=50,
                 opening_hours="Mo-Fr 18:00-21:00")
    add_facility(db, unit, name="停用的活动室", type="culture_room", at=EAST, capacity=80, is_active=False)
    return db


def rows(db: Session, **options: object) -> dict[str, dict[str, object]]:
    layer = FacilitySharingLayer(metric_crs=Settings().metric_crs, **options)  # type: ignore[arg-type]
    return {f["properties"]["code"]: f["properties"] for f in layer.features(db)["features"]}


def test_each_cell_counts_facilities_inside_and_within_500_m(world: Session) -> None:
    by_code = rows(world)
    first, second, third = (by_code[c] for c in WORLD_CELLS)
    assert (first["facilities_inside"], first["facilities_in_reach"]) == (1, 1)
    assert (second["facilities_inside"], second["facilities_in_reach"]) == (0, 2)
    assert (third["facilities_inside"], third["facilities_in_reach"]) == (0, 2)


def test_a_bbox_selects_only_the_cells_it_touches_with_their_city_figures(world: Session) -> None:
    end = datetime.now(UTC)
    start, metric = end - timedelta(days=30), Settings().metric_crs
    # The third cell alone, without the layer's own bbox filter on top: no other cell comes back with zeros.
    third = (109.7022, 28.2502, 109.7028, 28.2508)
    view = world.execute(sharing_select(metric_crs=metric, start=start, end=end, bbox=third)).mappings().all()
    city = world.execute(sharing_select(metric_crs=metric, start=start, end=end)).mappings().all()
    assert [dict(row) for row in view] == [dict(row) for row in city if row["code"] == WORLD_CELLS[2]]
    assert view[0]["facilities_in_reach"] == 2  # the meeting room east of the view, and the parking lot


def test_open_capacity_is_summed_by_type_and_unit_of_capacity(world: Session) -> None:
    first, second = (rows(world)[c] for c in WORLD_CELLS[:2])
    assert (first["open_spaces"], first["open_parking_lot"], first["open_people"]) == (30, 30, 0)
    assert (second["open_spaces"], second["open_people"], second["open_meeting_room"]) == (30, 50, 50)
    assert second["open_culture_room"] == 0  # the inactive room shares nothing
    assert second["types_in_reach"] == 2


def test_open_hours_are_facility_hours_per_week_in_reach(world: Session) -> None:
    first, second = (rows(world)[c] for c in WORLD_CELLS[:2])
    assert first["open_hours_week"] == pytest.approx(105.5)
    assert second["open_hours_week"] == pytest.approx(105.5 + 15)


def test_a_smaller_radius_reaches_fewer_facilities(world: Session) -> None:
    by_code = rows(world, radius_m=400)
    assert [by_code[c]["facilities_in_reach"] for c in WORLD_CELLS] == [1, 1, 2]


def test_active_bookings_in_the_period_at_facilities_in_reach_are_counted(world: Session) -> None:
    lot_id = world.scalar(select(Facility.id).where(Facility.name == "停车场"))
    now = datetime.now(UTC)
    for days, status in [(3, "active"), (10, "active"), (12, "cancelled"), (45, "active")]:
        world.add(Booking(facility_id=lot_id, community_code=FIRST_COMMUNITY, starts_at=now - timedelta(days=days),
                          ends_at=now - timedelta(days=days) + timedelta(hours=2), quantity=1, exclusive=False,
                          status=status))
    world.flush()
    assert rows(world)[WORLD_CELLS[0]]["bookings"] == 2
    assert rows(world, period_days=60)[WORLD_CELLS[0]]["bookings"] == 3


def test_cells_and_compounds_without_a_facility_in_reach_are_listed(world: Session) -> None:
    world.add(Compound(name="远处小区", community_code="433101005002",
                       geom=from_shape(MultiPolygon([box(109.75, 28.32, 109.751, 28.321)]), 4326)))
    world.add(Compound(name="近处小区", community_code=FIRST_COMMUNITY,
                       geom=from_shape(MultiPolygon([box(109.701, 28.252, 109.702, 28.253)]), 4326)))
    world.flush()
    metric = Settings().metric_crs
    assert unreached_cells(world, metric_crs=metric) == []
    assert [c.code for c in unreached_compounds(world, metric_crs=metric)] == ["远处小区"]


def test_a_cell_with_nothing_in_reach_is_unreached_at_a_short_radius(world: Session) -> None:
    metric = Settings().metric_crs
    # At 30 m the first cell still holds the parking lot (49 m from the second); the others reach nothing.
    assert [c.code for c in unreached_cells(world, metric_crs=metric, radius_m=30)] == WORLD_CELLS[1:]


def test_the_facility_layer_publishes_no_contact_details(world: Session) -> None:
    layer = registry(Settings())["facilities"]
    features = layer.features(world)["features"]
    assert {f["properties"]["name"] for f in features} == {"停车场", "会议室"}
    assert not {"contact_name", "contact_phone"} & set(features[0]["properties"])
    assert set(features[0]["properties"]) == {f.name for f in layer.fields}


def test_the_sharing_layer_answers_with_its_declared_fields_and_bbox(world: Session) -> None:
    layer = registry(Settings())["facility_sharing"]
    page = layer.query(world, bbox=(109.7000, 28.2500, 109.7009, 28.2509), with_count=True)
    assert page.returned == page.matched == 1
    feature = layer.features(world, limit=1)["features"][0]
    assert set(feature["properties"]) == {f.name for f in layer.fields}
    assert feature["geometry"]["type"] == "MultiPolygon"
    gdf = layer.to_geodataframe(world)
    assert list(gdf.columns) == [f.name for f in layer.fields] + ["geom"]
