"""Incident density: cases per unit grid cell, or per community and per subdistrict at small scales.

One layer, three levels of the same numbers. Exports, OGC API and a street-scale map get the 100 m cells; a tile
at a city-wide zoom gets the communities or subdistricts it covers (``level_for_zoom``): thousands of cells a
few pixels wide cannot be read, and encoding them is most of such a tile's time (PERFORMANCE.md: a z12 tile of
cells takes 190–400 ms, a z14 tile 23–46 ms).

Counts follow ``filters`` (:class:`gis.incidents.query.IncidentFilter`: time window, categories, statuses,
area, and the caller's read scope, so a grid worker's map counts only the cases they may read). With no time
window in the filter, the last ``days`` days are counted. Duplicates and voided reports never count. Counts
are made only for the areas asked for (a view's, a tile's): no request counts the whole city to draw a view.

Households come from compounds (小区): a compound belongs to the cell holding its ``ST_PointOnSurface`` and to
its own community; ``per_1000_households`` is empty where no compound gives households.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import CTE, Float, Integer, Numeric, Text, any_, case, cast, func, literal, null, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from gis.layers.areas import GridCellLayer
from gis.layers.base import BBox, Field, Layer, Rows, Style
from gis.models import AdminArea, AdminLevel, Category, Compound, GridCell, Incident
from gis.models.incidents import FINAL_STATUSES
from gis.settings import get_settings

if TYPE_CHECKING:
    from gis.incidents.query import IncidentFilter

NOT_COUNTED = ("void", "duplicate")
_FINAL = sorted(s.value for s in FINAL_STATUSES)


class Level(enum.StrEnum):
    """What one feature of the density layer is."""

    cell = "cell"
    community = "community"
    subdistrict = "subdistrict"

    @property
    def label_zh(self) -> str:
        return {"cell": "单元网格", "community": "社区", "subdistrict": "街道"}[self.value]


# From this zoom on a 100 m cell is at least ~12 px wide at Jishou's latitude; communities from COMMUNITY_ZOOM.
CELL_ZOOM = 14
COMMUNITY_ZOOM = 12


def level_for_zoom(z: int) -> Level:
    """The level a map at zoom ``z`` draws: subdistricts below 12, communities at 12–13, cells from 14."""
    if z >= CELL_ZOOM:
        return Level.cell
    return Level.community if z >= COMMUNITY_ZOOM else Level.subdistrict


_member = aliased(AdminArea)  # a community of the subdistrict being summed


def _current(level: AdminLevel) -> list[ColumnElement[bool]]:
    return [AdminArea.level == level.value, AdminArea.valid_to.is_(None)]


@dataclass(frozen=True)
class IncidentDensityLayer(Layer):
    """Counts per cell (or community, subdistrict) of the cases a filter selects."""

    id = "incident_density"
    title_zh = "案件密度"
    title_en = "Incident density"
    description = (
        "Each unit grid cell (at small scales: each community or subdistrict) with the incidents reported in it "
        "in the filter's time window (default: the last year): total, still open, overdue, per km², per 1,000 "
        "households of its compounds, and counts by major category (JSON). Duplicates and voided cases are not "
        "counted."
    )
    geometry_type = "MultiPolygon"
    fields = (
        Field("code", "string", "编码", "Code"),
        Field("level", "string", "层级", "Level"),
        Field("name", "string", "名称", "Name"),
        Field("community_code", "string", "社区代码", "Community code"),
        Field("community_name", "string", "社区", "Community"),
        Field("incidents", "integer", "案件数", "Incidents"),
        Field("open", "integer", "未结案", "Open"),
        Field("overdue", "integer", "超期", "Overdue"),
        Field("area_km2", "number", "面积(平方公里)", "Area (km²)"),
        Field("per_km2", "number", "每平方公里案件数", "Incidents per km²"),
        Field("households", "integer", "户数", "Households"),
        Field("per_1000_households", "number", "每千户案件数", "Incidents per 1,000 households"),
        Field("by_major", "string", "按大类计数", "Counts by major category (JSON)"),
    )
    style = Style(color="#636363", weight=0.4, fill_opacity=0.7, choropleth="per_km2")
    counts_incidents = True
    days: int = 365
    metric_crs: int = field(default_factory=lambda: get_settings().metric_crs)
    filters: IncidentFilter | None = None

    # -- the Layer interface --------------------------------------------------------------------------------
    def select(self) -> Rows:
        return self.rows(Level.cell)

    def select_for(self, bbox: BBox | None, feature_id: str | int | float | None = None) -> Rows:
        return self.rows(Level.cell, bbox=bbox, code=None if feature_id is None else str(feature_id))

    def tile_rows(self, bbox: BBox, z: int) -> Rows:
        return self.rows(level_for_zoom(z), bbox=bbox)

    def extent(self, session: Session) -> BBox | None:
        """The cells' extent (what ``select()`` would give, without counting a single incident)."""
        return GridCellLayer().extent(session)

    def filtered(self, filters: IncidentFilter) -> IncidentDensityLayer:
        """This layer counting only what ``filters`` selects (its ``bbox`` is ignored: the areas give it)."""
        return replace(self, filters=replace(filters, bbox=None))

    # -- the rows -------------------------------------------------------------------------------------------
    def rows(self, level: Level, *, bbox: BBox | None = None, code: str | None = None) -> Rows:
        """One row per area of ``level`` intersecting ``bbox`` (all when None; only ``code`` when given)."""
        areas = self._areas(level, bbox, code)
        counts = self._counts(level, areas)
        households = self._households(level, areas)
        total = func.coalesce(counts.c.incidents, 0)
        homes = households.c.households
        area_km2 = areas.c.area_m2 / 1e6
        return (
            select(
                areas.c.code,
                literal(level.value).label("level"),
                areas.c.name,
                areas.c.community_code,
                areas.c.community_name,
                cast(total, Integer).label("incidents"),
                cast(func.coalesce(counts.c.open, 0), Integer).label("open"),
                cast(func.coalesce(counts.c.overdue, 0), Integer).label("overdue"),
                func.round(cast(area_km2, Numeric), 4).label("area_km2"),
                func.round(cast(case((areas.c.area_m2 > 0, total * 1e6 / areas.c.area_m2), else_=0), Numeric),
                           1).label("per_km2"),
                cast(homes, Integer).label("households"),
                func.round(cast(case((homes > 0, total * 1000.0 / homes), else_=null()), Numeric),
                           2).label("per_1000_households"),
                func.coalesce(counts.c.by_major, "{}").label("by_major"),
                areas.c.geom,
            )
            .outerjoin(counts, counts.c.key == areas.c.code)
            .outerjoin(households, households.c.key == areas.c.code)
            .order_by(areas.c.code)
        )

    def _areas(self, level: Level, bbox: BBox | None, code: str | None) -> CTE:
        """code, name, community_code, community_name, area_m2 (metric CRS), geom of the areas asked for."""
        if level is Level.cell:
            community = select(AdminArea.code, AdminArea.name).where(*_current(AdminLevel.community)).subquery()
            stmt = select(
                GridCell.code, GridCell.code.label("name"), GridCell.community_code,
                community.c.name.label("community_name"), cast(GridCell.area_m2, Float).label("area_m2"),
                GridCell.geom.label("geom"),
            ).outerjoin(community, community.c.code == GridCell.community_code)
            geom: Any = GridCell.geom
            key: Any = GridCell.code
        else:
            admin = AdminLevel.community if level is Level.community else AdminLevel.subdistrict
            is_community = level is Level.community
            # An area's size is the sum of its cells' (measured once, in the metric CRS, when the grid was
            # built): the cells tile it exactly, and reprojecting a community's polygon for every tile cost
            # most of a z12 tile's time.
            cells = (select(func.coalesce(func.sum(GridCell.area_m2), 0.0))
                     .where(GridCell.community_code == AdminArea.code) if is_community else
                     select(func.coalesce(func.sum(GridCell.area_m2), 0.0))
                     .where(GridCell.community_code.in_(
                         select(_member.code).where(_member.parent_code == AdminArea.code,
                                                    _member.level == AdminLevel.community.value,
                                                    _member.valid_to.is_(None)))))
            stmt = select(
                AdminArea.code, AdminArea.name,
                (AdminArea.code if is_community else null()).label("community_code"),
                (AdminArea.name if is_community else null()).label("community_name"),
                cells.scalar_subquery().label("area_m2"),
                AdminArea.geom.label("geom"),
            ).where(*_current(admin))
            geom, key = AdminArea.geom, AdminArea.code
        if bbox is not None:
            stmt = stmt.where(func.ST_Intersects(geom, func.ST_MakeEnvelope(*bbox, 4326)))
        if code is not None:
            stmt = stmt.where(key == code)
        return stmt.cte(f"{level.value}_areas")

    def _conditions(self) -> list[ColumnElement[bool]]:
        now = datetime.now(UTC)
        filters = self.filters
        where: list[ColumnElement[bool]] = [Incident.status.not_in(NOT_COUNTED)]
        if filters is not None:
            where += filters.conditions(now)
        if filters is None or (filters.reported_from is None and filters.reported_to is None):
            where.append(Incident.reported_at >= now - timedelta(days=self.days))
        return where

    def _counts(self, level: Level, areas: CTE) -> Any:
        from gis.incidents.workflow import overdue_clause  # gis.incidents imports gis.layers.base

        key = {Level.cell: Incident.cell_code, Level.community: Incident.community_code,
               Level.subdistrict: Incident.subdistrict_code}[level]
        if level is Level.cell:
            # The cases of the cells' communities, then kept for the cells by the join on the cell code: a few
            # range scans of the (community, category, time) index instead of one probe of the cell index per
            # cell (a z14 tile: ~600 probes, most of its counting time). Exact because a case's cell is one of
            # its community's cells (``gis.incidents.location`` picks the cell among the community's).
            communities = func.array(select(areas.c.community_code).distinct().scalar_subquery())
            reach: ColumnElement[bool] = Incident.community_code == any_(communities)
        else:
            reach = key.in_(select(areas.c.code))
        per_major = (
            select(
                key.label("key"), Category.major_code.label("major"), func.count().label("n"),
                func.count().filter(Incident.status.not_in(_FINAL)).label("open"),
                func.count().filter(overdue_clause(func.now())).label("overdue"),
            )
            .join(Category, Category.code == Incident.category_code)
            .where(reach, *self._conditions())
            .group_by(key, Category.major_code)
            .subquery("per_major")
        )
        return (
            select(
                per_major.c.key,
                func.sum(per_major.c.n).label("incidents"),
                func.sum(per_major.c.open).label("open"),
                func.sum(per_major.c.overdue).label("overdue"),
                cast(func.jsonb_object_agg(per_major.c.major, per_major.c.n), Text).label("by_major"),
            )
            .group_by(per_major.c.key)
            .subquery("counts")
        )

    def _households(self, level: Level, areas: CTE) -> Any:
        total = func.sum(Compound.households).label("households")
        if level is Level.cell:
            stmt = select(areas.c.code.label("key"), total).join(
                Compound,
                Compound.geom.op("&&")(areas.c.geom)
                & func.ST_Intersects(areas.c.geom, func.ST_PointOnSurface(Compound.geom)),
            )
        elif level is Level.community:
            stmt = select(areas.c.code.label("key"), total).join(Compound, Compound.community_code == areas.c.code)
        else:
            community = select(AdminArea.code, AdminArea.parent_code).where(*_current(AdminLevel.community)).subquery()
            stmt = (
                select(areas.c.code.label("key"), total)
                .join(community, community.c.parent_code == areas.c.code)
                .join(Compound, Compound.community_code == community.c.code)
            )
        return stmt.where(Compound.households > 0).group_by(areas.c.code).subquery("households")
