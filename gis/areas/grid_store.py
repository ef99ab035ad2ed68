"""The unit grid in PostGIS: build it from the current communities, import an existing one, check it.

Cells are written by code, never by delete-all-and-reinsert: codes that stay keep their row (only geometry
and area change), new codes are inserted and vanished codes deleted. Worker assignments
(``grid_cell_worker``) follow the code, so they survive a rebuild with the same settings.

Every function here takes a Session and flushes; the caller owns the transaction (one per build or
import, so a failure leaves the grid as it was). Geometry is stored as MultiPolygon EPSG:4326; areas and
checks are computed in the metric CRS of the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.areas import grid
from gis.areas.big_areas import BigAreas, build_for_all
from gis.areas.schemes import CodeScheme
from gis.errors import InvalidInput, NotFound, Problem, ValidationFailed
from gis.models import SRID, AdminArea, GridCell
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings, get_settings
from gis.spatial import crs

STAGED_TABLE = "grid_cell_staged"  # temporary table of the incoming cells, one per transaction


@dataclass(frozen=True)
class Community:
    """A current community with its outline in the metric CRS."""

    code: str
    name: str
    geom: BaseGeometry


@dataclass(frozen=True)
class WriteCounts:
    """What a write did to ``grid_cell``: rows new, with a new geometry, unchanged, and removed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def __str__(self) -> str:
        return f"{self.inserted} new, {self.updated} changed, {self.unchanged} unchanged, {self.deleted} removed"


@dataclass(frozen=True)
class BuildReport:
    """The outcome of :func:`build_grid`; ``str()`` is the one-line summary a person reads."""

    spec: grid.GridSpec
    communities: int
    cells: int
    slivers_merged: int
    written: WriteCounts
    coverage: list[grid.Coverage] = field(default_factory=list)
    skipped: int = 0  # communities left alone by --if-missing
    big_areas: str = ""  # what the build chose for communities over 999 cells (gis.areas.big_areas)

    def __str__(self) -> str:
        if not self.communities:
            return f"nothing to build: all {self.skipped} communities already have cells"
        skipped = f"; {self.skipped} communities already had cells" if self.skipped else ""
        big = f"; {self.big_areas}" if self.big_areas else ""
        return (
            f"{self.cells} cells in {self.communities} communities (cell {self.spec.cell_size:g} m, "
            f"{self.slivers_merged} slivers merged): {self.written}; coverage check passed{skipped}{big}"
        )


# --------------------------------------------------------------------------------------------------
# Reading


def read_communities(
    session: Session, *, metric_crs: int, codes: Sequence[str] | None = None, only_missing: bool = False
) -> list[Community]:
    """Current communities (all, or those in ``codes``) with outlines in ``metric_crs``, by code.

    ``only_missing`` keeps those that have no cell yet. Raises NotFound naming any of ``codes`` that is
    not a current community.
    """
    current = (AdminArea.level == "community", AdminArea.valid_to.is_(None))
    if codes:
        known = set(session.scalars(select(AdminArea.code).where(*current, AdminArea.code.in_(codes))))
        unknown = sorted(set(codes) - known)
        if unknown:
            raise NotFound(
                f"no current community with code {', '.join(unknown)} — fix: check the code "
                "against the loaded boundaries"
            )
    query = select(AdminArea.code, AdminArea.name, func.ST_AsBinary(AdminArea.geom)).where(*current).order_by(
        AdminArea.code
    )
    if codes:
        query = query.where(AdminArea.code.in_(codes))
    if only_missing:
        query = query.where(~select(GridCell.id).where(GridCell.community_code == AdminArea.code).exists())
    rows = session.execute(query).all()
    # Reprojected here, like the cells on the way back, so both directions go through the same PROJ.
    geoms = crs.reproject(shapely.from_wkb([bytes(r[2]) for r in rows]), SRID, metric_crs) if rows else []
    return [Community(code=r[0], name=r[1], geom=g) for r, g in zip(rows, geoms, strict=True)]


def count_communities(session: Session) -> int:
    return session.scalar(
        select(func.count()).where(AdminArea.level == "community", AdminArea.valid_to.is_(None))
    ) or 0


# --------------------------------------------------------------------------------------------------
# Building


