"""Where a point belongs — its community, cell, subdistrict and responsible team: the one location rule.

The rule: the current community whose boundary holds the point (the lowest code wins on a shared edge); the cell
of that community holding the point (lowest code on an edge); the team whose jurisdiction lists the community,
else one listing its subdistrict (most specific first, lowest id among equals); a point outside every community
but within the snap tolerance (setting ``snap_tolerance_m``, 5 m by default) of one goes to the nearest
community and its nearest cell. :func:`locate` is the rule for one point in SQL; :class:`Atlas` is the same
rule vectorised over millions of points in memory for bulk import (shapely STRtrees: millions of points a
second where a SQL join manages about 200,000, see ``bench/bench_incident_import.py``).
``tests/gis/incidents/test_location.py`` holds the two forms to the same answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from geoalchemy2 import Geography
from geoalchemy2.shape import to_shape
from sqlalchemy import ColumnElement, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.models import SRID, AdminArea, AdminLevel, GridCell, TeamJurisdiction
from gis.settings import get_settings
from gis.spatial.crs import WGS84, InputDatum, convert, reproject

_NONE = np.iinfo(np.int64).max


# -- checking input -------------------------------------------------------------------------------------
def check_coordinate(value: object, field_name: str) -> float:
    """``value`` as a finite float; InvalidInput naming ``field_name`` otherwise (range is checked later)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"{field_name}: not a number ({value!r})") from None
    if not math.isfinite(number):
        raise InvalidInput(f"{field_name}: must be a finite number of degrees, not {value!r}")
    return number


def in_range(lon: float, lat: float) -> bool:
    return -180 <= lon <= 180 and -90 <= lat <= 90


def range_message(lon: float, lat: float) -> str:
    if not -180 <= lon <= 180:
        return f"lon: {lon} is outside [-180, 180]"
    return f"lat: {lat} is outside [-90, 90]"


def swapped_message(lon: float, lat: float) -> str:
    return (f"({lon}, {lat}) looks like latitude and longitude swapped: ({lat}, {lon}) is inside "
            "a community; send longitude first")


def outside_message(lon: float, lat: float, nearest_name: str, nearest_code: str, distance_m: float) -> str:
    distance = f"{distance_m:,.0f}" if distance_m >= 1 else f"{distance_m:.1f}"
    return (f"({lon:.6f}, {lat:.6f}) is outside every community; the nearest is {nearest_name} "
            f"({nearest_code}), {distance} m away")


# -- locating -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Location:
    """Where a point falls: its cell (None where no grid is built), community, subdistrict and team."""

    community_code: str
    community_name: str
    subdistrict_code: str | None
    cell_code: str | None
    team_id: int | None


def _point(lon: float, lat: float) -> ColumnElement[Any]:
    return func.ST_SetSRID(func.ST_MakePoint(literal(lon), literal(lat)), SRID)


def _current_communities() -> Select[AdminArea]:
    return select(AdminArea).where(AdminArea.valid_to.is_(None), AdminArea.level == AdminLevel.community.value)


def locate(session: Session, lon: float, lat: float, *, tolerance_m: float = 0.0) -> Location | None:
    """The community (lowest code on a shared edge), cell, subdistrict and responsible team of a WGS84 point.

    The team is the one whose jurisdiction lists the community, else one that lists its subdistrict (the
    most specific wins; lowest id among equals). A point in no community but within ``tolerance_m`` metres
    of one (GPS noise, hairline gaps between digitised boundaries) goes to the nearest community and its
    nearest cell. None when the point is in no current community and not that close to one."""
    point = _point(lon, lat)
    located = _located(session, point, func.ST_Intersects(AdminArea.geom, point), exact=True)
    if located is not None or tolerance_m <= 0:
        return located
    nearest = nearest_community(session, lon, lat)
    if nearest is None or nearest[2] > tolerance_m:
        return None
    return _located(session, point, AdminArea.code == nearest[0], exact=False)


