"""A small evaluation world: nine cases whose histories the tests' hand-counted figures describe.

The period is the two weeks ``[2026-03-30, 2026-04-13)`` around Qingming (清明: 4–6 April 2026 off, Saturday
to Monday, in ``data/holidays_cn.csv``); the calendar is the shipped one. Categories: 占道经营 09006 (2 working
hours) unless said. Local times (Asia/Shanghai)::

    C1  A  Mon 30 Mar 09:00 report, 09:10 register, 09:30 dispatch (due 11:30), 09:40 take, 10:30 handle,
           11:00 verify, 11:10 close                                 → closed on time, 1.0 h, check 0.5 h
    C2  A  Fri  3 Apr 16:00 report, 16:10 register, 16:30 dispatch (due Tue 7 Apr 09:30: 1 h on Friday, the
           weekend and the Qingming Monday off, 1 h on Tuesday), Tue 08:40 take, 10:30 handle, 11:00 verify,
           11:30 close                                               → closed late, 3.0 h, check 0.5 h
    C3  A  Tue 31 Mar 09:00 report, 09:10 register, 09:30 dispatch (due 11:30), 09:40 take, 10:00 extend by
           4 working hours (due Wed 1 Apr 09:00), 11:00 handle, 15:00 rework (check 1.5 h), Wed 08:45 handle,
           14:45 verify (check 3.5 h: late), 15:00 close            → closed on time, 5.75 h, 1 rework, 1 ext.
    C4  A  Wed  8 Apr 09:00 report, 09:10 register, 09:30 dispatch (due 11:30), 09:40 take → overdue
    C5  A  Wed  8 Apr 10:00 report, 10:10 register, 10:30 dispatch, 11:00 shelve → shelved
    C6  A  Thu  9 Apr 09:00 report, 09:30 reject → not valid
    C7  A  Fri 10 Apr 09:00 report, 09:10 register → registered, no deadline yet
    C8  B  Fri 10 Apr 09:00 report, 09:10 register, 09:30 dispatch (due 11:30), 09:40 take, 11:00 handle;
           Mon 13 Apr 10:00 verify, 10:30 close (after the period)  → as of ``to``: handled, overdue, check late
    C9  A  Fri 27 Mar 09:00 report … closed on 30 Mar → reported before the period: not in the cohort
    C10 A  Thu  2 Apr 09:00 report, 09:30 void → not valid
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from gis.evaluation.periods import Period
from gis.incidents import photos, workflow
from gis.incidents import service as incidents
from gis.incidents.work_calendar import SHANGHAI, default_calendar
from gis.models import Incident, User
from tests.gis.conftest import COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld, build_street_world

PERIOD = Period(date(2026, 3, 30), date(2026, 4, 13), "2026-03-30…2026-04-13")


def at(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
    return datetime.combine(date(2026, month, day), time(hour, minute), SHANGHAI)


@dataclass
class EvaluationWorld:
    street: StreetWorld
    cases: dict[str, Incident]


def _after_photo(db: Session, incident: Incident, photo_dir: Path, user: User) -> list:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(buffer, "PNG")
    return [photos.store_photo(db, incident=incident, photo=buffer.getvalue(), photo_dir=photo_dir, kind="after",
                               uploader=user)]


def build_evaluation_world(db: Session, photo_dir: Path) -> EvaluationWorld:
    w = build_street_world(db)
    cal = default_calendar()
    roles = {"register": w.supervisor, "dispatch": w.supervisor, "reject": w.supervisor, "void": w.supervisor,
             "extend": w.supervisor, "shelve": w.supervisor, "close": w.supervisor, "verify": w.grid_worker,
             "rework": w.grid_worker}

    def case(where: tuple[float, float], reported: datetime, *steps: tuple[str, datetime], **data: object) -> Incident:
        incident = incidents.create(db, category_code="09006", lon=where[0], lat=where[1], reporter=w.grid_worker,
                                    reported_at=reported, now=reported, duplicate_radius_m=0).incident
        for move, moment in steps:
            officer = w.officer_b if incident.community_code == COMMUNITY_B else w.officer_a
            actor = roles.get(move, officer)
            kwargs: dict[str, object] = {}
            if move in {"reject", "void", "extend", "shelve", "rework"}:
                kwargs["note"] = f"{move} 理由"
            if move == "extend":
                kwargs["data"] = data
            if move == "handle":
                kwargs["photos"] = _after_photo(db, incident, photo_dir, actor)
            workflow.transition(db, incident=incident, to=move, actor=actor, expected_version=incident.version,
                                now=moment, calendar=cal, **kwargs)  # type: ignore[arg-type]
        return incident

    cases = {
        "C1": case(INSIDE_A, at(30, 9, month=3), ("register", at(30, 9, 10, 3)), ("dispatch", at(30, 9, 30, 3)),
                   ("take", at(30, 9, 40, 3)), ("handle", at(30, 10, 30, 3)), ("verify", at(30, 11, 0, 3)),
                   ("close", at(30, 11, 10, 3))),
        "C2": case(INSIDE_A, at(3, 16), ("register", at(3, 16, 10)), ("dispatch", at(3, 16, 30)),
                   ("take", at(7, 8, 40)), ("handle", at(7, 10, 30)), ("verify", at(7, 11)), ("close", at(7, 11, 30))),
        "C3": case(INSIDE_A, at(31, 9, month=3), ("register", at(31, 9, 10, 3)), ("dispatch", at(31, 9, 30, 3)),
                   ("take", at(31, 9, 40, 3)), ("extend", at(31, 10, 0, 3)), ("handle", at(31, 11, 0, 3)),
                   ("rework", at(31, 15, 0, 3)), ("handle", at(1, 8, 45)), ("verify", at(1, 14, 45)),
                   ("close", at(1, 15)), hours=4),
        "C4": case(INSIDE_A, at(8, 9), ("register", at(8, 9, 10)), ("dispatch", at(8, 9, 30)), ("take", at(8, 9, 40))),
        "C5": case(INSIDE_A, at(8, 10), ("register", at(8, 10, 10)), ("dispatch", at(8, 10, 30)),
                   ("shelve", at(8, 11))),
        "C6": case(INSIDE_A, at(9, 9), ("reject", at(9, 9, 30))),
        "C7": case(INSIDE_A, at(10, 9), ("register", at(10, 9, 10))),
        "C8": case(INSIDE_B, at(10, 9), ("register", at(10, 9, 10)), ("dispatch", at(10, 9, 30)),
                   ("take", at(10, 9, 40)), ("handle", at(10, 11)), ("verify", at(13, 10)), ("close", at(13, 10, 30))),
        "C9": case(INSIDE_A, at(27, 9, month=3), ("register", at(27, 9, 10, 3)), ("dispatch", at(27, 9, 30, 3)),
                   ("take", at(27, 9, 40, 3)), ("handle", at(27, 10, 0, 3)), ("verify", at(30, 9, 0, 3)),
                   ("close", at(30, 9, 30, 3))),
        "C10": case(INSIDE_A, at(2, 9), ("void", at(2, 9, 30))),
    }
    return EvaluationWorld(street=w, cases=cases)


@pytest.fixture
def evaluation_world(db: Session, tmp_path: Path) -> EvaluationWorld:
    return build_evaluation_world(db, tmp_path / "photos")