def build_grid(
    session: Session,
    *,
    settings: Settings | None = None,
    cell_size: float | None = None,
    sliver_ratio: float | None = None,
    communities: Sequence[str] | None = None,
    if_missing: bool = False,
    big_areas: BigAreas | None = None,
    progress: ProgressReporter = no_progress,
) -> BuildReport:
    """Build (or rebuild) the unit grid of the current communities and check it, in the caller's transaction.

    ``cell_size`` (m) and ``sliver_ratio`` default to the settings. ``communities`` limits the build to
    those codes; ``if_missing`` to communities that have no cell yet. ``big_areas`` (default: the settings')
    says what to do when a community needs more than 999 cells (see :mod:`gis.areas.big_areas`). Cells of
    the rebuilt communities are upserted by code (see the module docstring); the others are not touched.

    Raises
    ------
    NotFound
        A code in ``communities`` is not a current community.
    InvalidInput
        No community is loaded, or the cell size / sliver ratio is out of range.
    grid.TooManyCells
        A community would get more than 999 cells and ``big_areas`` is ``refuse``.
    ValidationFailed
        The written cells do not tile their community (a bug, reported rather than stored).
    """
    settings = settings or get_settings()
    spec = grid.GridSpec(
        cell_size=settings.cell_size_m if cell_size is None else cell_size,
        sliver_ratio=settings.sliver_ratio if sliver_ratio is None else sliver_ratio,
    )
    metric = settings.metric_crs
    session.flush()
    todo = read_communities(session, metric_crs=metric, codes=communities, only_missing=if_missing)
    if not todo:
        total = len(communities) if communities else count_communities(session)
        if not total:
            raise InvalidInput("no communities are loaded — fix: load the administrative boundaries first")
        return BuildReport(spec=spec, communities=0, cells=0, slivers_merged=0, written=WriteCounts(),
                           skipped=total)
    built, plan = build_for_all([(c.code, c.geom) for c in todo], spec,
                                BigAreas(big_areas or settings.big_areas), scheme=CodeScheme(settings.code_scheme),
                                progress=progress)
    spec = plan.spec
    codes, owners, geoms, areas = built.arrays()
    written = write_cells(session, codes=codes, community_codes=owners, geoms=geoms, areas=areas,
                          srid=metric, metric_crs=metric, replace_communities=[c.code for c in todo])
    checks = check_coverage(session, metric_crs=metric, communities=[c.code for c in todo])
    failed = [c for c in checks if not c.ok]
    if failed:
        raise ValidationFailed(
            problems=[Problem("error", c.community_code, f"cells do not tile the community: {c.describe()}",
                              "report this as a bug, with the community's boundary") for c in failed],
            what="grid build",
        )
    skipped = (len(communities) if communities else count_communities(session)) - len(todo) if if_missing else 0
    return BuildReport(spec=spec, communities=len(todo), cells=built.cells, slivers_merged=built.slivers_merged,
                       written=written, coverage=checks, skipped=skipped, big_areas=plan.describe())


def write_cells(
    session: Session,
    *,
    codes: Sequence[str],
    community_codes: Sequence[str],
    geoms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.float64] | None,
    srid: int,
    metric_crs: int,
    replace_communities: Sequence[str],
) -> WriteCounts:
    """Make the cells of ``replace_communities`` exactly these: upsert by code, delete the codes not given.

    ``geoms`` are in EPSG ``srid`` and stored as MultiPolygon 4326; ``areas`` (m²) are computed in
    ``metric_crs`` when None. One COPY into a temporary table, then a few set-based statements.
    """
    lonlat = crs.reproject(np.asarray(geoms, dtype=object), srid, SRID)
    stage_cells(session, codes=codes, community_codes=community_codes, geoms=lonlat, areas=areas)
    return merge_staged(session, replace_communities, metric_crs=metric_crs)


def stage_cells(
    session: Session,
    *,
    codes: Sequence[str],
    community_codes: Sequence[str],
    geoms: npt.NDArray[np.object_],
    areas: npt.NDArray[np.float64] | None,
    indexed: bool = False,
) -> None:
    """COPY the incoming cells (lon/lat) into a temporary table (dropped at commit), the fast path for
    thousands of rows; ``indexed`` adds the spatial index that checks between cells need."""
    session.flush()
    session.execute(text(f"DROP TABLE IF EXISTS {STAGED_TABLE}"))
    session.execute(text(
        f"CREATE TEMP TABLE {STAGED_TABLE} (row_no integer, code text, community_code text, geom geometry, "
        "area_m2 double precision) ON COMMIT DROP"
    ))
    hexes = shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), SRID), hex=True, include_srid=True)
    area_list = [None] * len(codes) if areas is None else [float(a) for a in areas]
    raw = cast(psycopg.Connection, session.connection().connection.driver_connection)  # COPY needs psycopg's own
    with raw.cursor() as cursor, cursor.copy(
        f"COPY {STAGED_TABLE} (row_no, code, community_code, geom, area_m2) FROM STDIN"
    ) as copy:
        for row in zip(range(len(codes)), codes, community_codes, hexes, area_list, strict=True):
            copy.write_row(row)
    if indexed:
        session.execute(text(f"CREATE INDEX ON {STAGED_TABLE} USING gist (geom)"))
    session.execute(text(f"ANALYZE {STAGED_TABLE}"))


