import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import Forbidden, InvalidInput, NotFound
from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.models import Incident, IncidentEvent, Status
from gis.settings import Settings
from gis.spatial.crs import InputDatum, wgs84_to_gcj02
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _count(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(Incident)) or 0,
            db.scalar(select(func.count()).select_from(IncidentEvent)) or 0)


def _report(db: Session, world: StreetWorld, at: tuple[float, float] = INSIDE_A, category: str = "09006",
            **kwargs: object) -> incidents.Created:
    return incidents.create(db, category_code=category, lon=at[0], lat=at[1], reporter=world.grid_worker,
                            now=NOW, **kwargs)  # type: ignore[arg-type]


def test_a_report_is_located_in_its_cell_community_subdistrict_and_team(db: Session, street_world) -> None:
    incident = _report(db, street_world, description="门店占道").incident
    assert (incident.cell_code, incident.community_code, incident.subdistrict_code) == (
        f"{COMMUNITY_A}002", COMMUNITY_A, "433101004000")
    assert incident.team_id == street_world.subdistrict_team.id
    assert incident.status == Status.reported and incident.version == 1
    assert incident.reporter_id == street_world.grid_worker.id
    assert [(e.action, e.from_status, e.to_status) for e in incident.events] == [("report", None, "reported")]
    lon, lat = db.execute(select(func.ST_X(Incident.location), func.ST_Y(Incident.location))).one()
    assert (lon, lat) == pytest.approx(INSIDE_A)


def test_the_most_specific_team_answers_for_a_community(db: Session, street_world) -> None:
    incident = _report(db, street_world, at=INSIDE_B).incident
    assert incident.community_code == COMMUNITY_B
    assert incident.team_id == street_world.community_b_team.id  # not the subdistrict team


def test_the_public_id_carries_the_year_of_the_report_and_the_internal_number(db: Session, street_world) -> None:
    reported = datetime(2025, 12, 31, 17, 0, tzinfo=UTC)  # already 2026 in Beijing
    incident = _report(db, street_world, reported_at=reported).incident
    assert incident.public_id == f"JS-2026-{incident.id:06d}"
    assert incidents.get_or_raise(db, incident.public_id.lower()) is incident
    assert incidents.get_or_raise(db, str(incident.id)) is incident


def test_the_year_of_a_case_number_is_the_city_s_own(db: Session, street_world, settings: Settings) -> None:
    new_york = settings.model_copy(update={"timezone": "America/New_York", "case_prefix": "NYC"})
    reported = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))  # 2027 in UTC and in Beijing
    incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=street_world.grid_worker, reported_at=reported,
                                now=reported + timedelta(hours=1), settings=new_york).incident
    assert incident.public_id == f"NYC-2026-{incident.id:06d}"
    assert incidents.public_id(incident.id, reported, settings) == f"JS-2027-{incident.id:06d}"  # Jishou's year


def test_a_gcj02_position_is_converted_to_wgs84_before_it_is_located(db: Session, street_world) -> None:
    # 109.7095 is 50 m inside community A in WGS84; its GCJ-02 form lies about 500 m further east, in B.
    gcj_lon, gcj_lat = wgs84_to_gcj02(109.7095, 28.305)
    assert gcj_lon > 109.71
    incident = _report(db, street_world, at=(gcj_lon, gcj_lat), datum=InputDatum.gcj02).incident
    assert incident.community_code == COMMUNITY_A
    lon = db.scalar(select(func.ST_X(Incident.location)).where(Incident.id == incident.id))
    assert lon == pytest.approx(109.7095, abs=1e-7)


@pytest.mark.parametrize("category", [None, "", "99999", "6001"])
def test_a_missing_or_unknown_category_is_refused_and_nothing_is_written(db: Session, street_world, category) -> None:
    with pytest.raises(InvalidInput, match=r"^category: "):
        _report(db, street_world, category=category)
    assert _count(db) == (0, 0)


@pytest.mark.parametrize(("lon", "lat", "field"), [
    (181.0, 28.3, "lon"), (-180.5, 28.3, "lon"), (109.7, 90.01, "lat"), (109.7, -91, "lat"),
])
def test_lon_or_lat_out_of_range_is_refused_naming_the_field(db: Session, street_world, lon, lat, field) -> None:
    with pytest.raises(InvalidInput, match=rf"^{field}: .* outside"):
        _report(db, street_world, at=(lon, lat))
    assert _count(db) == (0, 0)