def location_select(point: Any, community_where: Any = None, *, exact: bool = True) -> Select[Any]:
    """SQL: the row (community_code, community_name, subdistrict_code, cell_code, team_id) of ``point``, a
    WGS84 point expression — the rule itself, which :func:`locate` runs and the create's one-statement fast
    path (``gis.incidents.fast_create``) compiles into its statement. ``exact=False``: the community given by
    ``community_where`` and its nearest cell (a point snapped from just outside)."""
    where = func.ST_Intersects(AdminArea.geom, point) if community_where is None else community_where
    community = _current_communities().where(where).order_by(AdminArea.code).limit(1).subquery("community")
    in_community = select(GridCell.code).where(GridCell.community_code == community.c.code)
    cell = (
        in_community.where(func.ST_Intersects(GridCell.geom, point)).order_by(GridCell.code)
        if exact else in_community.order_by(GridCell.geom.op("<->")(point), GridCell.code)
    ).limit(1).scalar_subquery()
    team = responsible_team(community.c.code, community.c.parent_code)
    return select(
        community.c.code.label("community_code"), community.c.name.label("community_name"),
        community.c.parent_code.label("subdistrict_code"), cell.label("cell_code"), team.label("team_id"),
    )


def _located(session: Session, point: Any, community_where: Any, *, exact: bool) -> Location | None:
    row = session.execute(location_select(point, community_where, exact=exact)).first()
    if row is None:
        return None
    return Location(community_code=row[0], community_name=row[1], subdistrict_code=row[2], cell_code=row[3],
                    team_id=row[4])


def responsible_team(community_code: Any, subdistrict_code: Any) -> Any:
    """SQL: the id of the team answering for a community — one listing the community itself, else one listing
    its subdistrict; the lowest id among equals. Correlates with the columns it is given."""
    return (
        select(TeamJurisdiction.team_id)
        .where(TeamJurisdiction.area_code.in_([community_code, subdistrict_code]))
        .order_by(case((TeamJurisdiction.area_code == community_code, 0), else_=1), TeamJurisdiction.team_id)
        .limit(1)
        .scalar_subquery()
    )


def nearest_community(session: Session, lon: float, lat: float) -> tuple[str, str, float] | None:
    """(code, name, metres) of the current community nearest to a point, on the ellipsoid."""
    point = _point(lon, lat)
    # The index orders by planar degrees; re-rank a few candidates by true distance.
    candidates = (
        _current_communities()
        .order_by(AdminArea.geom.op("<->")(point))
        .limit(5)
        .subquery()
    )
    metres = func.ST_Distance(cast(candidates.c.geom, Geography), cast(point, Geography))
    row = session.execute(
        select(candidates.c.code, candidates.c.name, metres).order_by(metres, candidates.c.code).limit(1)
    ).first()
    return None if row is None else (row[0], row[1], float(row[2]))


def resolve_location(
    session: Session,
    lon: object,
    lat: object,
    datum: InputDatum | str = InputDatum.wgs84,
    *,
    edge_tolerance_m: float | None = None,
) -> tuple[float, float, Location]:
    """Check a lon/lat pair as a person sent it, convert it to WGS84 and locate it (a point within
    ``edge_tolerance_m`` of a community counts as in it: see :func:`locate`).

    Raises InvalidInput naming the field: not a number, NaN/Infinity, out of range, apparently swapped
    (swapping puts it inside a community), or outside every community (naming the nearest one and its
    distance in metres)."""
    x, y = check_coordinate(lon, "lon"), check_coordinate(lat, "lat")
    if not in_range(x, y):
        if in_range(y, x) and _locate_in(session, y, x, datum) is not None:
            raise InvalidInput(f"lon/lat: {swapped_message(x, y)}")
        raise InvalidInput(range_message(x, y))
    wx, wy = to_wgs84(x, y, datum)
    tolerance = get_settings().snap_tolerance_m if edge_tolerance_m is None else edge_tolerance_m
    location = locate(session, wx, wy, tolerance_m=tolerance)
    if location is not None:
        return wx, wy, location
    if in_range(y, x) and _locate_in(session, y, x, datum) is not None:
        raise InvalidInput(f"lon/lat: {swapped_message(x, y)}")
    nearest = nearest_community(session, wx, wy)
    if nearest is None:
        raise InvalidInput("location: no community boundaries are loaded; load boundaries before reporting")
    raise InvalidInput(f"location: {outside_message(wx, wy, nearest[1], nearest[0], nearest[2])}")


def to_wgs84(lon: float, lat: float, datum: InputDatum | str) -> tuple[float, float]:
    wx, wy = convert(lon, lat, datum, InputDatum.wgs84)
    return float(wx), float(wy)


def _locate_in(session: Session, lon: float, lat: float, datum: InputDatum | str) -> Location | None:
    return locate(session, *to_wgs84(lon, lat, datum))



# -- the same rule, vectorised, for bulk import --------------------------------------------------------


