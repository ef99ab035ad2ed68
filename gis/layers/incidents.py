"""The incident points layer for maps, tiles, exports and OGC API — de-personalised by construction (the
per-cell counts are ``gis.layers.density``).

It names no reporter, and the points carry no description: free text written in the field can
hold names and phone numbers, so it stays behind the authenticated incident API.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from gis.layers.base import Field, Layer, Rows, Style
from gis.models import Category, Incident

if TYPE_CHECKING:
    from gis.incidents.query import IncidentFilter


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
    counts_incidents = True
    tile_min_zoom = 14  # a city-wide tile of points would hold every case: the page clusters them instead
    filters: IncidentFilter | None = None

    def filtered(self, filters: IncidentFilter) -> IncidentLayer:
        return replace(self, filters=filters)

    def select(self) -> Rows:
        where = [] if self.filters is None else self.filters.conditions(datetime.now(UTC))
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
            .where(*where)
            .order_by(Incident.reported_at.desc(), Incident.id.desc())
        )
