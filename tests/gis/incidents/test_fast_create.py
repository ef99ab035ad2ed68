"""``fast_create.report_by_id``, the one-statement create of the HTTP route: the same case as ``incidents.create``,
or None with nothing written (the route then calls ``create``, which words the refusal).

The world is ``street_world``: communities A and B side by side, three strip cells each, the subdistrict
team answering for A and a team of its own for B.
"""

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.incidents import fast_create, workflow
from gis.incidents import service as incidents
from gis.models import Category, Incident, IncidentEvent, Role, Source, Status
from gis.settings import PROJECT_ROOT, Settings
from gis.spatial.crs import InputDatum, wgs84_to_gcj02
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
METRE_OF_LON = 1 / (111_320 * math.cos(math.radians(INSIDE_A[1])))  # a metre of longitude at 28.305°N
# Everything a case holds that does not depend on which number it drew.
SAME_AS_CREATE = [c for c in Incident.__table__.c if c.name not in ("id", "public_id", "location")]
EVENT_COLUMNS = [c for c in IncidentEvent.__table__.c if c.name not in ("id", "incident_id")]


def _report_by_id(db: Session, world: StreetWorld, at: tuple[Any, Any] = INSIDE_A, category: Any = "09006",
               **kwargs: Any) -> tuple[Any, incidents.Created] | None:
    kwargs.setdefault("user_id", world.grid_worker.id)
    return fast_create.report_by_id(db, category_code=category, lon=at[0], lat=at[1], now=NOW, **kwargs)


def _created(db: Session, world: StreetWorld, **kwargs: Any) -> incidents.Created:
    result = _report_by_id(db, world, **kwargs)
    assert result is not None, "report_by_id refused a report that create accepts"
    return result[1]


def _count(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(Incident)) or 0,
            db.scalar(select(func.count()).select_from(IncidentEvent)) or 0)


def _stored(db: Session, incident_id: int) -> dict[str, Any]:
    """The case as the database holds it (not as either session object says), location as WKT."""
    row = db.execute(select(*SAME_AS_CREATE, func.ST_AsText(Incident.location).label("wkt"))
                     .where(Incident.id == incident_id)).one()
    return row._asdict()


def _events(db: Session, incident_id: int) -> list[dict[str, Any]]:
    rows = db.execute(select(*EVENT_COLUMNS).where(IncidentEvent.incident_id == incident_id)).all()
    return [row._asdict() for row in rows]


# -- the same case as create ------------------------------------------------------------------------------
@pytest.mark.parametrize(("at", "community", "team"), [
    (INSIDE_A, COMMUNITY_A, "subdistrict_team"), (INSIDE_B, COMMUNITY_B, "community_b_team"),
])
def test_it_stores_the_same_case_and_report_event_as_create(
    db: Session, street_world: StreetWorld, at, community, team
) -> None:
    fields: dict[str, Any] = {"description": "门店占道 <b>经营</b>", "address": " 人民北路 12 号 ",
                              "source": Source.hotline_12345, "reported_at": NOW - timedelta(hours=2)}
    # Another category for each, so that neither finds the other as a possible duplicate.
    by_create = incidents.create(db, category_code="06010", lon=at[0], lat=at[1], reporter=street_world.grid_worker,
                                 now=NOW, **fields).incident
    user, created = _report_by_id(db, street_world, at=at, category="09006", **fields)  # type: ignore[misc]
    db.flush()
    db.expire_all()
    ours, theirs = _stored(db, created.incident.id), _stored(db, by_create.id)
    assert ours.pop("category_code") == "09006" and theirs.pop("category_code") == "06010"
    assert ours == theirs
    assert ours["community_code"] == community and ours["cell_code"] == f"{community}002"
    assert ours["subdistrict_code"] == "433101004000"
    assert ours["team_id"] == getattr(street_world, team).id
    assert ours["address"] == "人民北路 12 号" and ours["status"] == Status.reported and ours["version"] == 1
    assert ours["deadline_at"] is None  # the clock starts at dispatch, for both
    assert _events(db, created.incident.id) == _events(db, by_create.id)
    assert [e["action"] for e in _events(db, created.incident.id)] == ["report"]
    assert user.id == street_world.grid_worker.id and created.duplicates == [] and not created.replayed


