"""Layers of the fabric inside communities: compounds (小区) and unit grid cells (单元网格)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Numeric, cast, func, select

from gis.layers.base import Field, Layer, Rows, Style
from gis.models import Compound, GridCell


@dataclass(frozen=True)
class CompoundLayer(Layer):
    id = "compounds"
    title_zh = "小区"
    title_en = "Compounds"
    description = "Residential compounds (小区) with households and property management; no personal data."
    geometry_type = "MultiPolygon"
    fields = (
        Field("name", "string", "小区名称", "Name"),  # first: what a tooltip shows
        Field("community_code", "string", "所属社区代码", "Community code"),
        Field("address", "string", "地址", "Address"),
        Field("households", "integer", "户数", "Households"),
        Field("property_company", "string", "物业公司", "Property management"),
        Field("built_year", "integer", "建成年份", "Year built"),
        Field("id", "integer", "编号", "Id"),
    )
    # A name is unique only within its community (two 幸福小区 in two communities are common), so it cannot
    # be the feature id. The database id is unique, and stable: re-importing updates a compound in place by
    # (community, name) rather than replacing it.
    id_field = "id"
    style = Style(color="#8c6d31", weight=1.0, fill_color="#e7ba52", fill_opacity=0.3)
    tile_min_zoom = 12

    def select(self) -> Rows:
        return select(
            Compound.name,
            Compound.community_code,
            Compound.address,
            Compound.households,
            Compound.property_company,
            Compound.built_year,
            Compound.id,
            Compound.geom.label("geom"),
        ).order_by(Compound.community_code, Compound.name, Compound.id)


@dataclass(frozen=True)
class GridCellLayer(Layer):
    id = "grid_cells"
    title_zh = "单元网格"
    title_en = "Unit grid cells"
    description = "Unit grid cells (单元网格) with 15-digit codes; area in m² in the metric CRS."
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "网格编码", "Cell code"),
        Field("community_code", "string", "所属社区代码", "Community code"),
        Field("area_m2", "number", "面积(平方米)", "Area (m²)"),
    )
    style = Style(color="#636363", weight=0.6, fill_opacity=0.0)
    tile_min_zoom = 13

    def select(self) -> Rows:
        return select(
            GridCell.code,
            GridCell.community_code,
            func.round(cast(GridCell.area_m2, Numeric), 1).label("area_m2"),
            GridCell.geom.label("geom"),
        ).order_by(GridCell.code)
