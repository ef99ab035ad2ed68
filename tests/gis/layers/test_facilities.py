"""The facility_sharing layer with a bbox: only the cells in view are computed, with the city's figures.

The world: 8 × 3 cells of 0.001° (about 98 m × 111 m) from 109.700 E, 28.250 N — the first row's first three
are ``WORLD_CELLS`` — and four facilities, one inactive. At 28.25° N a degree of longitude is about 98.1 km.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from gis.layers.base import BBox
from gis.layers.facilities import FacilitySharingLayer
from gis.models import Booking, GridCell
from gis.settings import Settings
from tests.facility_world import add_facility, add_unit
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS

COLUMNS, ROWS = 8, 3
# D lies east of the grid, 441 m from the east edge of column 4 (109.705) but 530 m from 109.7041: a view
# ending at 109.7041 shows column 4, whose figures must count D although D is beyond the view plus 500 m.
D = (109.7095, 28.2505)


def code(column: int, row: int) -> str:
    """The code of the cell in ``column`` (west to east) and ``row`` (south to north)."""
    if row == 0 and column < len(WORLD_CELLS):
        return WORLD_CELLS[column]
    return f"{FIRST_COMMUNITY}{100 * (row + 1) + column:03d}"


@pytest.fixture
def world(db: Session) -> Session:
    unit = add_unit(db)  # also writes WORLD_CELLS, the first row's first three cells
    for row in range(ROWS):
        for column in range(COLUMNS):
            if row == 0 and column < len(WORLD_CELLS):
                continue
            x, y = 109.700 + column * 0.001, 28.250 + row * 0.001
            db.add(GridCell(code=code(column, row), community_code=FIRST_COMMUNITY, area_m2=10_000.0,
                            geom=from_shape(MultiPolygon([box(x, y, x + 0.001, y + 0.001)]), 4326)))
    lot = add_facility(db, unit, name="停车场", type="parking_lot", at=(109.7005, 28.2505), capacity=100,
                       open_share=0.3)
    add_facility(db, unit, name="会议室", type="meeting_room", at=(109.7068, 28.2505), capacity=50,
                 opening_hours="Mo-Fr 18:00-21:00")
    add_facility(db, unit, name="操场", type="sports_court", at=D, capacity=500)
    add_facility(db, unit, name="停用的活动室", type="culture_room", at=(109.7035, 28.2515), is_active=False)
    now = datetime.now(UTC)
    for days in (2, 5):
        db.add(Booking(facility_id=lot.id, community_code=FIRST_COMMUNITY, starts_at=now - timedelta(days=days),
                       ends_at=now - timedelta(days=days, hours=-2), quantity=1, exclusive=False, status="active"))
    db.flush()
    return db


def layer() -> FacilitySharingLayer:
    return FacilitySharingLayer(metric_crs=Settings().metric_crs)


SMALL_VIEW = (109.7012, 28.2504, 109.7047, 28.2518)
ONE_CELL = (109.7072, 28.2522, 109.7078, 28.2528)
EDGE_NEAR_D = (109.7002, 28.2502, 109.7041, 28.2508)
WHOLE_CITY = (109.69, 28.24, 109.72, 28.26)
NOWHERE = (109.80, 28.40, 109.81, 28.41)
CASES = {
    "small view": (SMALL_VIEW, [code(c, r) for r in (0, 1) for c in (1, 2, 3, 4)]),
    "one cell": (ONE_CELL, [code(7, 2)]),
    "edge near a facility outside": (EDGE_NEAR_D, [code(c, 0) for c in range(5)]),
    "whole city": (WHOLE_CITY, [code(c, r) for r in range(ROWS) for c in range(COLUMNS)]),
    "empty area": (NOWHERE, []),
}


@pytest.mark.parametrize(("bbox", "codes"), CASES.values(), ids=CASES.keys())
def test_a_bbox_gives_the_citys_features_of_the_cells_it_touches(world: Session, bbox: BBox,
                                                                  codes: list[str]) -> None:
    city = layer().features(world)["features"]
    assert len(city) == COLUMNS * ROWS
    expected = [f for f in city if f["properties"]["code"] in codes]
    assert [f["properties"]["code"] for f in expected] == sorted(codes)
    assert layer().features(world, bbox=bbox)["features"] == expected  # ids, geometries and every figure


def test_a_cell_at_the_edge_of_a_view_counts_a_facility_beyond_the_view_and_its_radius(world: Session) -> None:
    by_code = {f["properties"]["code"]: f["properties"] for f in layer().features(world, bbox=EDGE_NEAR_D)["features"]}
    assert by_code[code(4, 0)]["facilities_in_reach"] == 3  # the parking lot, the meeting room and D
    assert by_code[code(4, 0)]["open_sports_court"] == 500
    assert by_code[code(0, 0)]["bookings"] == 2


@pytest.mark.parametrize(("bbox", "codes"), CASES.values(), ids=CASES.keys())
def test_count_pages_and_geodataframes_with_a_bbox_agree_with_the_features(world: Session, bbox: BBox,
                                                                           codes: list[str]) -> None:
    page = layer().query(world, bbox=bbox, limit=2, offset=1, with_count=True)
    assert (page.matched, page.returned) == (len(codes), len(codes[1:3]))
    assert [f["properties"]["code"] for f in orjson.loads(page.geojson)["features"]] == sorted(codes)[1:3]
    assert sorted(layer().to_geodataframe(world, bbox=bbox)["code"]) == sorted(codes)


def test_a_feature_is_found_by_its_code_with_its_city_figures(world: Session) -> None:
    city = {f["properties"]["code"]: f for f in layer().features(world)["features"]}
    found = layer().feature(world, code(4, 0))
    assert found is not None and orjson.loads(found) == city[code(4, 0)]


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


def _cells_computed(world: Session, stmt: Any) -> int:
    """Rows of ``grid_cell`` that enter the costly first step (the ``cells`` CTE: metric geometry, reach box).
    The final join that fetches each result cell's geometry by key may read the small table whole or by
    index, as the planner likes: that is cheap and not what the push-down is about."""
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    (plan,) = world.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")).scalar_one()
    (cte,) = [node for node in _plan_nodes(plan["Plan"]) if node.get("Subplan Name") == "CTE cells"]
    reads = [node["Actual Rows"] * node["Actual Loops"] for node in _plan_nodes(cte)
             if node.get("Relation Name") == "grid_cell"]
    assert reads, "the cells step reads no grid_cell at all"
    return max(reads)


def test_a_bbox_query_reads_no_cell_outside_the_bbox(world: Session) -> None:
    # Before the push-down the per-cell figures were computed for all 24 cells, then 23 were thrown away.
    assert _cells_computed(world, layer()._filtered(ONE_CELL)) == 1
    assert _cells_computed(world, layer()._filtered(None)) == 24  # the whole city of the test world


def test_a_feature_by_code_reads_that_cell_only(world: Session) -> None:
    assert _cells_computed(world, layer()._filtered(None, code(4, 0))) == 1
