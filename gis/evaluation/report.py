"""The weekly report a leader reads (周报): the week's figures against the week before, the tables by
subdistrict, community, team and category, twelve weeks of reports, and two map pictures — cases per cell in
the week, and the hotspots of the last twelve weeks — drawn as inline SVG, so the file is one self-contained
HTML page that opens anywhere, offline, and prints.

The figures are those of ``gis.evaluation.indicators`` and ``gis.evaluation.trend`` for the whole city
(the report is the centre's), without grid workers' names: it is meant to be passed on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from shapely import wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation import hotspots
from gis.evaluation.indicators import Evaluation, Weights, evaluate
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope
from gis.evaluation.tables import COLUMNS
from gis.evaluation.trend import trend
from gis.models.evaluation import HOTSPOT_COLOURS, HOTSPOT_ZH

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
SCOPE = EvaluationScope.everywhere(names_people=False)
DENSITY = ("#f7f7f7", "#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
SHOWN = ("name", "reported", "registered", "due", "closed", "closure_rate", "on_time_rate", "overdue",
         "rework_rate", "extension_rate", "check_rate", "score")
TITLES = {c.name: c.title_zh for c in COLUMNS}
KINDS = {c.name: c.kind for c in COLUMNS}


@dataclass(frozen=True)
class CellShape:
    code: str
    geom: BaseGeometry


def _cells(session: Session) -> list[CellShape]:
    rows = session.execute(text("SELECT code, ST_AsBinary(ST_SimplifyPreserveTopology(geom, 0.00002)) "
                                "FROM grid_cell ORDER BY code")).all()
    return [CellShape(code, wkb.loads(bytes(geom))) for code, geom in rows]


def svg_map(cells: list[CellShape], colours: dict[str, str], *, width: int = 640, title: str = "") -> str:
    """An SVG picture of ``cells`` filled with ``colours`` by code (grey when absent), in a plate carrée
    scaled by cos(latitude) so the city keeps its shape; empty text when there are no cells."""
    if not cells:
        return ""
    minx = min(c.geom.bounds[0] for c in cells)
    miny = min(c.geom.bounds[1] for c in cells)
    maxx = max(c.geom.bounds[2] for c in cells)
    maxy = max(c.geom.bounds[3] for c in cells)
    kx = math.cos(math.radians((miny + maxy) / 2))
    scale = width / max((maxx - minx) * kx, 1e-9)
    height = max(1, round((maxy - miny) * scale))
    paths = []
    for cell in cells:
        polygons = getattr(cell.geom, "geoms", [cell.geom])
        d = " ".join(
            "M" + " L".join(f"{(x - minx) * kx * scale:.1f},{(maxy - y) * scale:.1f}" for x, y in ring.coords) + "Z"
            for ring in (p.exterior for p in polygons)
        )
        paths.append(f'<path d="{d}" fill="{colours.get(cell.code, "#f7f7f7")}"><title>{cell.code}</title></path>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{title}" stroke="#999" stroke-width="0.2">{"".join(paths)}</svg>')


def svg_line(weeks: list[str], values: list[int], *, width: int = 640, height: int = 180) -> str:
    """A small line chart of weekly counts (axis labels: the weeks' Mondays as MM-DD)."""
    if not values:
        return ""
    top = max(max(values), 1)
    step = (width - 60) / max(len(values) - 1, 1)
    points = " ".join(f"{40 + i * step:.1f},{height - 24 - v / top * (height - 40):.1f}" for i, v in enumerate(values))
    labels = "".join(
        f'<text x="{40 + i * step:.1f}" y="{height - 6}" text-anchor="middle">{w[5:]}</text>'
        for i, w in enumerate(weeks) if i % max(1, len(weeks) // 6) == 0
    )
    marks = "".join(f'<text x="{40 + i * step:.1f}" y="{height - 28 - v / top * (height - 40):.1f}" '
                    f'text-anchor="middle">{v}</text>' for i, v in enumerate(values))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" font-size="10">'
            f'<line x1="40" y1="{height - 24}" x2="{width - 20}" y2="{height - 24}" stroke="#999"/>'
            f'<polyline points="{points}" fill="none" stroke="#3366cc" stroke-width="2"/>{marks}{labels}</svg>')


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{float(value):.1%}"
    if kind in ("hours", "score"):
        return f"{float(value):.1f}"
    return str(value)


def _table(result: Evaluation, limit: int | None = None) -> dict[str, Any]:
    rows = [r.as_dict() for r in result.rows]
    if limit is not None:
        rows = sorted(rows, key=lambda r: -r["reported"])[:limit]
    rows.append(result.total.as_dict())
    return {
        "headers": [TITLES[name] for name in SHOWN],
        "rows": [[_fmt(r[name] if name != "name" else (r["name"] or r["code"] or "—"), KINDS[name])
                  for name in SHOWN] for r in rows],
    }


def _change(now: float | None, before: float | None, rate: bool) -> str:
    if now is None or before is None:
        return "—"
    delta = now - before
    if rate:
        return f"{delta * 100:+.1f} 个百分点"
    return f"{delta:+,.0f}" if not before else f"{delta:+,.0f}（{delta / before:+.1%}）"


def build(session: Session, *, period: Period, city: str, now: datetime, weights: Weights | None = None,
          check_hours: float = 2.0) -> str:
    """The report's HTML for ``period`` (usually an ISO week)."""
    if period.days > 93:
        raise InvalidInput("period: a report covers at most a quarter (use the evaluation API for longer)")
    weights = weights or Weights()

    def ev(by: Grouping, p: Period = period) -> Evaluation:
        return evaluate(session, period=p, by=by, scope=SCOPE, weights=weights, check_hours=check_hours, now=now)

    this, before = ev(Grouping.city), ev(Grouping.city, period.previous())
    t, b = this.total.as_dict(), before.total.as_dict()
    summary = [
        (TITLES[name], _fmt(t[name], KINDS[name]), _fmt(b[name], KINDS[name]),
         _change(t[name], b[name], KINDS[name] == "rate"))
        for name in ("reported", "registered", "closed", "closure_rate", "on_time_rate", "overdue", "rework",
                     "rework_rate", "extended", "shelved", "check_rate", "score")
    ]
    twelve = Period(period.end - timedelta(weeks=12), period.end, "12 weeks")
    series = trend(session, period=twelve, by=Grouping.city, scope=SCOPE)
    weekly = series.series[0].weekly if series.series else [0] * len(series.weeks)
    cells = _cells(session)
    week_counts = {c.code: c.incidents for c in hotspots.compute(session, period=period)} if len(cells) >= 3 else {}
    top = max(week_counts.values(), default=0)
    density = {code: DENSITY[min(len(DENSITY) - 1, math.ceil(n / top * (len(DENSITY) - 1)))] if top else DENSITY[0]
               for code, n in week_counts.items()}
    spots = hotspots.compute(session, period=twelve) if len(cells) >= 3 else []
    hot_colours = {c.code: HOTSPOT_COLOURS[c.hotspot] for c in spots}
    hot_counts = {label: sum(1 for c in spots if c.hotspot == name) for name, label in HOTSPOT_ZH.items()}
    categories = ev(Grouping.category)
    return TEMPLATES.get_template("report.html").render(
        city=city, period=period, previous=period.previous(), twelve=twelve, now=now, summary=summary,
        subdistricts=_table(ev(Grouping.subdistrict)), communities=_table(ev(Grouping.community)),
        teams=_table(ev(Grouping.team)), categories=_table(categories, limit=20),
        trend_svg=svg_line([w.isoformat() for w in series.weeks], weekly),
        density_svg=svg_map(cells, density, title="本周案件数"), top_density=top,
        hotspot_svg=svg_map(cells, hot_colours, title="近12周热点"), hot_counts=hot_counts,
        density_legend=DENSITY, hot_legend=[(HOTSPOT_ZH[k], v) for k, v in HOTSPOT_COLOURS.items()],
    )