def test_the_public_id_is_the_beijing_year_and_the_padded_internal_number(db: Session, street_world) -> None:
    reported = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)  # already 2026 in Beijing
    incident = _created(db, street_world, reported_at=reported).incident
    assert incident.public_id == incidents.public_id(incident.id, reported) == f"JS-2026-{incident.id:06d}"
    assert incident.reported_at == reported
    stored = incidents.get_or_raise(db, incident.public_id)
    assert stored.id == incident.id and incident not in db  # detached, as if loaded by a closed session


def test_the_public_id_takes_the_year_in_the_city_s_time_zone(db: Session, street_world, settings: Settings) -> None:
    new_york = settings.model_copy(update={"timezone": "America/New_York"})
    reported = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))  # 2027-01-01 04:30 UTC
    result = fast_create.report_by_id(db, user_id=street_world.grid_worker.id, category_code="09006",
                                      lon=INSIDE_A[0], lat=INSIDE_A[1], reported_at=reported,
                                      now=reported + timedelta(hours=1), settings=new_york)
    assert result is not None
    incident = result[1].incident
    assert incident.public_id == incidents.public_id(incident.id, reported, new_york) == f"JS-2026-{incident.id:06d}"


def test_the_returned_case_needs_no_further_query_for_its_category(db: Session, street_world) -> None:
    incident = _created(db, street_world).incident
    assert "category" in incident.__dict__ and incident.category.code == "09006"


def test_every_role_that_may_report_may_report_this_way(db: Session, street_world) -> None:
    for role in (Role.grid_worker, Role.officer, Role.supervisor, Role.community_staff, Role.admin):
        user = street_world.user(role)
        assert _created(db, street_world, user_id=user.id).incident.reporter_id == user.id


def test_a_gcj02_position_lands_at_its_wgs84_point(db: Session, street_world) -> None:
    # 109.7095 is 50 m inside community A in WGS84; its GCJ-02 form lies about 500 m further east, in B.
    gcj_lon, gcj_lat = wgs84_to_gcj02(109.7095, 28.305)
    assert gcj_lon > 109.71
    incident = _created(db, street_world, at=(gcj_lon, gcj_lat), datum=InputDatum.gcj02).incident
    lon, lat = db.execute(select(func.ST_X(Incident.location), func.ST_Y(Incident.location))
                          .where(Incident.id == incident.id)).one()
    assert (lon, lat) == pytest.approx((109.7095, 28.305), abs=1e-7)
    assert (incident.community_code, incident.cell_code) == (COMMUNITY_A, f"{COMMUNITY_A}003")
    assert _events(db, incident.id)[0]["data"] == {"source": "patrol", "datum": "gcj02"}


# -- possible duplicates ----------------------------------------------------------------------------------
def test_open_cases_of_the_same_category_within_50_m_come_back_nearest_first(db: Session, street_world) -> None:
    x, y = INSIDE_A

    def case(dx_m: float, category: str = "09006") -> Incident:
        return _created(db, street_world, at=(x + dx_m * METRE_OF_LON, y), category=category).incident

    farther, nearer = case(40), case(-10)
    case(60)  # too far
    case(0, category="06010")  # another category
    closed = case(5)
    workflow.transition(db, incident=closed, to="reject", actor=street_world.supervisor, note="无效",
                        expected_version=1, now=NOW)
    created = _created(db, street_world)
    assert [d.incident.id for d in created.duplicates] == [nearer.id, farther.id]
    assert [d.id for d in incidents.find_duplicates(db, created.incident)] == [nearer.id, farther.id]
    assert all(d.incident.category.code == "09006" for d in created.duplicates)
    # the fast path measures as the service does: the same metres for the same cases
    slow = incidents.duplicates_with_distance(db, created.incident)
    assert [d.distance_m for d in created.duplicates] == pytest.approx([m for _, m in slow], abs=0.01)
    assert [round(d.distance_m) for d in created.duplicates] == [10, 40]


