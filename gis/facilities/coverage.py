"""Facility sharing per unit grid cell: what is open within walking reach, and where nothing is.

A facility is **in reach** of a cell (or compound) when it lies within ``radius_m`` metres, straight line,
of any part of the cell: the least a resident at the cell's edge would walk. Network distance over a road
layer is a later step. Distances are planar in the configured metric CRS (setting ``metric_crs``), like
every distance in Wangge.

How it stays fast: each cell is transformed to the metric CRS once (a materialised CTE), and its bounding
box is widened by the radius in degrees (generously: cos of the cell's latitude farthest from the equator,
plus 5 %), so the facility candidates come from the GiST index on ``facility.geom``; only those few are
transformed and measured exactly. ``bench/bench_facilities.py`` measures it (10,000 cells × 2,000
facilities) against a per-cell geopandas loop on the same data; ``bench/RESULTS.md`` has the figures. Given a
``bbox`` (a map view), only the cells intersecting it enter that first step, so a view costs what its cells
cost, not the city; the facilities each cell reaches are still found from the cell, not from the bbox, so a
cell at the edge of the view counts a facility outside the view that is within its radius.

Per cell: facilities inside it and in reach, distinct types in reach, open capacity in reach by type
(people for rooms, spaces for parking), open facility-hours per week in reach (the sum over facilities:
three rooms open 10 h each give 30), and active bookings in the period at facilities in reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Numeric, Select, cast, exists, func, literal, select
from sqlalchemy.orm import Session

from gis.models import Booking, BookingStatus, CapacityUnit, Compound, Facility, FacilityType, GridCell

LonLatBox = tuple[float, float, float, float]  # minLon, minLat, maxLon, maxLat (EPSG:4326)

DEFAULT_RADIUS_M = 500.0
_METRES_PER_DEGREE_LAT = 110_574.0
_METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0
_MARGIN = 1.05  # the degree box only preselects; the exact test is in metres


def reach_box(geom: Any, radius_m: float) -> Any:
    """SQL: ``geom``'s bounding box widened by at least ``radius_m`` metres, in degrees (EPSG:4326)."""
    far_lat = func.greatest(func.abs(func.ST_YMin(geom)), func.abs(func.ST_YMax(geom)))
    dx = radius_m * _MARGIN / (_METRES_PER_DEGREE_LON_AT_EQUATOR * func.greatest(func.cos(func.radians(far_lat)), 0.01))
    dy = radius_m * _MARGIN / _METRES_PER_DEGREE_LAT
    return func.ST_Expand(geom, dx, dy)


def in_reach(place_geom: Any, facility_geom: Any, radius_m: float, metric_crs: int) -> Any:
    """SQL condition: the facility lies within ``radius_m`` metres of any part of the place (metric CRS);
    the bounding-box test first lets PostgreSQL use the GiST index on the facility side."""
    return facility_geom.op("&&")(reach_box(place_geom, radius_m)) & func.ST_DWithin(
        func.ST_Transform(place_geom, metric_crs), func.ST_Transform(facility_geom, metric_crs), radius_m)


