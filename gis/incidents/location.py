"""Current communities and grid cells in memory, for locating many points at once.

One query loads them; shapely STRtrees then place a whole array of points in one vectorised call (millions
of points per second where a SQL join manages about 200,000: see /work/shared/PERFORMANCE.md). Ties and
edges follow ``gis.incidents.service.locate``: the lowest community code wins on a shared edge, a cell must lie in
its point's community, and a point just outside every community may be given to the nearest one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.spatial.crs import WGS84, reproject
from gis.incidents.service import responsible_team
from gis.models import AdminArea, AdminLevel, GridCell

_NONE = np.iinfo(np.int64).max


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