@dataclass
class Atlas:
    """Current communities and cells in memory (STRtrees), with each community's subdistrict and team."""

    codes: np.ndarray  # community codes, sorted: the lowest code wins on a shared edge, as in gis.incidents.service
    names: np.ndarray
    parents: np.ndarray
    teams: np.ndarray  # team id or -1
    tree: shapely.STRtree
    cell_codes: np.ndarray
    cell_communities: np.ndarray  # index into ``codes`` of each cell's community
    cell_tree: shapely.STRtree

    @classmethod
    def load(cls, session: Session) -> Atlas:
        team = responsible_team(AdminArea.code, AdminArea.parent_code)
        communities = session.execute(
            select(AdminArea.code, AdminArea.name, AdminArea.parent_code, AdminArea.geom, team)
            .where(AdminArea.valid_to.is_(None), AdminArea.level == AdminLevel.community.value)
            .order_by(AdminArea.code)
        ).all()
        codes = np.array([c[0] for c in communities], dtype=object)
        position = {code: i for i, code in enumerate(codes)}
        cells = session.execute(select(GridCell.code, GridCell.community_code, GridCell.geom)
                                .order_by(GridCell.code)).all()
        cells = [c for c in cells if c[1] in position]
        return cls(
            codes=codes,
            names=np.array([c[1] for c in communities], dtype=object),
            parents=np.array([c[2] for c in communities], dtype=object),
            teams=np.array([-1 if c[4] is None else c[4] for c in communities], dtype=np.int64),
            tree=shapely.STRtree([to_shape(c[3]) for c in communities]),
            cell_codes=np.array([c[0] for c in cells], dtype=object),
            cell_communities=np.array([position[c[1]] for c in cells], dtype=np.int64),
            cell_tree=shapely.STRtree([to_shape(c[2]) for c in cells]),
        )

    def community_of(self, points: np.ndarray) -> np.ndarray:
        """Index of the community holding each point (-1: none), lowest code on shared edges."""
        found = np.full(len(points), _NONE, dtype=np.int64)
        if len(self.codes):
            which, hits = self.tree.query(points, predicate="intersects")
            np.minimum.at(found, which, hits)
        return np.where(found == _NONE, -1, found)

    def cell_of(self, points: np.ndarray, community: np.ndarray, near_edge: np.ndarray) -> np.ndarray:
        """Code of the cell of each point within its community (None: no cell, e.g. no grid built yet);
        for points ``near_edge`` (outside, but given to the nearest community) the nearest cell, if it is
        in that community."""
        found = np.full(len(points), _NONE, dtype=np.int64)
        wanted = np.flatnonzero((community >= 0) & ~near_edge)
        if len(self.cell_codes) and wanted.size:
            which, hits = self.cell_tree.query(points[wanted], predicate="intersects")
            same = self.cell_communities[hits] == community[wanted][which]
            np.minimum.at(found, wanted[which[same]], hits[same])
        edge = np.flatnonzero((community >= 0) & near_edge)
        if len(self.cell_codes) and edge.size:
            which, hits = self.cell_tree.query_nearest(points[edge], all_matches=False)
            same = self.cell_communities[hits] == community[edge][which]
            found[edge[which[same]]] = hits[same]
        has = found != _NONE
        result = np.full(len(points), None, dtype=object)
        result[has] = self.cell_codes[found[has]]
        return result

    def nearest(self, points: np.ndarray, metric_crs: int) -> tuple[np.ndarray, np.ndarray]:
        """(community index, metres) of the nearest community to each point, measured in ``metric_crs``."""
        tree = shapely.STRtree(reproject(np.asarray(self.tree.geometries), WGS84, metric_crs))
        (point_index, hit), distance = tree.query_nearest(reproject(points, WGS84, metric_crs),
                                                          return_distance=True, all_matches=False)
        nearest = np.empty(len(points), dtype=np.int64)
        metres = np.empty(len(points), dtype=np.float64)
        nearest[point_index], metres[point_index] = hit, distance
        return nearest, metres

    def codes_at(self, index: np.ndarray) -> np.ndarray:
        return _pick(self.codes, index, None)

    def parents_at(self, index: np.ndarray) -> np.ndarray:
        return _pick(self.parents, index, None)

    def teams_at(self, index: np.ndarray) -> np.ndarray:
        return _pick(self.teams, index, -1)


def _pick(values: np.ndarray, index: np.ndarray, missing: Any) -> np.ndarray:
    """``values[index]`` where ``index`` >= 0, ``missing`` elsewhere."""
    result = np.full(len(index), missing, dtype=object if missing is None else values.dtype)
    has = index >= 0
    result[has] = values[index[has]]
    return result