@pytest.mark.parametrize(("lon", "lat", "field"), [
    (math.nan, 28.3, "lon"), (109.7, math.inf, "lat"), ("NaN", 28.3, "lon"), (109.7, "-Infinity", "lat"),
    ("east", 28.3, "lon"),
])
def test_nan_infinity_and_text_are_refused_naming_the_field(db: Session, street_world, lon, lat, field) -> None:
    with pytest.raises(InvalidInput, match=rf"^{field}: "):
        _report(db, street_world, at=(lon, lat))
    assert _count(db) == (0, 0)


def test_swapped_lon_and_lat_are_refused_with_a_hint(db: Session, street_world) -> None:
    with pytest.raises(InvalidInput, match="swapped"):
        _report(db, street_world, at=(INSIDE_A[1], INSIDE_A[0]))
    assert _count(db) == (0, 0)


def test_a_point_outside_every_community_names_the_nearest_one_and_its_distance(db: Session, street_world) -> None:
    # 0.005° east of community B's east edge, at 28.305°N: 0.005 × 111.32 km × cos(28.305°) ≈ 490 m.
    with pytest.raises(InvalidInput) as caught:
        _report(db, street_world, at=(109.725, 28.305))
    message = str(caught.value)
    assert "outside every community" in message and "万溶江社区" in message and COMMUNITY_B in message
    metres = float(message.split(", ")[-1].split(" m")[0].replace(",", ""))
    assert 480 < metres < 500
    assert _count(db) == (0, 0)


def test_a_point_a_few_metres_outside_counts_as_in_the_nearest_community(db: Session, street_world) -> None:
    metre = 1 / (111_320 * math.cos(math.radians(28.305)))  # a metre of longitude at 28.305°N
    incident = _report(db, street_world, at=(109.72 + 3 * metre, 28.305)).incident  # 3 m east of B
    assert (incident.community_code, incident.cell_code) == (COMMUNITY_B, f"{COMMUNITY_B}003")
    with pytest.raises(InvalidInput, match=r"outside every community; .*, 8 m away"):
        _report(db, street_world, at=(109.72 + 8 * metre, 28.305), edge_tolerance_m=5)


def test_a_description_of_4000_characters_is_kept_and_one_more_is_refused(db: Session, street_world) -> None:
    assert len(_report(db, street_world, description="占" * 4000).incident.description) == 4000
    with pytest.raises(InvalidInput, match=r"^description: 4001 characters"):
        _report(db, street_world, description="占" * 4001)
    assert _count(db)[0] == 1


def test_html_and_script_in_text_are_stored_verbatim_as_text(db: Session, street_world) -> None:
    text = '<script>alert("x")</script><b>占道</b> & "引号"'
    incident = _report(db, street_world, description=text, address="<i>人民路</i>").incident
    db.expire_all()
    stored = db.get(Incident, incident.id)
    assert stored is not None and stored.description == text and stored.address == "<i>人民路</i>"


def test_a_report_dated_in_the_future_or_without_a_time_zone_is_refused(db: Session, street_world) -> None:
    with pytest.raises(InvalidInput, match=r"^reported_at: .* future"):
        _report(db, street_world, reported_at=NOW + timedelta(days=1))
    with pytest.raises(InvalidInput, match=r"^reported_at: give a time zone"):
        _report(db, street_world, reported_at=datetime(2026, 3, 1, 9, 0))
    assert _count(db) == (0, 0)


def test_an_unknown_source_is_refused(db: Session, street_world) -> None:
    with pytest.raises(InvalidInput, match=r"^source: "):
        _report(db, street_world, source="pigeon")


def test_a_planner_may_not_report(db: Session, street_world) -> None:
    with pytest.raises(Forbidden):
        incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1], reporter=street_world.planner)


