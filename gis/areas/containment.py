"""Parents by containment: for codes that say nothing of their parent (the ``any`` scheme, see
:mod:`gis.areas.schemes`), an area's parent is the area of the nearest higher level that holds most of it.

Candidates are the file's own areas of higher levels and the current stored ones. "Holds most of it" means
more than half of the child's area (measured in lon/lat, enough to rank overlaps of one place); whether the
child lies inside its parent within tolerance is then judged like any other parent
(:func:`gis.spatial.validation.check_inside`). An area no higher area holds stays without parent: the top of
its hierarchy, as a borough or a city is.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Protocol

import numpy as np
import shapely
from shapely.geometry import MultiPolygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.models.areas import SRID, AdminArea, AdminLevel

HOLDS_SHARE = 0.5


class _Placed(Protocol):
    code: str
    level: AdminLevel
    parent_code: str | None
    geom: MultiPolygon

    @property
    def label(self) -> str: ...


def assign_parents(session: Session, areas: MutableMapping[str, _Placed]) -> None:
    """Set ``parent_code`` of each area without one to the area of the nearest higher level holding it;
    an area that no higher area holds is left at the top (no parent)."""
    todo = [a for a in areas.values() if a.parent_code is None and a.level is not AdminLevel.prefecture]
    if not todo:
        return
    higher = {a.level.rank for a in todo}
    union_box = shapely.box(*shapely.total_bounds([a.geom for a in todo]))
    stored = session.execute(
        select(AdminArea.code, AdminArea.level, func.ST_AsBinary(AdminArea.geom))
        .where(AdminArea.valid_to.is_(None), AdminArea.code.not_in(list(areas)),
               func.ST_Intersects(AdminArea.geom, func.ST_GeomFromText(union_box.wkt, SRID)))
    ).all()
    candidates: list[tuple[str, int, object]] = [(code, AdminLevel(level).rank, shapely.from_wkb(bytes(wkb)))
                                                 for code, level, wkb in stored if AdminLevel(level).rank < max(higher)]
    candidates += [(a.code, a.level.rank, a.geom) for a in areas.values() if a.level.rank < max(higher)]
    if not candidates:
        return
    geoms = np.array([c[2] for c in candidates], dtype=object)
    tree = shapely.STRtree(geoms)
    for area in todo:
        hits = tree.query(area.geom, predicate="intersects")
        best: tuple[int, float, str] | None = None
        for hit in hits.tolist():
            code, rank, geom = candidates[hit]
            if rank >= area.level.rank:
                continue
            share = shapely.area(shapely.intersection(area.geom, geom)) / max(area.geom.area, 1e-300)
            if share > HOLDS_SHARE and (best is None or (rank, share) > (best[0], best[1])):
                best = (rank, share, code)
        if best is not None:
            area.parent_code = best[2]
    return []
