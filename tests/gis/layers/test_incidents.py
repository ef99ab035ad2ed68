from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.orm import Session

from gis.layers.density import IncidentDensityLayer
from gis.layers.incidents import IncidentLayer
from gis.models import Category, GridCell, Incident, User

NOW = datetime.now(UTC)


def _incident(db: Session, n: int, cell: str, status: str, *, deadline: datetime | None = None,
              reported: datetime = NOW, reporter: User | None = None) -> None:
    x = 109.7005 if cell.endswith("001") else 109.7015
    db.add(Incident(public_id=f"JS-T-{n:06d}", category_code="06001", description="张三 13800000000 <b>x</b>",
                    location=from_shape(Point(x, 28.3005), 4326), source="patrol", cell_code=cell,
                    community_code=cell[:12], status=status, deadline_at=deadline, reported_at=reported,
                    reporter_id=reporter.id if reporter else None))


@pytest.fixture
def world(db: Session) -> Session:
    if db.get(Category, "06001") is None:  # the migration loads the national list
        db.add(Category(code="06001", major_code="06", major_name="市容环境类", name_zh="私搭乱建",
                        name_en="Illegal structures", deadline_hours=16, after_photo_required=True))
    for seq, x0 in (("001", 109.700), ("002", 109.701)):
        db.add(GridCell(code=f"433101002001{seq}", community_code="433101002001", area_m2=10_000.0,
                        geom=from_shape(MultiPolygon([box(x0, 28.300, x0 + 0.001, 28.301)]), 4326)))
    reporter = User(username="w1", display_name="王网格", phone="13900000000", role="grid_worker")
    db.add(reporter)
    db.flush()
    _incident(db, 1, "433101002001001", "reported", reporter=reporter)
    _incident(db, 2, "433101002001001", "dispatched", deadline=NOW - timedelta(hours=1))
    _incident(db, 3, "433101002001001", "closed")
    _incident(db, 4, "433101002001001", "void")
    _incident(db, 5, "433101002001001", "closed", reported=NOW - timedelta(days=400))
    db.flush()
    return db


def test_density_counts_last_year_open_and_overdue_per_cell(world: Session) -> None:
    cells = {f["properties"]["code"]: f["properties"] for f in IncidentDensityLayer().features(world)["features"]}
    busy, quiet = cells["433101002001001"], cells["433101002001002"]
    assert (busy["incidents"], busy["open"], busy["overdue"]) == (3, 2, 1)  # void and 400-day-old left out
    assert busy["per_km2"] == pytest.approx(300.0)
    assert (quiet["incidents"], quiet["per_km2"]) == (0, 0)


def test_incident_points_carry_no_personal_data_or_free_text(world: Session) -> None:
    page = IncidentLayer().query(world)
    text = page.geojson.decode()
    assert page.returned == 5
    for secret in ("张三", "13800000000", "王网格", "13900000000", "description", "reporter"):
        assert secret not in text
    overdue = {f["properties"]["public_id"]: f["properties"]["overdue"]
               for f in IncidentLayer().features(world)["features"]}
    assert overdue["JS-T-000002"] is True and overdue["JS-T-000001"] is False
