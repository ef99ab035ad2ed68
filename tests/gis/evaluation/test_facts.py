"""The facts the write paths keep equal the facts the events give, and the indicators read from them equal
the indicators read from the events (the reference), for every grouping and as of several moments.

The workload goes through every path that writes a case or its event: ``service.create``,
``fast_create.report_by_id``, ``workflow.transition`` (register, dispatch, take, handle, verify, rework,
extend, shelve, reopen both ways, void, close, duplicates through ``service.mark_duplicate``), the bulk
import's COPY and escalation. Leave a path without its refresh and a row goes missing or stale here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.evaluation import facts
from gis.evaluation.indicators import evaluate
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope
from gis.incidents import fast_create, service, workflow
from gis.incidents.bulk_import import import_incidents
from gis.models import Incident
from tests.gis.conftest import INSIDE_A, INSIDE_B, StreetWorld, build_street_world
from tests.gis.evaluation.conftest import _after_photo, at
from tests.gis.incidents.test_bulk_import import good, write_csv

EVERYWHERE = EvaluationScope.everywhere()
COLUMNS = ", ".join(("incident_id", *facts.CASE_KEYS, *facts.CASE_COLUMNS))


def _stored(db: Session) -> list[tuple[Any, ...]]:
    rows = db.execute(text(f"SELECT {COLUMNS} FROM incident_fact ORDER BY incident_id")).all()
    # Working hours are sums of seconds over different clock windows: equal to far below a second.
    return [tuple(round(v, 6) if isinstance(v, float) else
                  [round(x, 6) for x in v] if isinstance(v, list) else v for v in row) for row in rows]


def _workload(db: Session, w: StreetWorld, photo_dir: Path, tmp_path: Path) -> None:
    actors = {"register": w.supervisor, "dispatch": w.supervisor, "extend": w.supervisor, "shelve": w.supervisor,
              "close": w.supervisor, "reopen": w.supervisor, "void": w.supervisor, "verify": w.grid_worker,
              "rework": w.grid_worker}

    def step(incident: Incident, move: str, moment: datetime, **data: object) -> None:
        actor = actors.get(move, w.officer_a if incident.team_id == w.subdistrict_team.id else w.officer_b)
        kwargs: dict[str, Any] = {"note": f"{move} 理由"}
        if move == "handle":
            kwargs["photos"] = _after_photo(db, incident, photo_dir, actor)
        if move == "reopen" and data.pop("keep_going", False):
            move = "in_progress"
        workflow.transition(db, incident=incident, to=move, actor=actor, expected_version=incident.version,
                            now=moment, data=data, **kwargs)

    def create(where: tuple[float, float], moment: datetime) -> Incident:
        return service.create(db, category_code="09006", lon=where[0], lat=where[1], reporter=w.grid_worker,
                              reported_at=moment, now=moment, duplicate_radius_m=0).incident

    cycle = ("register", "dispatch", "take", "handle", "verify", "close")
    a = create(INSIDE_A, at(30, 9, month=3))
    for k, move in enumerate(cycle):
        step(a, move, at(30, 10 + k, month=3))
    step(a, "reopen", at(1, 9), keep_going=True)  # closed → in_progress: the clock starts again
    step(a, "handle", at(1, 10))
    b = create(INSIDE_B, at(31, 9, month=3))
    for k, move in enumerate(cycle[:4]):
        step(b, move, at(31, 9, 10 * (k + 1), month=3))
    step(b, "rework", at(31, 15, month=3))
    step(b, "extend", at(1, 9), hours=6)
    step(b, "handle", at(3, 16))  # across the weekend and Qingming
    step(b, "verify", at(7, 10))  # after the period's first week
    c = create(INSIDE_A, at(2, 9))
    step(c, "register", at(2, 9, 5))
    step(c, "shelve", at(2, 9, 30))
    step(c, "reopen", at(8, 9))  # shelved → registered
    step(c, "void", at(8, 10))
    _, created = fast_create.report_by_id(db, user_id=w.grid_worker.id, category_code="09006", lon=INSIDE_A[0],
                                             lat=INSIDE_A[1], now=at(3, 10), reported_at=at(3, 10)) or (None, None)
    assert created is not None
    d = db.get(Incident, created.incident.id)
    assert d is not None
    step(d, "register", at(3, 11))
    original = create(INSIDE_A, at(3, 12))
    service.mark_duplicate(db, incident=d, of=original, actor=w.supervisor, expected_version=d.version, now=at(3, 13))
    step(original, "register", at(6, 10))  # a holiday
    step(original, "dispatch", at(7, 9))
    create(INSIDE_B, at(9, 9))  # reported, nothing more: created and (below) fast-created
    fast_create.report_by_id(db, user_id=w.grid_worker.id, category_code="09006", lon=INSIDE_B[0], lat=INSIDE_B[1],
                             now=at(9, 10), reported_at=at(9, 10))
    workflow.escalate_overdue(db, at(10, 17))  # an escalation is no fact
    import_incidents(db, write_csv(tmp_path, [good(reported_at="2026-04-01T10:00:00+08:00",
                                                   closed_at="2026-04-02T10:00:00+08:00"),
                                              good(status="", closed_at="", reported_at="2026-04-02T10:00:00+08:00")]),
                     now=at(9, 8), actor=w.supervisor)


def test_every_write_path_keeps_the_facts_equal_to_the_events(db: Session, tmp_path: Path) -> None:
    w = build_street_world(db)
    _workload(db, w, tmp_path / "photos", tmp_path)
    kept = _stored(db)
    assert len(kept) == db.execute(text("SELECT count(*) FROM incident")).scalar_one() == 9
    db.execute(text("DELETE FROM incident_fact"))
    assert facts.rebuild(db) == 9
    assert _stored(db) == kept


def test_the_indicators_from_facts_equal_the_indicators_from_events(db: Session, tmp_path: Path) -> None:
    w = build_street_world(db)
    _workload(db, w, tmp_path / "photos", tmp_path)
    weeks = [Period(date(2026, 3, 30) + timedelta(days=7 * k), date(2026, 4, 6) + timedelta(days=7 * k), "w")
             for k in range(2)]
    for period in [*weeks, Period(date(2026, 3, 30), date(2026, 4, 13), "two weeks")]:
        for now in (at(1, 9, 30), at(3, 16, 30), at(8, 9, 30), at(20, 9)):
            for by in Grouping:
                fast = evaluate(db, period=period, by=by, scope=EVERYWHERE, now=now)
                slow = evaluate(db, period=period, by=by, scope=EVERYWHERE, now=now, from_events=True)
                assert (fast.rows, fast.total) == (slow.rows, slow.total), (period, now, by)
