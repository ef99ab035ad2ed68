"""The indicators of the evaluation world, against figures counted by hand from its case histories
(``conftest.py`` tells each case's story; the numbers below are read off that story, not from the SQL)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from gis.evaluation.indicators import Weights, composite, evaluate, ratio
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope, evaluation_scope
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B
from tests.gis.evaluation.conftest import PERIOD, EvaluationWorld, at

EVERYWHERE = EvaluationScope.everywhere()
AFTER = at(20, 12)  # "now": well after the period, so as_of is the period's end


def _rows(db: Session, by: Grouping, scope: EvaluationScope = EVERYWHERE, period: Period = PERIOD) -> dict:
    result = evaluate(db, period=period, by=by, scope=scope, now=AFTER)
    return {row.code: row.as_dict() for row in result.rows} | {"total": result.total.as_dict()}


def test_every_indicator_of_community_a_is_the_hand_count(db: Session, evaluation_world: EvaluationWorld) -> None:
    a = _rows(db, Grouping.community)[COMMUNITY_A]
    assert a["name"] == "乾州社区"
    assert {k: a[k] for k in (
        "reported", "valid", "registered", "dispatched", "due", "closed", "closed_on_time", "overdue", "handled",
        "rework", "extended", "shelved", "checks_due", "checks_on_time",
    )} == {
        "reported": 8,  # C1–C7, C10 (C9 was reported before the period)
        "valid": 6,  # less C6 rejected and C10 voided
        "registered": 6,  # C1 C2 C3 C4 C5 C7
        "dispatched": 5,  # C1 C2 C3 C4 C5
        "due": 4,  # C1 C2 C3 closed, C4 past its deadline; C5 shelved, C7 has no deadline
        "closed": 3,
        "closed_on_time": 2,  # C1, and C3 inside its extended deadline; C2 was handled an hour late
        "overdue": 1,  # C4
        "handled": 3,
        "rework": 1,  # C3
        "extended": 1,  # C3
        "shelved": 1,  # C5
        "checks_due": 4,  # C1, C2, C3 twice
        "checks_on_time": 3,  # C3's second check took 3.5 working hours
    }
    # Handling hours (first dispatch → last handling, working hours): C1 1.0, C2 3.0 (across Qingming), C3 5.75.
    assert a["handling_hours_mean"] == pytest.approx(3.25)
    assert a["handling_hours_p90"] == pytest.approx(3.0 + 0.8 * 2.75)  # linear between the 2nd and 3rd of three
    assert (a["valid_rate"], a["registration_rate"], a["closure_rate"], a["on_time_rate"]) == (0.75, 1.0, 0.75, 0.5)
    assert (a["rework_rate"], a["extension_rate"], a["check_rate"]) == (0.3333, 0.2, 0.75)
    # 0.3 × 0.75 + 0.4 × 0.5 + 0.15 × (1 − 0.3333) + 0.15 × 0.75
    assert a["score"] == pytest.approx(63.75, abs=0.01)


def test_a_case_closed_after_the_period_counts_as_it_stood_at_the_end(
    db: Session, evaluation_world: EvaluationWorld
) -> None:
    b = _rows(db, Grouping.community)[COMMUNITY_B]  # C8: handled on Friday, verified and closed on Monday 13th
    # Handled on Friday, so not overdue at the period's end: the clock stops once a case is handled
    # (CLOCK_STOPPED, issue 12); the late handling shows in on_time_rate and the missed check below.
    assert (b["reported"], b["due"], b["closed"], b["overdue"], b["handled"]) == (1, 1, 0, 0, 1)
    assert (b["checks_due"], b["checks_on_time"]) == (1, 0)  # 4 working hours passed without a check
    assert b["handling_hours_mean"] is None and b["on_time_rate"] == 0.0
    assert b["score"] == pytest.approx(15.0)  # only 1 − rework rate (1.0) scores: 0.15 / 1.0 × 100


def test_the_total_adds_up_every_group(db: Session, evaluation_world: EvaluationWorld) -> None:
    rows = _rows(db, Grouping.community)
    total = rows.pop("total")
    assert total["name"] == "合计" and total["reported"] == 9 and total["closed"] == 3 and total["overdue"] == 1
    for key in ("reported", "valid", "registered", "due", "closed", "closed_on_time", "checks_due"):
        assert total[key] == sum(row[key] for row in rows.values())
    assert total["closure_rate"] == 0.6 and total["on_time_rate"] == 0.4


def test_groupings_by_team_category_and_city_share_the_cohort(db: Session, evaluation_world: EvaluationWorld) -> None:
    w = evaluation_world.street
    teams = _rows(db, Grouping.team)
    assert teams[str(w.subdistrict_team.id)]["reported"] == 8 and teams[str(w.community_b_team.id)]["reported"] == 1
    assert teams[str(w.subdistrict_team.id)]["name"] == "乾州街道执法中队"
    category = _rows(db, Grouping.category)["09006"]
    assert (category["name"], category["major_code"], category["major_name"], category["reported"]) == (
        "占道经营", "09", "街面秩序类", 9)
    assert _rows(db, Grouping.major)["09"]["name"] == "街面秩序类"
    city = _rows(db, Grouping.city)
    assert [row["reported"] for code, row in city.items() if code != "total"] == [9]
    cells = _rows(db, Grouping.cell)
    assert sum(row["reported"] for code, row in cells.items() if code != "total") == 9


def test_a_period_without_cases_gives_no_rows_and_null_rates(db: Session, evaluation_world: EvaluationWorld) -> None:
    result = evaluate(db, period=Period(date(2025, 1, 1), date(2025, 2, 1), "2025-01"), by=Grouping.community,
                      scope=EVERYWHERE, now=AFTER)
    assert result.rows == [] and result.total.counts.reported == 0
    assert result.total.rates.closure_rate is None and result.total.rates.score is None


def test_figures_are_as_of_now_while_the_period_runs(db: Session, evaluation_world: EvaluationWorld) -> None:
    # At Tuesday 31 March 12:00, C1 is closed, C3 is handled (not yet sent back) and inside its extension.
    result = evaluate(db, period=PERIOD, by=Grouping.community, scope=EVERYWHERE, now=at(31, 12, month=3))
    a = result.rows[0].counts
    assert (a.reported, a.closed, a.due, a.rework, a.handled, a.overdue) == (2, 1, 1, 0, 2, 0)


def test_an_officer_sees_their_team_and_a_planner_sees_no_worker(
    db: Session, evaluation_world: EvaluationWorld
) -> None:
    w = evaluation_world.street
    officer = _rows(db, Grouping.community, evaluation_scope(db, w.officer_b))
    assert set(officer) == {COMMUNITY_B, "total"} and officer["total"]["reported"] == 1
    planner = evaluate(db, period=PERIOD, by=Grouping.worker, scope=evaluation_scope(db, w.planner), now=AFTER)
    assert [(row.code, row.name, row.counts.reported) for row in planner.rows] == [(None, "网格员 1", 9)]
    centre = evaluate(db, period=PERIOD, by=Grouping.worker, scope=evaluation_scope(db, w.supervisor), now=AFTER)
    assert [(row.code, row.name) for row in centre.rows] == [(str(w.grid_worker.id), "测试grid1")]


def test_ratio_and_composite_are_the_documented_formulas() -> None:
    assert ratio(1, 3) == 0.3333 and ratio(0, 0) is None
    rates = {"closure_rate": 1.0, "on_time_rate": None, "rework_rate": 0.5, "check_rate": None}
    # Only defined parts count, over their own weights: (0.3 × 1 + 0.15 × 0.5) / 0.45 × 100
    assert composite(rates, Weights()) == pytest.approx(83.33, abs=0.01)
    assert composite(dict.fromkeys(rates), Weights()) is None
