"""Evaluation layers: the last hotspot analysis per grid cell, and the indicators of each community.

``incident_hotspots`` reads ``incident_hotspot`` (written by ``gis.evaluation.hotspots.refresh``: Gi* is
computed by esda over every cell at once, not per tile). ``community_indicators`` computes the counts of
``gis.evaluation.indicators`` for the last ``days`` days when asked, with the same statement as the
evaluation API, and no personal data (no worker rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, String, and_, case, column, func, select, text
from sqlalchemy.sql.selectable import Subquery

from gis.evaluation.indicators import sql_ratio, statement
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope
from gis.incidents.work_calendar import SHANGHAI
from gis.layers.base import Field, Layer, Rows, Style
from gis.models import AdminArea, GridCell, IncidentHotspot
from gis.models.evaluation import EMERGING_ZH, HOTSPOT_ZH

# Blue (cold) to red (hot), for the z-score.
DIVERGING = ("#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b")


@dataclass(frozen=True)
class IncidentHotspotLayer(Layer):
    id = "incident_hotspots"
    title_zh = "案件热点"
    title_en = "Incident hotspots"
    description = (
        "Each grid cell of the last hotspot analysis: cases counted, Getis–Ord Gi* z-score and p-value, the "
        "FDR-corrected hot/cold class at 90/95/99 %, and the weekly Mann–Kendall trend (emerging hotspots)."
    )
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "网格编码", "Cell code"),
        Field("community_code", "string", "社区代码", "Community code"),
        Field("incidents", "integer", "案件数", "Incidents"),
        Field("gi_z", "number", "Gi* z 值", "Gi* z-score"),
        Field("p_value", "number", "p 值", "p-value"),
        Field("hotspot", "string", "热点类别", "Hotspot class"),
        Field("hotspot_zh", "string", "热点", "Hotspot"),
        Field("trend", "string", "趋势", "Trend"),
        Field("trend_p", "number", "趋势 p 值", "Trend p-value"),
        Field("emerging", "string", "时空热点类别", "Emerging class"),
        Field("emerging_zh", "string", "时空热点", "Emerging hotspot"),
        Field("period_start", "date", "统计起", "Period start"),
        Field("period_end", "date", "统计止(不含)", "Period end (exclusive)"),
        Field("computed_at", "datetime", "计算时间", "Computed at"),
    )
    style = Style(color="#636363", weight=0.4, fill_opacity=0.7, choropleth="gi_z", palette=DIVERGING)

    def select(self) -> Rows:
        h = IncidentHotspot
        return (
            select(
                h.cell_code.label("code"), GridCell.community_code, h.incidents, h.gi_z, h.p_value, h.hotspot,
                case(HOTSPOT_ZH, value=h.hotspot, else_=h.hotspot).label("hotspot_zh"), h.trend, h.trend_p,
                h.emerging, case(EMERGING_ZH, value=h.emerging, else_=h.emerging).label("emerging_zh"),
                h.period_start, h.period_end, h.computed_at, GridCell.geom.label("geom"),
            )
            .join(GridCell, GridCell.code == h.cell_code)
            .order_by(h.cell_code)
        )


_COUNTS = ("reported", "registered", "due", "closed", "closed_on_time", "overdue", "handled", "rework",
           "dispatched", "extended", "shelved")


@dataclass(frozen=True)
class CommunityIndicatorLayer(Layer):
    """The evaluation of each community over the last ``days`` days up to ``end`` (default: today, local)."""

    id = "area_indicators"
    title_zh = "社区考核指标"
    title_en = "Community evaluation"
    description = (
        "Each community with the cases reported in the last 30 days: reported, registered, due, closed, "
        "closed on time, overdue, shelved, and the closure, on-time, rework and extension rates "
        "(README: Evaluation)."
    )
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "社区代码", "Community code"),
        Field("name", "string", "社区", "Community"),
        Field("reported", "integer", "上报数", "Reported"),
        Field("registered", "integer", "立案数", "Registered"),
        Field("due", "integer", "应结案数", "Due"),
        Field("closed", "integer", "结案数", "Closed"),
        Field("closed_on_time", "integer", "按期结案数", "Closed on time"),
        Field("overdue", "integer", "超期数", "Overdue"),
        Field("shelved", "integer", "挂账数", "Shelved"),
        Field("closure_rate", "number", "结案率", "Closure rate"),
        Field("on_time_rate", "number", "按期结案率", "On-time rate"),
        Field("rework_rate", "number", "返工率", "Rework rate"),
        Field("extension_rate", "number", "延期率", "Extension rate"),
    )
    style = Style(color="#636363", weight=0.6, fill_opacity=0.6, choropleth="on_time_rate",
                  palette=("#bd0026", "#f03b20", "#fd8d3c", "#a1d99b", "#31a354"))
    days: int = 30
    end: date | None = None

    def period(self, now: datetime) -> Period:
        end = self.end or now.astimezone(SHANGHAI).date() + timedelta(days=1)
        return Period(end - timedelta(days=self.days), end, f"last {self.days} days")

    def counts(self, now: datetime | None = None) -> Subquery:
        now = now or datetime.now(UTC)
        sql, params, _ = statement(period=self.period(now), by=Grouping.community,
                                   scope=EvaluationScope.everywhere(names_people=False), now=now)
        typed: dict[str, Any] = {name: Integer for name in (*_COUNTS, "is_total")}
        return text(sql).bindparams(**params).columns(column("code", String), **typed).subquery("counts")

    def select(self) -> Rows:
        c = self.counts()
        area = AdminArea
        zero = {name: func.coalesce(c.c[name], 0) for name in _COUNTS}
        return (
            select(
                area.code, area.name, *(zero[name].label(name) for name in
                                        ("reported", "registered", "due", "closed", "closed_on_time", "overdue",
                                         "shelved")),
                sql_ratio(c.c.closed, c.c.due).cast(Float).label("closure_rate"),
                sql_ratio(c.c.closed_on_time, c.c.due).cast(Float).label("on_time_rate"),
                sql_ratio(c.c.rework, c.c.handled).cast(Float).label("rework_rate"),
                sql_ratio(c.c.extended, c.c.dispatched).cast(Float).label("extension_rate"),
                area.geom.label("geom"),
            )
            .outerjoin(c, and_(c.c.code == area.code, c.c.is_total == 0))
            .where(area.level == "community", area.valid_to.is_(None))
            .order_by(area.code)
        )
