"""Weekly series and period changes of the evaluation world, counted by hand from its stories."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation.periods import Grouping, Period, named
from gis.evaluation.scope import EvaluationScope, evaluation_scope
from gis.evaluation.trend import trend
from gis.incidents import service as incidents
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B, INSIDE_A
from tests.gis.evaluation.conftest import PERIOD, EvaluationWorld, at


def test_weekly_counts_and_changes_are_the_hand_counts(db: Session, evaluation_world: EvaluationWorld) -> None:
    last_year = at(1, 10).replace(year=2025)  # inside 30 March – 13 April 2025
    incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                     reporter=evaluation_world.street.grid_worker, reported_at=last_year, now=last_year,
                     duplicate_radius_m=0)
    result = trend(db, period=PERIOD, by=Grouping.community, scope=EvaluationScope.everywhere())
    assert result.weeks == [date(2026, 3, 30), date(2026, 4, 6)]
    assert (result.previous.start, result.last_year.start) == (date(2026, 3, 16), date(2025, 3, 30))
    a, b = result.series  # most reports first
    # A: C1 C3 C2 in the first week, C4 C5 C7 in the second (C6 rejected and C10 voided are not counted);
    # the two weeks before hold C9; a year before, the one case made here.
    assert (a.code, a.name, a.weekly, a.current, a.previous, a.last_year) == (COMMUNITY_A, "乾州社区", [3, 3], 6, 1, 1)
    assert (a.change, a.change_yoy) == (5.0, 5.0)
    assert (b.code, b.weekly, b.current, b.previous, b.change, b.change_yoy) == (COMMUNITY_B, [0, 1], 1, 0, None, None)


def test_an_iso_week_compares_with_the_same_week_last_year(db: Session, evaluation_world: EvaluationWorld) -> None:
    result = trend(db, period=named("2026-W15"), by=Grouping.category, scope=EvaluationScope.everywhere())
    assert result.last_year.start == date(2025, 4, 7) and result.last_year.start.isocalendar().week == 15
    (only,) = result.series
    assert (only.code, only.name, only.weekly, only.current, only.previous) == ("09006", "占道经营", [4], 4, 3)


def test_trends_keep_the_scope_and_the_bound(db: Session, evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world.street
    officer = trend(db, period=PERIOD, by=Grouping.community, scope=evaluation_scope(db, w.officer_b))
    assert [s.code for s in officer.series] == [COMMUNITY_B]
    planner = trend(db, period=PERIOD, by=Grouping.worker, scope=evaluation_scope(db, w.planner))
    assert [(s.code, s.name) for s in planner.series] == [(None, "网格员 1")]
    with pytest.raises(InvalidInput, match=r"^to:"):
        trend(db, period=Period(date(2020, 1, 1), date(2026, 1, 1), "six years"), by=Grouping.city,
              scope=EvaluationScope.everywhere())
