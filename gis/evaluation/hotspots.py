"""Where cases cluster and where they grow: Getis–Ord Gi* per grid cell, and a Mann–Kendall trend per cell.

Gi* (Getis & Ord 1992; Ord & Getis 1995) compares the cases of a cell *and its neighbours* with the whole
city's: with binary queen-contiguity weights that include the cell itself (w_ii = 1),

    Gi* = (Σⱼ wᵢⱼ xⱼ − x̄ Σⱼ wᵢⱼ) / (S √((n Σⱼ wᵢⱼ² − (Σⱼ wᵢⱼ)²) / (n − 1))),   S = √(Σ xⱼ² / n − x̄²)

a z-score; its two-sided p-value is 2 (1 − Φ(|z|)). esda (``G_Local(star=True, transform="B")``) computes
it; ``tests/gis/evaluation/test_hotspots.py`` holds it to this formula on a lattice. Many cells are tested
at once, so significance is corrected for the false discovery rate (Benjamini–Hochberg, ``esda.fdr``) at each
confidence level: a cell is hot (z > 0) or cold (z < 0) at 99 % when its p is under the FDR cut-off for
α = 0.01, else at 95 % under the cut-off for α = 0.05, else at 90 % for α = 0.10, else not significant.

Emerging hotspots: per cell, the Mann–Kendall test (pymannkendall) on its weekly case counts over the
period says whether cases rise or fall (α = 0.05). A hot cell that is rising is *intensifying* (加剧热点),
hot and steady *persistent* (持续热点), hot and falling *diminishing* (减弱热点); a cell that is not hot but
rises significantly is *emerging* (新兴热点).

Counted cases: those reported in the period that were not found invalid (rejected, void, duplicate), so a
report sent three times does not make a hotspot.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pymannkendall
from esda import fdr
from esda.getisord import G_Local
from libpysal.weights import Queen, W
from scipy.stats import norm
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation.periods import Period
from gis.evaluation.scope import EvaluationScope
from gis.models.evaluation import IncidentHotspot

LEVELS = (0.99, 0.95, 0.90)
TREND_ALPHA = 0.05
MIN_WEEKS = 4  # Mann–Kendall on fewer points says nothing


def gi_star(y: np.ndarray, w: W) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided p-values of ``y`` under binary weights ``w`` (self included)."""
    if len(y) < 3:
        raise InvalidInput("cells: Gi* needs at least 3 cells")
    if not np.any(y != y[0]):  # no variation: nothing stands out (esda would divide by zero)
        return np.zeros(len(y)), np.ones(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = G_Local(y.astype(float), w, transform="B", star=True, permutations=0)
    # A neighbourhood that is the whole area has no variance (n Σw² = (Σw)²): 0/0, it cannot stand out.
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float), nan=0.0)
    return z, np.minimum(1.0, 2 * norm.sf(np.abs(z)))


def classify(z: np.ndarray, p: np.ndarray) -> list[str]:
    """hot_99 … cold_99 per cell, FDR-corrected at each level (see the module docstring)."""
    cutoffs = {level: fdr(p, 1 - level) for level in LEVELS}
    classes = []
    for zi, pi in zip(z, p, strict=True):
        label = "not_significant"
        for level in LEVELS:  # strictest first
            if pi <= cutoffs[level] and zi != 0:
                label = f"{'hot' if zi > 0 else 'cold'}_{round(level * 100)}"
                break
        classes.append(label)
    return classes


@dataclass(frozen=True)
class Trend:
    trend: str  # increasing | decreasing | no trend | no_data
    tau: float | None
    p: float | None


def weekly_trend(counts: np.ndarray) -> Trend:
    """Mann–Kendall on one cell's weekly counts (oldest first)."""
    if len(counts) < MIN_WEEKS:
        return Trend("no_data", None, None)
    if not np.any(counts != counts[0]):
        return Trend("no trend", 0.0, 1.0)
    result = pymannkendall.original_test(counts, alpha=TREND_ALPHA)
    return Trend(str(result.trend), float(result.Tau), float(result.p))


