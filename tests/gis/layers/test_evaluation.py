"""The evaluation layers: community indicators equal the evaluation API's figures; hotspots read the last
analysis. Both are in the registry, so OGC API, exports and maps offer them (their generic tests cover that)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from gis.evaluation import hotspots
from gis.evaluation.indicators import evaluate
from gis.evaluation.periods import Grouping
from gis.evaluation.scope import EvaluationScope
from gis.layers import registry
from gis.layers.evaluation import CommunityIndicatorLayer
from gis.settings import Settings
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B
from tests.gis.evaluation.conftest import PERIOD, build_evaluation_world


def test_community_indicators_are_the_evaluation_figures(db: Session, tmp_path: Path) -> None:
    build_evaluation_world(db, tmp_path)
    layer = CommunityIndicatorLayer(days=14, end=date(2026, 4, 13))
    features = {f["properties"]["code"]: f["properties"] for f in layer.features(db)["features"]}
    expected = {row.code: row.as_dict() for row in evaluate(
        db, period=PERIOD, by=Grouping.community, scope=EvaluationScope.everywhere()).rows}
    assert set(features) == {COMMUNITY_A, COMMUNITY_B}
    for code, props in features.items():
        for name in ("reported", "registered", "due", "closed", "closed_on_time", "overdue", "shelved",
                     "closure_rate", "on_time_rate", "rework_rate", "extension_rate"):
            assert props[name] == expected[code][name], (code, name)
    assert features[COMMUNITY_A]["name"] == "乾州社区" and features[COMMUNITY_A]["rework_rate"] == 0.3333


def test_community_indicators_are_zero_where_nothing_was_reported(db: Session, tmp_path: Path) -> None:
    build_evaluation_world(db, tmp_path)
    props = CommunityIndicatorLayer(days=7, end=date(2025, 1, 8)).features(db)["features"][0]["properties"]
    assert props["reported"] == 0 and props["closure_rate"] is None


def test_the_hotspot_layer_shows_the_last_analysis_in_chinese(db: Session, tmp_path: Path) -> None:
    build_evaluation_world(db, tmp_path)
    layer = registry(Settings())["incident_hotspots"]
    assert layer.features(db)["features"] == []  # nothing computed yet
    hotspots.refresh(db, period=PERIOD, now=PERIOD.end_at)
    features = layer.features(db)["features"]
    assert len(features) == 6 and {f["geometry"]["type"] for f in features} == {"MultiPolygon"}
    cells = {f["properties"]["code"]: f["properties"] for f in features}
    # A's middle cell holds C1–C5 and C7 (C6 rejected and C10 voided do not count); B's middle cell C8.
    assert cells[f"{COMMUNITY_A}002"]["incidents"] == 6 and cells[f"{COMMUNITY_B}002"]["incidents"] == 1
    assert sum(c["incidents"] for c in cells.values()) == 7
    # Gi* looks at a cell and its neighbours: A001 ({A001, A002}: 6 cases in 2 cells) stands out most, then
    # A003 and A002 (6 in 3 cells: A003 touches B001 across the community line); B's cells lie low.
    z = {code[-4:]: c["gi_z"] for code, c in cells.items()}
    assert z["1001"] == max(z.values()) and z["1001"] > z["1003"] == z["1002"] > z["2002"]
    assert {c["hotspot_zh"] for c in cells.values()} <= {"不显著", "热点(90%)", "热点(95%)", "热点(99%)", "冷点(90%)"}
    assert {c["emerging_zh"] for c in cells.values()} == {"数据不足"}  # two weeks: too short for a trend
