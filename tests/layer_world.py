"""A small world in which every published layer has features, with personal data planted where a careless
layer would leak it: for tests of what leaves the system (exports, the OGC API).

On top of ``tests.factories.add_world`` (2 subdistricts, 4 communities, three 0.001° cells at
109.700–109.703 E, 28.250–28.251 N): a compound with a Chinese name, a unit whose contact person and phone
are personal, a facility, and three incidents whose reporter and free text hold names and phone numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy.orm import Session

from gis.evaluation import hotspots
from gis.incidents.categories import load_categories
from gis.models import Category, Compound, Incident
from tests.facility_world import add_facility, add_unit
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS, add_user, add_world

COMPOUND_NAME = "老街小区·湘西"
FACILITY_NAME = "乾州街道会议室"
# Strings that must never appear in an export or a public layer.
SECRETS = ("张三", "13800000000", "李四联系人", "13911112222", "王网格员", "13700000001")
INCIDENT_IDS = [f"JS-X-{n:06d}" for n in (1, 2, 3)]


def add_layer_world(session: Session) -> None:
    """Write the world into ``session`` (flushed, not committed)."""
    add_world(session)
    session.add(Compound(name=COMPOUND_NAME, community_code=FIRST_COMMUNITY, address="乾州路1号", households=120,
                         property_company="吉首物业", built_year=2008,
                         geom=from_shape(MultiPolygon([box(109.7002, 28.2502, 109.7008, 28.2508)]), 4326)))
    unit = add_unit(session, name="吉首市图书馆", contact_name="李四联系人", contact_phone="13911112222")
    add_facility(session, unit, name=FACILITY_NAME, type="meeting_room", at=(109.7015, 28.2515), capacity=40)
    if session.get(Category, "01001") is None:
        load_categories(session)
    reporter = add_user(session, "grid_worker", display_name="王网格员", phone="13700000001")
    now = datetime.now(UTC)
    for n, (public_id, cell) in enumerate(zip(INCIDENT_IDS, WORLD_CELLS, strict=True)):
        session.add(Incident(
            public_id=public_id, category_code="01001", description="张三 13800000000 反映井盖松动",
            location=from_shape(Point(109.7005 + n * 0.001, 28.2505), 4326), source="patrol",
            reporter_id=reporter.id, cell_code=cell, community_code=FIRST_COMMUNITY,
            subdistrict_code=FIRST_COMMUNITY[:9] + "000", status="reported", reported_at=now - timedelta(days=n + 1),
        ))
    session.flush()
    hotspots.refresh(session, period=hotspots.last_weeks(now + timedelta(days=7)), now=now)
