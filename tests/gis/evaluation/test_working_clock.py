"""The SQL working clock against the work calendar it derives from (the one definition of working time)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation.working_clock import WorkingClock
from gis.incidents.work_calendar import SHANGHAI, default_calendar
from tests.gis.evaluation.conftest import at

CAL = default_calendar()


def _sql_hours(db: Session, clock: WorkingClock, a: datetime, b: datetime) -> float:
    sql = f"SELECT {clock.sql(':b')} - {clock.sql(':a')}"
    return float(db.execute(text(sql), {"a": a, "b": b, **clock.params()}).scalar_one())


def test_hours_across_a_weekend_and_the_qingming_holiday_are_counted_by_hand(db: Session) -> None:
    clock = WorkingClock.over(CAL, date(2026, 3, 30), date(2026, 4, 13))
    # Friday 16:30 → 17:30 is 1 h; Saturday, Sunday and Monday 6 April (清明) are off; Tuesday 08:30 → 10:30 is 2 h.
    assert _sql_hours(db, clock, at(3, 16, 30), at(7, 10, 30)) == pytest.approx(3.0)
    assert clock.hours_at(at(7, 10, 30)) - clock.hours_at(at(3, 16, 30)) == pytest.approx(3.0)
    # The lunch break does not count: 11:00 → 15:00 is 1 h + 0.5 h.
    assert _sql_hours(db, clock, at(31, 11, month=3), at(31, 15, month=3)) == pytest.approx(1.5)


def test_a_make_up_working_saturday_counts(db: Session) -> None:
    clock = WorkingClock.over(CAL, date(2026, 2, 27), date(2026, 3, 3))
    saturday = datetime(2026, 2, 28, 8, 30, tzinfo=SHANGHAI)  # 春节调休上班
    assert _sql_hours(db, clock, saturday, saturday + timedelta(hours=9)) == pytest.approx(6.5)


def test_the_sql_clock_agrees_with_the_calendar_on_random_moments(db: Session) -> None:
    clock = WorkingClock.over(CAL, date(2026, 1, 1), date(2026, 12, 31))
    rng = random.Random(13)
    start = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    for _ in range(60):
        a = start + timedelta(minutes=rng.randrange(0, 364 * 24 * 60))
        b = a + timedelta(minutes=rng.randrange(0, 20 * 24 * 60))
        if b.date() > clock.last_day:
            continue
        assert _sql_hours(db, clock, a, b) == pytest.approx(CAL.working_hours_between(a, b), abs=1e-6), (a, b)


def test_a_moment_outside_the_window_is_null_in_sql_and_refused_in_python(db: Session) -> None:
    clock = WorkingClock.over(CAL, date(2026, 3, 30), date(2026, 4, 13))
    assert db.execute(text(f"SELECT {clock.sql(':a')}"), {"a": at(20, 9), **clock.params()}).scalar_one() is None
    with pytest.raises(InvalidInput):
        clock.hours_at(at(20, 9))
    with pytest.raises(InvalidInput, match="to:"):
        WorkingClock.over(CAL, date(2026, 4, 13), date(2026, 3, 30))