def sharing_select(*, metric_crs: int, start: datetime, end: datetime, radius_m: float = DEFAULT_RADIUS_M,
                   bbox: LonLatBox | None = None, cell_code: str | None = None) -> Select[Any]:
    """One row per grid cell: its code, community, ``geom`` and the sharing figures (see the module doc).

    ``bbox`` (lon/lat, checked by the caller) keeps only the cells that intersect it (``ST_Intersects``, as
    a layer's bbox filter does), from the first step on; their figures are the same as without it.
    ``cell_code`` likewise keeps only that cell.

    Three steps: cells in the metric CRS with their widened boxes (computed once); each cell with the
    facilities in its reach (index probes; a cell reaching none keeps one row of NULLs); sums per cell,
    joined to ``grid_cell`` by key for the geometry."""
    # Every join but the probes is with a table or a subquery that has statistics. The planner cannot count
    # the rows of a CTE: when it guessed one row for a view's cells, it joined the cells CTE to the sums by
    # nested loop, 2,700 × 2,700 rows for a 5 km view (measured: 1.2 s of 1.6 s).
    cell_rows = select(
        GridCell.id, GridCell.code, GridCell.community_code, GridCell.geom,
        func.ST_Transform(GridCell.geom, metric_crs).label("gm"),
        reach_box(GridCell.geom, radius_m).label("box"),
    )
    if bbox is not None:
        cell_rows = cell_rows.where(func.ST_Intersects(GridCell.geom, func.ST_MakeEnvelope(*bbox, 4326)))
    if cell_code is not None:
        cell_rows = cell_rows.where(GridCell.code == cell_code)
    cells = cell_rows.cte("cells").prefix_with("MATERIALIZED", dialect="postgresql")
    f = Facility.__table__.alias("f")
    reach = (
        select(cells.c.id.label("cell_id"), cells.c.code, cells.c.community_code, f.c.id.label("facility_id"),
               func.ST_Covers(cells.c.geom, f.c.geom).label("inside"),
               f.c.type, f.c.capacity_unit, f.c.open_capacity, f.c.open_hours_week)
        .select_from(cells.outerjoin(f, f.c.is_active & f.c.geom.op("&&")(cells.c.box) & func.ST_DWithin(
            cells.c.gm, func.ST_Transform(f.c.geom, metric_crs), radius_m)))
        .cte("reach").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    # Over the whole city's bookings in the period, even for a view: restricted to the view's facilities its
    # row estimate fell to 1 and the join below became a nested loop (measured: 100 ms instead of 2 ms).
    booked = (
        select(Booking.facility_id, func.count().label("n"))
        .where(Booking.status == BookingStatus.active.value, Booking.starts_at < end, Booking.ends_at > start)
        .group_by(Booking.facility_id)
        .subquery("booked")
    )

    def capacity(condition: Any) -> Any:
        return func.coalesce(func.sum(reach.c.open_capacity).filter(condition), 0)

    figures = [
        func.count().filter(reach.c.inside).label("facilities_inside"),
        func.count(reach.c.facility_id).label("facilities_in_reach"),
        func.count(reach.c.type.distinct()).label("types_in_reach"),
        capacity(reach.c.capacity_unit == CapacityUnit.people.value).label("open_people"),
        capacity(reach.c.capacity_unit == CapacityUnit.spaces.value).label("open_spaces"),
        *(capacity(reach.c.type == t.value).label(f"open_{t.value}") for t in FacilityType),
        func.round(cast(func.coalesce(func.sum(reach.c.open_hours_week), 0), Numeric), 1).label("open_hours_week"),
        func.coalesce(func.sum(booked.c.n), 0).label("bookings"),
    ]
    per_cell = (
        select(reach.c.cell_id, reach.c.code, reach.c.community_code, *figures)
        .select_from(reach.outerjoin(booked, booked.c.facility_id == reach.c.facility_id))
        .group_by(reach.c.cell_id, reach.c.code, reach.c.community_code)
        .subquery("per_cell")
    )
    return (
        select(per_cell.c.code, per_cell.c.community_code, *(per_cell.c[c.name] for c in figures),
               literal(radius_m).label("radius_m"), GridCell.geom.label("geom"))
        .join(GridCell, GridCell.id == per_cell.c.cell_id)
        .order_by(per_cell.c.code)
    )


@dataclass(frozen=True)
class Unreached:
    """A cell or compound with no active shared facility within the radius."""

    kind: str  # "cell" | "compound"
    code: str  # cell code, or the compound's name
    community_code: str


def unreached_cells(session: Session, *, metric_crs: int, radius_m: float = DEFAULT_RADIUS_M) -> list[Unreached]:
    """Grid cells with no active facility in reach, in code order."""
    near = exists().where(Facility.is_active, in_reach(GridCell.geom, Facility.geom, radius_m, metric_crs))
    rows = session.execute(select(GridCell.code, GridCell.community_code).where(~near).order_by(GridCell.code))
    return [Unreached("cell", code, community) for code, community in rows]


def unreached_compounds(session: Session, *, metric_crs: int,
                        radius_m: float = DEFAULT_RADIUS_M) -> list[Unreached]:
    """Compounds (小区) with no active facility in reach, by community then name."""
    near = exists().where(Facility.is_active, in_reach(Compound.geom, Facility.geom, radius_m, metric_crs))
    rows = session.execute(select(Compound.name, Compound.community_code).where(~near)
                           .order_by(Compound.community_code, Compound.name))
    return [Unreached("compound", name, community) for name, community in rows]
