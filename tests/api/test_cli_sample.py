"""`wangge sample load` end to end: the living city the README promises, loaded twice."""

from collections import Counter

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.incidents.workflow import overdue_clause
from gis.models import Category, GridCell, Incident, IncidentEvent, User

PRESS_FLOOR = {"09005": 51, "06001": 19, "06036": 50, "06030": 6, "06011": 8, "07003": 15, "07001": 60,
               "09001": 6, "06034": 3}


@pytest.fixture
def loaded(cli, db: Session) -> Session:
    result = cli("sample", "load")
    assert result.exit_code == 0, result.output
    return db


@pytest.mark.slow
def test_the_sample_is_a_living_city_and_loading_it_twice_changes_nothing(cli, loaded: Session) -> None:
    db = loaded
    by_category = Counter(dict(db.execute(
        select(Incident.category_code, func.count()).group_by(Incident.category_code)).all()))
    for code, floor in PRESS_FLOOR.items():
        assert by_category[code] >= floor, code
    statuses = set(db.scalars(select(Incident.status).distinct()))
    assert statuses >= {"reported", "registered", "rejected", "dispatched", "in_progress", "handled", "closed",
                        "shelved", "void", "duplicate"}
    assert db.scalar(select(func.count()).select_from(Incident).where(overdue_clause(func.now()))) >= 5
    assert db.scalar(select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "rework")) > 0
    assert db.scalar(select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "extend")) > 0
    roles = set(db.scalars(select(User.role).distinct()))
    assert roles == {"grid_worker", "officer", "supervisor", "planner", "admin", "unit_manager", "community_staff"}
    assert db.scalar(select(func.count()).select_from(GridCell)) > 2000
    assert db.scalar(select(func.count()).select_from(Category)) >= 250
    # Every sample incident was located in a cell of its community.
    assert db.scalar(select(func.count()).select_from(Incident).where(Incident.cell_code.is_(None))) == 0

    before = {t: db.scalar(text(f"SELECT count(*) FROM {t}"))  # our own table names
              for t in ("admin_area", "compound", "grid_cell", "incident", "incident_event", "app_user", "facility")}
    again = cli("sample", "load")
    assert again.exit_code == 0, again.output
    after = {t: db.scalar(text(f"SELECT count(*) FROM {t}")) for t in before}
    assert after == before


@pytest.mark.slow
def test_vendors_and_shop_overflow_cluster_while_sheds_sit_in_old_compounds(loaded: Session) -> None:
    db = loaded

    def mean_nn_distance(codes: tuple[str, ...]) -> float:
        # Mean distance (m) from each case to its nearest other case of the same kind: small means clustered.
        return float(db.scalar(text("""
            SELECT avg(d) FROM (
              SELECT (SELECT min(ST_Distance(a.location::geography, b.location::geography))
                      FROM incident b WHERE b.category_code = ANY(:codes) AND b.id <> a.id) AS d
              FROM incident a WHERE a.category_code = ANY(:codes)) t"""), {"codes": list(codes)}))

    assert mean_nn_distance(("09005", "09001")) < 0.5 * mean_nn_distance(("06012", "06013", "09009"))
    in_old = db.scalar(text("""
        SELECT count(*) FROM incident i JOIN compound c ON ST_Intersects(c.geom, i.location)
        WHERE i.category_code = '06001' AND c.built_year <= 2000"""))
    assert in_old >= 19