def test_a_radius_of_zero_finds_no_duplicates(db: Session, street_world) -> None:
    _created(db, street_world)
    assert _created(db, street_world, duplicate_radius_m=0).duplicates == []


# -- refused: None, and nothing written -------------------------------------------------------------------
def _deactivate(db: Session, world: StreetWorld) -> dict[str, Any]:
    world.grid_worker.is_active = False
    db.flush()
    return {}


def _retire_category(db: Session, world: StreetWorld) -> dict[str, Any]:
    category = db.get_one(Category, "09006")
    category.active = False
    db.flush()
    return {}


REFUSED: dict[str, Any] = {
    "inactive user": _deactivate,
    "planner may not report": lambda db, w: {"user_id": w.planner.id},
    "unknown user": lambda db, w: {"user_id": 987_654},
    "unknown category": lambda db, w: {"category": "99999"},
    "empty category": lambda db, w: {"category": " "},
    "no category": lambda db, w: {"category": None},
    "inactive category": _retire_category,
    "outside every community": lambda db, w: {"at": (109.725, 28.305)},
    # create takes a point a few metres outside as in the nearest community; the fast path leaves it to create.
    "3 m outside": lambda db, w: {"at": (109.72 + 3 * METRE_OF_LON, 28.305)},
    "swapped": lambda db, w: {"at": (INSIDE_A[1], INSIDE_A[0])},
    "lon over 180": lambda db, w: {"at": (181.0, 28.3)},
    "lat under -90": lambda db, w: {"at": (109.7, -91.0)},
    "NaN lon": lambda db, w: {"at": (math.nan, 28.3)},
    "infinite lat": lambda db, w: {"at": (109.7, math.inf)},
    "NaN as text": lambda db, w: {"at": ("NaN", 28.3)},
    "text lon": lambda db, w: {"at": ("east", 28.3)},
    "missing lat": lambda db, w: {"at": (109.7, None)},
    "future reported_at": lambda db, w: {"reported_at": NOW + timedelta(days=1)},
    "naive reported_at": lambda db, w: {"reported_at": datetime(2026, 3, 1, 9, 0)},
    "description too long": lambda db, w: {"description": "占" * 4001},
    "NUL in description": lambda db, w: {"description": "占\x00道"},
    "address too long": lambda db, w: {"address": "路" * 201},
    "unknown source": lambda db, w: {"source": "pigeon"},
}


@pytest.mark.parametrize("case", REFUSED)
def test_anything_off_gives_none_and_writes_nothing(db: Session, street_world, case: str) -> None:
    _created(db, street_world, at=INSIDE_B)  # a case already there, which must stay the only one
    before = _count(db)
    kwargs = REFUSED[case](db, street_world)
    assert _report_by_id(db, street_world, **kwargs) is None
    assert _count(db) == before == (1, 1)


def test_the_limits_themselves_are_accepted(db: Session, street_world) -> None:
    incident = _created(db, street_world, description="占" * 4000, address="路" * 200,
                        reported_at=NOW + timedelta(minutes=9)).incident  # a phone clock a little fast
    assert len(incident.description) == 4000 and len(incident.address or "") == 200


def test_a_fresh_process_can_report_before_any_other_query() -> None:
    """In a new server process the first create may come before anything else has used the ORM."""
    code = ("from gis.incidents.fast_create import _CATEGORY_KEYS, _loaded\n"
            "from gis.models import Category\n"
            "c = _loaded(Category, _CATEGORY_KEYS, ['09006', None, '09', 'x', '占道经营', 'Stalls', 2.0, True, True])\n"
            "print(c.name_zh)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            check=False)
    assert (result.returncode, result.stdout.strip()) == (0, "占道经营"), result.stderr
