"""Incident layers for maps, exports and OGC API — de-personalised by construction.

Neither layer names a reporter, and the points carry no description: free text written in the field can
hold names and phone numbers, so it stays behind the authenticated incident API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Numeric, case, cast, func, literal, select

from gis.layers.base import Field, Layer, Rows, Style
from gis.models import Category, GridCell, Incident
from gis.models.incidents import FINAL_STATUSES

_FINAL = sorted(s.value for s in FINAL_STATUSES)


def _overdue() -> Any:
    """Overdue as of the query's time: :meth:`Incident.overdue_clause`, the one definition."""
    return Incident.overdue_clause(func.now())


@dataclass(frozen=True)
class IncidentLayer(Layer):
    id = "incidents"
    title_zh = "案件"
    title_en = "Incidents"
    description = (
        "Street-order incidents as points with category, status and dates; no reporter and no free text."
    )
    geometry_type = "Point"
    fields = (
        Field("public_id", "string", "案件编号", "Case number"),
        Field("category_code", "string", "类别代码", "Category code"),
        Field("category_name", "string", "类别", "Category"),
        Field("status", "string", "状态", "Status"),
        Field("overdue", "boolean", "超期", "Overdue"),
        Field("reported_at", "datetime", "上报时间", "Reported at"),
        Field("deadline_at", "datetime", "处置时限", "Deadline"),
        Field("closed_at", "datetime", "结案时间", "Closed at"),
        Field("cell_code", "string", "网格编码", "Cell code"),
        Field("community_code", "string", "社区代码", "Community code"),
    )
    style = Style(color="#d95f0e", fill_color="#fe9929", fill_opacity=0.8)
    time_field = "reported_at"

    def select(self) -> Rows:
        return (
            select(
                Incident.public_id,
                Incident.category_code,
                Category.name_zh.label("category_name"),
                Incident.status,
                _overdue().label("overdue"),
                Incident.reported_at,
                Incident.deadline_at,
                Incident.closed_at,
                Incident.cell_code,
                Incident.community_code,
                Incident.location.label("geom"),
            )
            .join(Category, Category.code == Incident.category_code)
            .order_by(Incident.reported_at.desc(), Incident.id.desc())
        )


@dataclass(frozen=True)
class IncidentDensityLayer(Layer):
    """Per-cell counts over the last ``days`` days: where street-order problems concentrate."""

    id = "incident_density"
    title_zh = "案件密度(单元网格)"
    title_en = "Incident density per grid cell"
    description = (
        "Each unit grid cell with the incidents reported in it over the last year: total, still open, "
        "overdue, and per km². Duplicates and voided cases are not counted."
    )
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "网格编码", "Cell code"),
        Field("community_code", "string", "社区代码", "Community code"),
        Field("incidents", "integer", "案件数", "Incidents"),
        Field("open", "integer", "未结案", "Open"),
        Field("overdue", "integer", "超期", "Overdue"),
        Field("per_km2", "number", "每平方公里案件数", "Incidents per km²"),
    )
    style = Style(color="#636363", weight=0.4, fill_opacity=0.7, choropleth="per_km2")
    days: int = 365

    def select(self) -> Rows:
        counted = Incident.status.not_in(["void", "duplicate"])
        since = func.now() - func.make_interval(0, 0, 0, literal(self.days))
        counts = (
            select(
                Incident.cell_code.label("cell_code"),
                func.count().label("incidents"),
                func.count().filter(Incident.status.not_in(_FINAL)).label("open"),
                func.count().filter(_overdue()).label("overdue"),
            )
            .where(counted, Incident.reported_at >= since, Incident.cell_code.is_not(None))
            .group_by(Incident.cell_code)
            .subquery("counts")
        )
        total = func.coalesce(counts.c.incidents, 0)
        return (
            select(
                GridCell.code,
                GridCell.community_code,
                cast(total, Integer).label("incidents"),
                cast(func.coalesce(counts.c.open, 0), Integer).label("open"),
                cast(func.coalesce(counts.c.overdue, 0), Integer).label("overdue"),
                func.round(
                    cast(case((GridCell.area_m2 > 0, total * 1e6 / GridCell.area_m2), else_=0), Numeric), 1
                ).label("per_km2"),
                GridCell.geom.label("geom"),
            )
            .outerjoin(counts, counts.c.cell_code == GridCell.code)
            .order_by(GridCell.code)
        )
