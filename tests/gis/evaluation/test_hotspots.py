"""Gi* on a lattice against the Ord–Getis formula worked by hand; FDR classes; Mann–Kendall; the cells of a
small world and the table the hotspot layer reads."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from libpysal.weights import lat2W
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.evaluation.hotspots import classify, compute, emerging, gi_star, refresh, weekly_trend
from gis.evaluation.periods import Period
from gis.incidents import service as incidents
from gis.incidents.work_calendar import SHANGHAI
from gis.models import IncidentHotspot
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B


def test_gi_star_on_a_three_by_three_lattice_is_the_hand_computation() -> None:
    # y = 1…9 row by row; queen neighbours plus the cell itself. n = 9, x̄ = 5, S = √(285/9 − 25) = 2.58199.
    # Corner 0: {0,1,3,4} → (12 − 5·4) / (S √((9·4 − 16)/8)) = −8 / 4.08248 = −1.95959
    # Edge 1: {0,1,2,3,4,5} → (21 − 30) / (S √((54 − 36)/8)) = −9 / 3.87298 = −2.32379
    # Centre 4: all nine → 0 / 0 (its neighbourhood is the whole area): taken as 0; corner 8 mirrors 0: +1.95959
    z, p = gi_star(np.arange(1, 10), lat2W(3, 3, rook=False))
    assert z[[0, 1, 4, 8]] == pytest.approx([-1.95959, -2.32379, 0.0, 1.95959], abs=1e-5)
    assert p[0] == pytest.approx(0.05004, abs=1e-4)  # 2 (1 − Φ(1.95959))


def test_no_variation_means_nothing_stands_out() -> None:
    z, p = gi_star(np.full(9, 3), lat2W(3, 3, rook=False))
    assert (z == 0).all() and (p == 1).all()


def test_classes_are_fdr_corrected_at_each_level() -> None:
    # Benjamini–Hochberg over m = 4: α = 0.01 admits p ≤ 0.0025; α = 0.05 admits p ≤ 0.025; α = 0.10 admits
    # p ≤ 0.05 (0.08 > 3 · 0.1/4): so 0.08 is not significant although it is under 0.10.
    z = np.array([2.5, -2.3, 1.0, 1.7])
    p = np.array([0.001, 0.02, 0.3, 0.08])
    assert classify(z, p) == ["hot_99", "cold_95", "not_significant", "not_significant"]


def test_mann_kendall_on_a_rising_series_is_the_hand_computation() -> None:
    # S = 28 concordant pairs of 28; Var S = 8·7·21/18 = 65.33; z = (28 − 1)/√65.33 = 3.3404; p = 0.000837.
    trend = weekly_trend(np.arange(1, 9, dtype=float))
    assert trend.trend == "increasing" and trend.tau == pytest.approx(1.0)
    assert trend.p == pytest.approx(0.000837, abs=2e-6)
    assert weekly_trend(np.array([1.0, 2.0, 3.0])).trend == "no_data"
    assert emerging("hot_95", trend) == "intensifying" and emerging("not_significant", trend) == "emerging"


MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def test_the_cells_of_a_small_world_and_the_table_the_layer_reads(db: Session, street_world) -> None:
    # Six strips in a row (A001 A002 A003 B001 B002 B003); cases pile up in A001 and rise week by week.
    x0 = 109.70 + 0.01 / 6  # the middle of strip A001
    for week in range(8):
        for n in range(week + 1):
            incidents.create(db, category_code="09006", lon=x0, lat=28.305 + n * 1e-5,
                             reporter=street_world.grid_worker, reported_at=MONDAY + timedelta(weeks=week),
                             now=MONDAY + timedelta(weeks=week), duplicate_radius_m=0)
    incidents.create(db, category_code="09006", lon=109.715, lat=28.305, reporter=street_world.grid_worker,
                     reported_at=MONDAY, now=MONDAY, duplicate_radius_m=0)
    period = Period(date(2026, 3, 2), date(2026, 4, 27), "8 weeks")
    cells = {c.code: c for c in compute(db, period=period)}
    assert set(cells) == {f"{COMMUNITY_A}00{i}" for i in (1, 2, 3)} | {f"{COMMUNITY_B}00{i}" for i in (1, 2, 3)}
    first = cells[f"{COMMUNITY_A}001"]
    assert first.incidents == 36 and cells[f"{COMMUNITY_B}002"].incidents == 1
    assert first.gi_z == max(c.gi_z for c in cells.values()) and first.gi_z > 0
    assert first.trend.trend == "increasing"
    assert cells[f"{COMMUNITY_B}003"].trend.trend == "no trend"

    written = refresh(db, period=period, now=MONDAY + timedelta(weeks=9))
    rows = db.scalars(select(IncidentHotspot).order_by(IncidentHotspot.cell_code)).all()
    assert written == len(rows) == 6 and rows[0].incidents == 36 and rows[0].period_end == date(2026, 4, 27)
