"""Administrative boundary layers: subdistricts (街道) and communities (社区), current versions only."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Numeric, cast, func, select

from gis.layers.base import Field, Layer, Rows, Style
from gis.models import AdminArea, AdminLevel
from gis.settings import get_settings

_FIELDS = (
    Field("code", "string", "区划代码", "Division code"),
    Field("name", "string", "名称", "Name"),
    Field("parent_code", "string", "上级代码", "Parent code"),
    Field("area_km2", "number", "面积(平方公里)", "Area (km²)"),
    Field("valid_from", "date", "生效日期", "Valid from"),
)


def _current(level: AdminLevel, metric_crs: int) -> Rows:
    area = func.round(cast(func.ST_Area(func.ST_Transform(AdminArea.geom, metric_crs)) / 1e6, Numeric), 3)
    return select(
        AdminArea.code,
        AdminArea.name,
        AdminArea.parent_code,
        area.label("area_km2"),
        AdminArea.valid_from,
        AdminArea.geom.label("geom"),
    ).where(AdminArea.level == level.value, AdminArea.valid_to.is_(None)).order_by(AdminArea.code)


@dataclass(frozen=True)
class SubdistrictLayer(Layer):
    id = "subdistricts"
    title_zh = "街道"
    title_en = "Subdistricts"
    description = "Current subdistrict (街道) boundaries with their official 12-digit division codes."
    geometry_type = "MultiPolygon"
    fields = _FIELDS
    style = Style(color="#5b2c83", weight=2.5, fill_opacity=0.0)
    metric_crs: int = field(default_factory=lambda: get_settings().metric_crs)

    def select(self) -> Rows:
        return _current(AdminLevel.subdistrict, self.metric_crs)


@dataclass(frozen=True)
class CommunityLayer(Layer):
    id = "communities"
    title_zh = "社区"
    title_en = "Communities"
    description = "Current community (社区) boundaries with their official 12-digit division codes."
    geometry_type = "MultiPolygon"
    fields = _FIELDS
    style = Style(color="#2c7fb8", weight=1.5, fill_opacity=0.05)
    metric_crs: int = field(default_factory=lambda: get_settings().metric_crs)

    def select(self) -> Rows:
        return _current(AdminLevel.community, self.metric_crs)
