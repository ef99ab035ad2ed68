"""Shared facility layers: the facilities themselves (points) and facility sharing per grid cell.

Neither names a person: unit contacts (names, phones) stay in the ``unit`` table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd
from sqlalchemy import Numeric, Select, cast, select, text
from sqlalchemy.orm import Session

from gis.facilities.coverage import sharing_select
from gis.layers.areas import GridCellLayer
from gis.layers.base import BBox, FeaturePage, Field, Layer, Style
from gis.models import Facility, FacilityType, Unit
from gis.settings import get_settings
from gis.timespan import Timespan


@dataclass(frozen=True)
class FacilityLayer(Layer):
    id = "facilities"
    title_zh = "共享场所"
    title_en = "Shared facilities"
    description = ("Facilities that units open to communities (场所联享): type, open capacity, weekly opening "
                   "windows (local time, Asia/Shanghai), booking rules; no contact names or phones.")
    geometry_type = "Point"
    fields = (
        Field("id", "integer", "编号", "Id"),
        Field("name", "string", "名称", "Name"),
        Field("type", "string", "类型", "Type"),
        Field("unit_name", "string", "所属单位", "Unit"),
        Field("unit_kind", "string", "单位类别", "Unit kind"),
        Field("community_code", "string", "所在社区代码", "Community code"),
        Field("address", "string", "地址", "Address"),
        Field("capacity", "integer", "容量", "Capacity"),
        Field("capacity_unit", "string", "容量单位", "Capacity unit"),
        Field("open_share", "number", "开放比例", "Share opened"),
        Field("open_capacity", "integer", "开放容量", "Open capacity"),
        Field("opening_hours", "string", "开放时间", "Opening hours"),
        Field("open_hours_week", "number", "每周开放小时", "Open hours per week"),
        Field("booking_required", "boolean", "需预约", "Booking required"),
        Field("rules", "string", "使用规则", "Rules"),
    )
    style = Style(color="#1b7837", weight=1.0, fill_color="#5aae61", fill_opacity=0.9)

    def select(self) -> Select[Any]:
        return (
            select(
                Facility.id, Facility.name, Facility.type, Unit.name.label("unit_name"),
                Unit.kind.label("unit_kind"), Facility.community_code, Facility.address, Facility.capacity,
                Facility.capacity_unit, cast(Facility.open_share, Numeric).label("open_share"),
                Facility.open_capacity, Facility.opening_hours, Facility.open_hours_week,
                Facility.booking_required, Facility.rules, Facility.geom.label("geom"),
            )
            .join(Unit, Unit.id == Facility.unit_id)
            .where(Facility.is_active)
            .order_by(Facility.community_code, Facility.name, Facility.id)
        )


def _without_jit(session: Session) -> None:
    # PostGIS declares ST_Transform costly, so PostgreSQL's JIT compiles this plan for ~0.7 s while the
    # query itself runs in about as long: off for the rest of this transaction only.
    session.execute(text("SET LOCAL jit = off"))


@dataclass(frozen=True)
class FacilitySharingLayer(Layer):
    id = "facility_sharing"
    title_zh = "场所共享覆盖"
    title_en = "Facility sharing per grid cell"
    description = ("Per unit grid cell: shared facilities inside it and within a straight-line walking radius "
                   "(radius_m, metric CRS), open capacity by type, open facility-hours per week, and active "
                   "bookings in the last period_days at those facilities. Cells with facilities_in_reach = 0 "
                   "have no shared facility in reach.")
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "网格编码", "Cell code"),
        Field("community_code", "string", "所属社区代码", "Community code"),
        Field("facilities_inside", "integer", "网格内场所数", "Facilities inside"),
        Field("facilities_in_reach", "integer", "步行可达场所数", "Facilities in reach"),
        Field("types_in_reach", "integer", "可达场所类型数", "Types in reach"),
        Field("open_people", "integer", "可达开放容量(人)", "Open capacity in reach (people)"),
        Field("open_spaces", "integer", "可达开放车位", "Open parking spaces in reach"),
        *(Field(f"open_{t.value}", "integer", f"{t.label_zh}开放容量", f"Open capacity: {t.value}")
          for t in FacilityType),
        Field("open_hours_week", "number", "每周开放场所小时", "Open facility-hours per week"),
        Field("bookings", "integer", "期间预约数", "Bookings in period"),
        Field("radius_m", "number", "步行半径(米)", "Walking radius (m)"),
    )
    style = Style(color="#636363", weight=0.4, fill_color="#1a9850", fill_opacity=0.6,
                  choropleth="facilities_in_reach",
                  palette=("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"))
    tile_min_zoom = 13  # one feature per 100 m cell: from the zoom at which a cell is a few pixels wide
    metric_crs: int = field(default_factory=lambda: get_settings().metric_crs)
    radius_m: float = field(default_factory=lambda: get_settings().sharing_radius_m)
    period_days: int = 30

    def select(self) -> Select[Any]:
        return self.select_for(None)

    def select_for(self, bbox: BBox | None, feature_id: str | int | float | None = None) -> Select[Any]:
        """Only the cells intersecting ``bbox`` (and the one cell asked for by code) are computed (about 1–2 s
        for a 10,000-cell city otherwise); each still counts every facility within its radius, inside the
        bbox or not."""
        end = datetime.now(UTC)
        return sharing_select(metric_crs=self.metric_crs, radius_m=self.radius_m,
                              start=end - timedelta(days=self.period_days), end=end, bbox=bbox,
                              cell_code=None if feature_id is None else str(feature_id))

    def query(self, session: Session, **kwargs: Any) -> FeaturePage:
        _without_jit(session)
        return super().query(session, **kwargs)

    def count(self, session: Session, *, bbox: BBox | None = None, during: Timespan | None = None) -> int:
        _without_jit(session)
        return super().count(session, bbox=bbox, during=during)

    def to_geodataframe(self, session: Session, *, bbox: BBox | None = None,
                        during: Timespan | None = None) -> gpd.GeoDataFrame:
        _without_jit(session)
        return super().to_geodataframe(session, bbox=bbox, during=during)

    def extent(self, session: Session) -> BBox | None:
        """The cells' extent, without computing what serves each of them."""
        return GridCellLayer().extent(session)
