"""Fixtures for gis tests.

``street_world``: a small street-level world, built explicitly in the test transaction — one city, one
subdistrict, two square communities side by side near Jishou (each about 980 m × 1,110 m), three grid cells
(vertical strips) in each, two teams (one for the whole subdistrict, one for the second community only, so
the more specific one answers there) and one user of every role. ``cases``: six reports in it to list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from shapely.geometry import box
from sqlalchemy.orm import Session

from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.geojson import incidents_geojson
from gis.incidents.query import IncidentFilter
from gis.incidents.work_calendar import WorkCalendar
from gis.models import GridCell, Incident, Role, Team, User
from gis.people import users
from tests.common import CITY, QIANZHOU, area
from tests.factories import insert_areas

COMMUNITY_A, COMMUNITY_B = "433101004001", "433101004002"
# (min lon, min lat, max lon, max lat) of the two communities, WGS84.
BOX_A = (109.70, 28.30, 109.71, 28.31)
BOX_B = (109.71, 28.30, 109.72, 28.31)
INSIDE_A = (109.705, 28.305)  # a point in community A (cell …002)
INSIDE_B = (109.715, 28.305)  # a point in community B (cell …002)


@dataclass
class StreetWorld:
    cells: dict[str, GridCell]  # by code
    subdistrict_team: Team  # answers for the whole subdistrict (so for community A)
    community_b_team: Team  # answers for community B only: the more specific team there
    grid_worker: User
    officer_a: User  # of the subdistrict team
    officer_b: User  # of the community B team
    supervisor: User
    planner: User
    admin: User
    community_staff: User  # of community A

    def user(self, role: Role | str) -> User:
        return {
            Role.grid_worker: self.grid_worker, Role.officer: self.officer_a, Role.supervisor: self.supervisor,
            Role.planner: self.planner, Role.admin: self.admin, Role.community_staff: self.community_staff,
        }[Role(role)]


def _strips(community: str, bounds: tuple[float, float, float, float]) -> list[GridCell]:
    x0, y0, x1, y1 = bounds
    step = (x1 - x0) / 3
    return [
        GridCell(code=f"{community}{i + 1:03d}", community_code=community, area_m2=36_000.0,
                 geom=f"SRID=4326;MULTIPOLYGON((({x0 + i * step} {y0},{x0 + (i + 1) * step} {y0},"
                      f"{x0 + (i + 1) * step} {y1},{x0 + i * step} {y1},{x0 + i * step} {y0})))")
        for i in range(3)
    ]


@pytest.fixture
def street_world(db: Session) -> StreetWorld:
    return build_street_world(db)


def build_street_world(db: Session) -> StreetWorld:
    """The world of ``street_world``, for test packages that want it as their own fixture."""
    whole = (BOX_A[0], BOX_A[1], BOX_B[2], BOX_B[3])
    insert_areas(db, [
        area(CITY, "吉首市", "city", None, box(*whole)),
        area(QIANZHOU, "乾州街道", "subdistrict", CITY, box(*whole)),
        area(COMMUNITY_A, "乾州社区", "community", QIANZHOU, box(*BOX_A)),
        area(COMMUNITY_B, "万溶江社区", "community", QIANZHOU, box(*BOX_B)),
    ])
    cells = _strips(COMMUNITY_A, BOX_A) + _strips(COMMUNITY_B, BOX_B)
    db.add_all(cells)
    db.flush()
    subdistrict_team = users.create_team(db, name="乾州街道执法中队", jurisdiction_codes=[QIANZHOU])
    community_b_team = users.create_team(db, name="万溶江社区执法队", jurisdiction_codes=[COMMUNITY_B])

    def user(name: str, role: Role, **extra: object) -> User:
        return users.create_user(db, username=name, display_name=f"测试{name}", role=role, **extra)  # type: ignore[arg-type]

    return StreetWorld(
        cells={c.code: c for c in cells},
        subdistrict_team=subdistrict_team,
        community_b_team=community_b_team,
        grid_worker=user("grid1", Role.grid_worker, community_code=COMMUNITY_A, phone="000-0000-0001"),
        officer_a=user("officer_a", Role.officer, team=subdistrict_team),
        officer_b=user("officer_b", Role.officer, team=community_b_team),
        supervisor=user("supervisor1", Role.supervisor),
        planner=user("planner1", Role.planner),
        admin=user("admin1", Role.admin),
        community_staff=user("staff_a", Role.community_staff, community_code=COMMUNITY_A),
    )


# -- six cases to list (the incident_query and incident_geojson tests) -------------------------------------
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
