"""gis.people.patrols: a grid worker's patrol, its positions, and what a day covered."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput
from gis.incidents.work_calendar import SHANGHAI
from gis.models import PatrolPoint, Role
from gis.people import patrols
from gis.people.patrols import Position
from tests.factories import WORLD_CELLS, add_user, add_world

MORNING = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


@pytest.fixture
def worker(db: Session):
    add_world(db)  # cells 109.700–109.703 E, 28.250–28.251 N (tests.factories)
    return add_user(db, Role.grid_worker, username="xunluo")


def _walk(*lons: float) -> list[Position]:
    return [Position(lon, 28.2505, MORNING + timedelta(minutes=i)) for i, lon in enumerate(lons)]


def test_a_patrol_records_its_route_and_the_cells_it_crossed(db: Session, worker) -> None:
    patrol = patrols.start(db, user=worker, now=MORNING)
    assert patrols.add_points(db, patrol=patrol, positions=_walk(109.7005, 109.7015), now=MORNING) == 2
    patrols.stop(db, patrol=patrol, now=MORNING + timedelta(minutes=30))
    today = patrols.day(db, user=worker, on=MORNING)
    assert today.patrols == 1 and today.points == 2 and today.open_patrol_id is None
    assert today.cells == WORLD_CELLS[:2]
    assert today.distance_m == pytest.approx(98.1, abs=1.0)  # 0.001° of longitude at 28.25° N
    with pytest.raises(Conflict):
        patrols.add_points(db, patrol=patrol, positions=_walk(109.7025), now=MORNING)


def test_a_bad_position_is_refused_whole_and_names_its_field(db: Session, worker) -> None:
    patrol = patrols.start(db, user=worker, now=MORNING)
    bad = [*_walk(109.7005), Position(200.0, 28.25, MORNING)]
    with pytest.raises(InvalidInput, match=r"points\[1\]\.lon"):
        patrols.add_points(db, patrol=patrol, positions=bad, now=MORNING)
    with pytest.raises(InvalidInput, match=r"points\[0\]\.at"):
        patrols.add_points(db, patrol=patrol, positions=[Position(109.7, 28.25, MORNING - timedelta(hours=2))],
                           now=MORNING)
    assert db.scalar(select(func.count()).select_from(PatrolPoint)) == 0


def test_starting_again_stops_a_patrol_left_open_and_only_its_owner_may_write_it(db: Session, worker) -> None:
    first = patrols.start(db, user=worker, now=MORNING)
    patrols.add_points(db, patrol=first, positions=_walk(109.7005), now=MORNING)
    second = patrols.start(db, user=worker, now=MORNING + timedelta(hours=1))
    assert first.ended_at == MORNING and second.ended_at is None
    assert patrols.day(db, user=worker, on=MORNING).open_patrol_id == second.id
    other = add_user(db, Role.grid_worker, username="other")
    with pytest.raises(Forbidden):
        patrols.own_patrol(db, user=other, patrol_id=second.id)