def emerging(hotspot: str, trend: Trend) -> str:
    if trend.trend == "no_data":
        return "no_data"
    if hotspot.startswith("hot"):
        return {"increasing": "intensifying", "decreasing": "diminishing"}.get(trend.trend, "persistent")
    return "emerging" if trend.trend == "increasing" else "none"


_WEEKLY = """
SELECT g.code, g.geom_wkb, coalesce(c.weeks, '{}') AS weeks
FROM (SELECT code, ST_AsBinary(geom) AS geom_wkb, community_code FROM grid_cell) g
LEFT JOIN (
    SELECT i.cell_code, array_agg(ARRAY[w, n] ORDER BY w) AS weeks
    FROM (
        SELECT i.cell_code,
               CAST(floor(EXTRACT(EPOCH FROM i.reported_at - :t_from) / 604800) AS int) AS w, count(*) AS n
        FROM incident i
        WHERE i.reported_at >= :t_from AND i.reported_at < :t_to AND i.cell_code IS NOT NULL
          AND i.status NOT IN ('rejected', 'void', 'duplicate')
        GROUP BY 1, 2
    ) i
    GROUP BY i.cell_code
) c ON c.cell_code = g.code
WHERE (CAST(:communities AS text[]) IS NULL OR g.community_code = ANY(CAST(:communities AS text[])))
ORDER BY g.code
"""


@dataclass(frozen=True)
class CellHotspot:
    code: str
    incidents: int
    gi_z: float
    p_value: float
    hotspot: str
    trend: Trend
    emerging: str


def compute(session: Session, *, period: Period, scope: EvaluationScope | None = None) -> list[CellHotspot]:
    """Gi* and the weekly trend of every cell in ``scope`` for the cases reported in ``period``.

    Weights: queen contiguity between the cells (cells sharing an edge or a corner). Cells with no
    neighbour (islands) get only themselves."""
    scope = scope or EvaluationScope.everywhere()
    weeks = max(1, -(-period.days // 7))
    rows = session.execute(text(_WEEKLY), {
        "t_from": period.start_at, "t_to": period.end_at,
        "communities": None if scope.communities is None else sorted(scope.communities),
    }).all()
    if len(rows) < 3:
        raise InvalidInput("cells: Gi* needs at least 3 grid cells in the area evaluated")
    matrix = np.zeros((len(rows), weeks))
    for index, row in enumerate(rows):
        for week, count in row.weeks:
            matrix[index, min(week, weeks - 1)] += count
    gdf = gpd.GeoDataFrame({"code": [r.code for r in rows]},
                           geometry=gpd.GeoSeries.from_wkb([bytes(r.geom_wkb) for r in rows]), crs=4326)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands are expected at the city's edge; they stand alone
        w = Queen.from_dataframe(gdf, use_index=False, ids=list(range(len(rows))))
    totals = matrix.sum(axis=1)
    z, p = gi_star(totals, w)
    classes = classify(z, p)
    out = []
    for index, row in enumerate(rows):
        trend = weekly_trend(matrix[index]) if weeks >= MIN_WEEKS else Trend("no_data", None, None)
        out.append(CellHotspot(row.code, int(totals[index]), round(float(z[index]), 4), float(p[index]),
                               classes[index], trend, emerging(classes[index], trend)))
    return out


def refresh(session: Session, *, period: Period, now: datetime) -> int:
    """Recompute the city's hotspots for ``period`` into ``incident_hotspot`` (what the layer shows); flush.
    Returns the number of cells written."""
    cells = compute(session, period=period)
    session.execute(delete(IncidentHotspot))
    session.add_all(IncidentHotspot(
        cell_code=c.code, incidents=c.incidents, gi_z=c.gi_z, p_value=c.p_value, hotspot=c.hotspot,
        trend=c.trend.trend, trend_tau=c.trend.tau, trend_p=c.trend.p, emerging=c.emerging,
        period_start=period.start, period_end=period.end, computed_at=now,
    ) for c in cells)
    session.flush()
    return len(cells)


def last_weeks(today: datetime, weeks: int = 52) -> Period:
    """The ``weeks`` whole ISO weeks before the one containing ``today`` (local)."""
    monday = today.date() - timedelta(days=today.weekday())
    return Period(monday - timedelta(weeks=weeks), monday, f"last {weeks} weeks")