def test_the_same_idempotency_key_returns_the_first_result_and_creates_nothing(db: Session, street_world) -> None:
    first = _report(db, street_world, idempotency_key="abc-123")
    again = _report(db, street_world, idempotency_key="abc-123")
    assert again.replayed and not first.replayed
    assert again.incident.id == first.incident.id
    assert _count(db) == (1, 1)


def test_the_same_idempotency_key_with_another_request_is_refused(db: Session, street_world) -> None:
    _report(db, street_world, idempotency_key="abc-123")
    with pytest.raises(incidents.IdempotencyKeyReused, match="different request"):
        _report(db, street_world, at=INSIDE_B, idempotency_key="abc-123", description="second try")
    assert _count(db) == (1, 1)


def test_the_same_idempotency_key_of_another_user_is_another_report(db: Session, street_world) -> None:
    first = _report(db, street_world, idempotency_key="k1")
    other = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                             reporter=street_world.supervisor, idempotency_key="k1", now=NOW)
    assert other.incident.id != first.incident.id and not other.replayed


def test_open_cases_of_the_same_category_within_50_m_are_returned_as_possible_duplicates(
    db: Session, street_world
) -> None:
    x, y = INSIDE_A
    near = _report(db, street_world, at=(x + 0.0003, y)).incident  # ~29 m east
    _report(db, street_world, at=(x + 0.0008, y))  # ~78 m east: too far
    _report(db, street_world, at=(x, y), category="06010")  # another category
    closed = _report(db, street_world, at=(x, y)).incident
    workflow.transition(db, incident=closed, to="reject", actor=street_world.supervisor, note="无效",
                        expected_version=1, now=NOW)
    created = _report(db, street_world, at=(x, y))
    assert [d.incident.id for d in created.duplicates] == [near.id]
    wider = incidents.find_duplicates(db, created.incident, radius_m=100)
    assert len(wider) == 2 and wider[0].id == near.id  # nearest first
    with_metres = incidents.duplicates_with_distance(db, created.incident, radius_m=100)
    assert [m for _, m in with_metres] == pytest.approx([29.4, 78.5], abs=1.0)
    before_sending = incidents.open_cases_near(db, lon=x, lat=y, category_code="09006")
    assert [(c.id, round(m)) for c, m in before_sending] == [(created.incident.id, 0), (near.id, 29)]


def test_marking_a_duplicate_links_both_ways_and_closes_it(db: Session, street_world) -> None:
    original = _report(db, street_world).incident
    copy = _report(db, street_world).incident
    result = incidents.mark_duplicate(db, incident=copy, of=original, actor=street_world.supervisor,
                                      expected_version=copy.version, now=NOW)
    assert result is original
    assert copy.status == Status.duplicate and copy.duplicate_of == original.id and copy.closed_at == NOW
    assert [d.id for d in original.duplicates] == [copy.id]
    assert copy.canonical is original
    assert copy.events[-1].action == "mark_duplicate" and copy.events[-1].data["original"] == original.public_id
    with pytest.raises(workflow.IsDuplicate, match=original.public_id) as caught:
        workflow.transition(db, incident=copy, to="register", actor=street_world.supervisor,
                            expected_version=copy.version)
    assert caught.value.original_public_id == original.public_id


def test_a_duplicate_of_a_duplicate_is_merged_into_the_original(db: Session, street_world) -> None:
    original, first, second = (_report(db, street_world).incident for _ in range(3))
    incidents.mark_duplicate(db, incident=first, of=original, actor=street_world.supervisor, expected_version=1)
    merged_into = incidents.mark_duplicate(db, incident=second, of=first, actor=street_world.supervisor,
                                           expected_version=1)
    assert merged_into is original and second.duplicate_of == original.id


def test_a_case_cannot_be_its_own_duplicate(db: Session, street_world) -> None:
    incident = _report(db, street_world).incident
    with pytest.raises(InvalidInput, match="itself"):
        incidents.mark_duplicate(db, incident=incident, of=incident, actor=street_world.supervisor,
                                 expected_version=1)
    assert incident.status == Status.reported


@pytest.mark.parametrize("ref", [987654, "987654", "JS-2026-987654", "nonsense"])
def test_an_unknown_incident_is_not_found(db: Session, street_world, ref) -> None:
    with pytest.raises(NotFound):
        incidents.get_or_raise(db, ref)