def merge_staged(session: Session, replace_communities: Sequence[str], *, metric_crs: int) -> WriteCounts:
    """Apply the staged cells to ``grid_cell`` for ``replace_communities``; areas missing are computed in
    ``metric_crs``. Unchanged rows are not rewritten, so a rebuild with the same settings writes nothing."""
    deleted = session.scalar(
        text(
            "WITH gone AS (DELETE FROM grid_cell g WHERE g.community_code = ANY(:communities)"
            f" AND NOT EXISTS (SELECT 1 FROM {STAGED_TABLE} s WHERE s.code = g.code) RETURNING 1)"
            " SELECT count(*) FROM gone"
        ),
        {"communities": list(replace_communities)},
    ) or 0
    inserted, updated = session.execute(
        text(
            "WITH written AS ("
            " INSERT INTO grid_cell (code, community_code, geom, area_m2)"
            " SELECT code, community_code, ST_Multi(geom), coalesce(area_m2, ST_Area(ST_Transform(geom, :metric)))"
            f" FROM {STAGED_TABLE}"
            " ON CONFLICT (code) DO UPDATE SET community_code = excluded.community_code,"
            "  geom = excluded.geom, area_m2 = excluded.area_m2"
            "  WHERE grid_cell.geom IS DISTINCT FROM excluded.geom"
            "     OR grid_cell.community_code IS DISTINCT FROM excluded.community_code"
            " RETURNING (xmax = 0) AS is_new)"
            " SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new) FROM written"
        ),
        {"metric": metric_crs},
    ).one()
    total = session.scalar(text(f"SELECT count(*) FROM {STAGED_TABLE}")) or 0
    session.execute(text(f"DROP TABLE {STAGED_TABLE}"))
    return WriteCounts(inserted=inserted, updated=updated, unchanged=total - inserted - updated, deleted=deleted)


# --------------------------------------------------------------------------------------------------
# Checking


# Overlays in lon/lat (cells and community share their vertices there), only the results projected to
# measure them. MATERIALIZED: left to itself the planner may redo every union for every community.
_COVERAGE_SQL = text("""
WITH community AS MATERIALIZED (
    SELECT code, name, geom
    FROM admin_area
    WHERE level = 'community' AND valid_to IS NULL AND code = ANY(:communities)
), cells AS MATERIALIZED (
    SELECT community_code, count(*) AS n, sum(area_m2) AS total, ST_Union(geom) AS u
    FROM grid_cell WHERE community_code = ANY(:communities)
    GROUP BY community_code
)
SELECT m.code, m.name, coalesce(c.n, 0), ST_Area(ST_Transform(m.geom, :metric)), coalesce(c.total, 0),
       coalesce(ST_Area(ST_Transform(c.u, :metric)), 0),
       coalesce(ST_Area(ST_Transform(ST_Difference(m.geom, c.u), :metric)), ST_Area(ST_Transform(m.geom, :metric))),
       coalesce(ST_Area(ST_Transform(ST_Difference(c.u, m.geom), :metric)), 0)
FROM community AS m LEFT JOIN cells AS c ON c.community_code = m.code
ORDER BY m.code
""")


def check_coverage(
    session: Session, *, metric_crs: int, communities: Sequence[str] | None = None
) -> list[grid.Coverage]:
    """How exactly the stored cells tile each current community (all, or those in ``communities``).

    Computed in PostGIS in ``metric_crs``: the sum of the cells' stored areas, the area of their union,
    and what the union leaves uncovered or adds outside. With exactly tiling cells all three areas agree,
    so no pairwise comparison of cells is needed (the sum exceeds the union by exactly the overlaps).
    """
    session.flush()
    if communities is None:
        communities = list(session.scalars(
            select(AdminArea.code).where(AdminArea.level == "community", AdminArea.valid_to.is_(None))
        ))
    rows = session.execute(_COVERAGE_SQL, {"metric": metric_crs, "communities": list(communities)}).all()
    return [
        grid.Coverage(community_code=code, name=name, cells=n, community_area_m2=area, cell_area_sum_m2=total,
                      union_area_m2=union, gap_m2=gap, spill_m2=spill)
        for code, name, n, area, total, union, gap, spill in rows
    ]


def grid_stats(session: Session, *, settings: Settings | None = None) -> list[grid.Coverage]:
    """Cells, areas and the coverage check of every current community, by code."""
    settings = settings or get_settings()
    return check_coverage(session, metric_crs=settings.metric_crs)
