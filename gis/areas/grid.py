"""Unit grid (单元网格) generation: square cells clipped to communities, slivers merged, 15-digit codes.

Pure geometry in the metric plane: callers hand in community outlines already in the metric CRS (metres)
and get cells back in the same CRS. No database and no reprojection here (see :mod:`gis.areas.grid_store`).

How a community is cut:

1. A square lattice anchored at the origin of the metric CRS (cell corners at whole multiples of the cell
   size), so that a rebuild with the same settings cuts the same squares and hands out the same codes.
2. The lattice squares that meet the community are clipped to it in one vectorised call; squares wholly
   inside are kept as they are. A square that the community crosses twice gives one piece per part.
3. Slivers — pieces smaller than ``sliver_ratio`` × the cell area — are merged into the neighbouring
   piece they share the **longest border** with (a whole cell is preferred over another sliver). A
   sliver that shares no border with any piece stays a cell of its own.
4. Cells are numbered 001…999 by lattice row from north to south, and within a row from west to east.
   The code is the community's and the number (:meth:`gis.areas.schemes.CodeScheme.cell_code`); a community
   that needs more than 999 cells is the build's one choice (:mod:`gis.areas.big_areas`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from gis.areas.schemes import STANDARD_SEQUENCE_DIGITS, CodeScheme
from gis.errors import InvalidInput
from gis.progress import ProgressReporter, no_progress

MAX_CELLS = 999  # the sequence part of a code has three digits
COVERAGE_TOLERANCE = 1e-4  # union of cells vs community area, as a share of the community (0.01%)
OVERLAP_TOLERANCE_M2 = 0.01  # sum of cell areas minus their union: float noise only
SPECK_SHARE = 1e-6  # pieces below this share of a cell with no neighbour are reprojection noise, dropped
PROGRESS_STAGE = "unit grid 单元网格"

Geometries = npt.NDArray[np.object_]


class TooManyCells(InvalidInput):
    """A community would get more cells than a three-digit sequence can number."""


@dataclass(frozen=True)
class GridSpec:
    """The settings that decide a grid: the same spec on the same outline gives the same cells and codes."""

    cell_size: float = 100.0  # metres, edge of a lattice square
    sliver_ratio: float = 0.2  # pieces below this share of a cell's area are merged

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cell_size) and self.cell_size > 0):
            raise InvalidInput(f"cell size must be a positive number of metres, not {self.cell_size}")
        if not 0 <= self.sliver_ratio < 1:
            raise InvalidInput(f"sliver ratio must be in [0, 1), not {self.sliver_ratio}")

    @property
    def cell_area(self) -> float:
        return self.cell_size * self.cell_size

    @property
    def sliver_area(self) -> float:
        return self.sliver_ratio * self.cell_area


@dataclass(frozen=True)
class CommunityGrid:
    """The cells of one community, in code order; geometries in the metric CRS, areas in m²."""

    community_code: str
    codes: list[str]
    geoms: Geometries
    areas: npt.NDArray[np.float64]
    slivers_merged: int = 0
    specks_dropped: int = 0

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class Coverage:
    """How exactly the cells of a community tile it (areas in m² of the metric CRS).

    ``gap_m2`` is community not covered by any cell, ``spill_m2`` cell area outside the community, and
    ``overlap_m2`` the area counted twice (sum of the cells minus their union).
    """

    community_code: str
    cells: int
    community_area_m2: float
    cell_area_sum_m2: float
    union_area_m2: float
    gap_m2: float
    spill_m2: float
    name: str = ""

    @property
    def overlap_m2(self) -> float:
        return max(self.cell_area_sum_m2 - self.union_area_m2, 0.0)

    @property
    def union_error(self) -> float:
        """Relative difference between the union of the cells and the community (0 is exact)."""
        if self.community_area_m2 <= 0:
            return 0.0 if self.union_area_m2 <= 0 else math.inf
        return abs(self.union_area_m2 - self.community_area_m2) / self.community_area_m2

    @property
    def ok(self) -> bool:
        allowed = COVERAGE_TOLERANCE * self.community_area_m2
        return (
            self.cells > 0
            and self.union_error <= COVERAGE_TOLERANCE
            and self.gap_m2 <= allowed
            and self.spill_m2 <= allowed
            and self.overlap_m2 <= OVERLAP_TOLERANCE_M2 + 1e-9 * self.community_area_m2
        )

    def describe(self) -> str:
        """One line for a person: what is wrong, in m² and as a share of the community."""
        if self.cells == 0:
            return "no cells"
        return (
            f"{self.cells} cells, union {self.union_error:.4%} off the community area, "
            f"gap {self.gap_m2:.2f} m², outside {self.spill_m2:.2f} m², overlap {self.overlap_m2:.2f} m²"
        )


@dataclass
class GridBuild:
    """Every community's cells from one build."""

    spec: GridSpec
    communities: list[CommunityGrid] = field(default_factory=list)

    @property
    def cells(self) -> int:
        return sum(len(c) for c in self.communities)

    @property
    def slivers_merged(self) -> int:
        return sum(c.slivers_merged for c in self.communities)

    def arrays(self) -> tuple[list[str], list[str], Geometries, npt.NDArray[np.float64]]:
        """All cells as parallel columns: codes, community codes, metric geometries, areas (m²)."""
        codes = [code for c in self.communities for code in c.codes]
        owners = [c.community_code for c in self.communities for _ in c.codes]
        if not self.communities:
            return codes, owners, np.empty(0, dtype=object), np.empty(0)
        geoms = np.concatenate([c.geoms for c in self.communities])
        areas = np.concatenate([c.areas for c in self.communities])
        return codes, owners, geoms, areas


def cell_code(community_code: str, sequence: int) -> str:
    """The 15-digit cell code: the community's 12 digits and a three-digit sequence (001…999)."""
    if not 1 <= sequence <= MAX_CELLS:
        raise InvalidInput(f"cell sequence {sequence} is outside 1…{MAX_CELLS}")
    return f"{community_code}{sequence:03d}"


def suggest_cell_size(area_m2: float, cells: int = MAX_CELLS) -> float:
    """A cell size (whole tens of metres) that leaves headroom under ``cells`` for a community this big."""
    return float(math.ceil(math.sqrt(1.3 * area_m2 / cells) / 10.0) * 10.0)


def build_grid(
    communities: Iterable[tuple[str, BaseGeometry]],
    spec: GridSpec,
    *,
    progress: ProgressReporter = no_progress,
    scheme: CodeScheme = CodeScheme.cn,
    digits: int = STANDARD_SEQUENCE_DIGITS,
) -> GridBuild:
    """Cut every community ``(code, outline in the metric CRS)`` into cells; progress once per community.

    Raises
    ------
    TooManyCells
        When a community would get more cells than ``digits`` can number; nothing of the build is returned.
    """
    todo = list(communities)
    result = GridBuild(spec=spec)
    progress(PROGRESS_STAGE, 0, len(todo))
    for done, (code, geom) in enumerate(todo, start=1):
        result.communities.append(grid_community(code, geom, spec, scheme=scheme, digits=digits))
        progress(PROGRESS_STAGE, done, len(todo))
    return result


def renumber(build: GridBuild, scheme: CodeScheme, digits: int) -> GridBuild:
    """The same cells with codes of ``digits``-digit numbers (same order); raises TooManyCells if one does
    not fit."""
    communities = []
    for cells in build.communities:
        if len(cells) >= 10**digits:
            raise TooManyCells(f"community {cells.community_code} has {len(cells)} cells, more than {digits} "
                               "digits can number")
        codes = [scheme.cell_code(cells.community_code, seq, digits) for seq in range(1, len(cells) + 1)]
        communities.append(CommunityGrid(cells.community_code, codes, cells.geoms, cells.areas,
                                         cells.slivers_merged, cells.specks_dropped))
    return GridBuild(spec=build.spec, communities=communities)


def grid_community(
    community_code: str,
    geom: BaseGeometry,
    spec: GridSpec,
    *,
    scheme: CodeScheme = CodeScheme.cn,
    digits: int = STANDARD_SEQUENCE_DIGITS,
) -> CommunityGrid:
    """The cells of one community (outline in the metric CRS), numbered north→south, west→east.

    Raises
    ------
    TooManyCells
        When the community would get more cells than ``digits`` can number (999 for the national code); the
        message suggests a larger cell size.
    """
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    pieces, rows, cols = clip_to_lattice(geom, spec.cell_size)
    areas = shapely.area(pieces)
    cell_of, roots = group_slivers(pieces, areas, spec)
    if len(roots) >= 10**digits:
        raise TooManyCells(
            f"community {community_code} would get {len(roots)} cells at {spec.cell_size:g} m, more than "
            f"the {10**digits - 1} a {digits}-digit cell number allows — fix: build with a larger cell size, e.g. "
            f"--cell-size {suggest_cell_size(float(shapely.area(geom)), 10**digits - 1):g}, or choose "
            "--big-areas long or fit"
        )
    cells = pieces[roots].copy()
    sizes = np.bincount(cell_of[cell_of >= 0], minlength=len(roots))
    merged = np.flatnonzero(sizes > 1)
    if len(merged):  # only cells that took in slivers need a union
        by_cell = np.argsort(cell_of, kind="stable")
        starts = np.searchsorted(cell_of[by_cell], merged)
        for k, start in zip(merged, starts, strict=True):
            cells[k] = shapely.union_all(pieces[by_cell[start : start + sizes[k]]])
    order = _north_to_south_west_to_east(cells, rows[roots], cols[roots])
    cells = cells[order]
    return CommunityGrid(
        community_code=community_code,
        codes=[scheme.cell_code(community_code, seq, digits) for seq in range(1, len(cells) + 1)],
        geoms=cells,
        areas=shapely.area(cells),
        slivers_merged=int((sizes - 1).sum()),
        specks_dropped=int((cell_of < 0).sum()),
    )


def lattice(
    bounds: Sequence[float], cell_size: float
) -> tuple[Geometries, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The lattice squares covering ``bounds`` (minx, miny, maxx, maxy), with their row and column numbers.

    Row ``r`` spans y from ``r × size`` to ``(r + 1) × size`` (larger rows lie further north), column ``c``
    likewise in x: the lattice is the same whatever the community, so codes survive a rebuild.
    """
    minx, miny, maxx, maxy = bounds
    first_col, first_row = math.floor(minx / cell_size), math.floor(miny / cell_size)
    cols = np.arange(first_col, max(math.ceil(maxx / cell_size), first_col + 1))
    rows = np.arange(first_row, max(math.ceil(maxy / cell_size), first_row + 1))
    grid_cols, grid_rows = np.meshgrid(cols, rows)
    c, r = grid_cols.ravel(), grid_rows.ravel()
    boxes = shapely.box(c * cell_size, r * cell_size, (c + 1) * cell_size, (r + 1) * cell_size)
    return boxes, r, c


def clip_to_lattice(
    geom: BaseGeometry, cell_size: float
) -> tuple[Geometries, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The polygon pieces of ``geom`` cut by the lattice, with the row and column each came from.

    Squares wholly inside are kept untouched; the others are clipped in one vectorised intersection.
    A square crossed by the community more than once gives one piece per polygon part. Line and point
    leftovers (a square that only touches the outline) are dropped.
    """
    boxes, rows, cols = lattice(geom.bounds, cell_size)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, boxes)
    boxes, rows, cols = boxes[hit], rows[hit], cols[hit]
    whole = shapely.contains_properly(geom, boxes)
    pieces = boxes.copy()
    pieces[~whole] = shapely.intersection(boxes[~whole], geom)
    shapely.destroy_prepared(geom)

    parts, index = _polygon_parts(pieces)
    return parts, rows[index], cols[index]


def group_slivers(
    pieces: Geometries, areas: npt.NDArray[np.float64], spec: GridSpec
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Which pieces become one cell: each sliver joins the neighbour it shares the longest border with.

    Whole pieces (not slivers) are preferred as neighbours; among equals, the longer shared border wins,
    then the larger piece, then the lower index (so the result is deterministic). Chains of slivers follow
    their links to the whole piece at the end; slivers that only touch each other become one cell, and
    such a cell below a millionth of a lattice square (reprojection noise) is dropped.

    Returns, for each piece, the number of the cell it belongs to (-1 when dropped), and for each cell its
    root piece (the whole piece, else the largest sliver), whose lattice square places it in the numbering.
    """
    n = len(pieces)
    is_sliver = areas < spec.sliver_area
    parent = np.arange(n)
    slivers = np.flatnonzero(is_sliver)
    if len(slivers):
        eps = 1e-6 * spec.cell_size  # float noise of clipping and reprojection, far below a millimetre
        tree = shapely.STRtree(pieces)
        left, right = tree.query(pieces[slivers], predicate="dwithin", distance=eps)
        a, b = slivers[left], right
        a, b = a[a != b], b[a != b]
        shared = shapely.length(
            shapely.intersection(shapely.boundary(pieces[a]), shapely.buffer(pieces[b], eps, quad_segs=1))
        )
        real = shared > 1e-3 * spec.cell_size  # touching at a corner is not a border
        a, b, shared = a[real], b[real], shared[real]
        # Sort so that the best neighbour of each sliver comes last in its run of pairs.
        order = np.lexsort((-b, areas[b], shared, ~is_sliver[b], a))
        a, b = a[order], b[order]
        if len(a):
            last = np.r_[np.flatnonzero(np.diff(a)), len(a) - 1]
            parent[a[last]] = b[last]

    component = _components(parent)
    # Root of each component: its whole piece if it has one (at most one: whole pieces link nowhere),
    # else its largest sliver; lexsort puts it last in the component's run.
    order = np.lexsort((areas, ~is_sliver, component))
    last = np.r_[np.flatnonzero(np.diff(component[order])), n - 1] if n else np.empty(0, dtype=np.intp)
    roots = order[last]
    totals = np.bincount(component, weights=areas, minlength=n)[component[roots]]
    kept = ~is_sliver[roots] | (totals >= SPECK_SHARE * spec.cell_area)
    roots = roots[kept]
    cell_of_component = np.full(n, -1, dtype=np.intp)
    cell_of_component[component[roots]] = np.arange(len(roots))
    return cell_of_component[component], roots


def coverage(community_code: str, community: BaseGeometry, cells: Sequence[BaseGeometry] | Geometries) -> Coverage:
    """How exactly ``cells`` tile ``community`` (all in the metric CRS), measured with shapely."""
    cells = np.asarray(cells, dtype=object)
    union = shapely.union_all(cells) if len(cells) else shapely.Polygon()
    return Coverage(
        community_code=community_code,
        cells=len(cells),
        community_area_m2=float(community.area),
        cell_area_sum_m2=float(shapely.area(cells).sum()),
        union_area_m2=float(union.area),
        gap_m2=float(shapely.difference(community, union).area),
        spill_m2=float(shapely.difference(union, community).area),
    )


# --------------------------------------------------------------------------------------------------
# Internals


def _polygon_parts(geoms: Geometries) -> tuple[Geometries, npt.NDArray[np.intp]]:
    """Single polygons with positive area out of any mix of (multi)polygons, collections, lines, points."""
    index = np.arange(len(geoms))
    types = shapely.get_type_id(geoms)
    while np.isin(types, (4, 5, 6, 7)).any():  # multi-parts and collections, possibly nested
        geoms, inner = shapely.get_parts(geoms, return_index=True)
        index = index[inner]
        types = shapely.get_type_id(geoms)
    keep = (types == 3) & (shapely.area(geoms) > 0)
    return geoms[keep], index[keep]


def _components(parent: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Connected components of the graph with one edge ``i → parent[i]`` per piece (union-find)."""
    label = np.arange(len(parent))

    def find(i: int) -> int:
        while label[i] != i:
            label[i] = label[label[i]]
            i = int(label[i])
        return i

    for i in np.flatnonzero(parent != np.arange(len(parent))):  # only the slivers
        ri, rj = find(int(i)), find(int(parent[i]))
        if ri != rj:
            label[max(ri, rj)] = min(ri, rj)
    # Every label points to a smaller index or itself, so jumping pointers reaches the roots.
    while not np.array_equal(label, label[label]):
        label = label[label]
    return label


def _north_to_south_west_to_east(
    cells: Geometries, rows: npt.NDArray[np.int64], cols: npt.NDArray[np.int64]
) -> npt.NDArray[np.intp]:
    """Code order: lattice rows from north to south, within a row west to east; two cells from the same
    square (a community crossing it twice) by their representative points, again north first then west."""
    points = shapely.point_on_surface(cells)
    x, y = shapely.get_x(points), shapely.get_y(points)
    return np.lexsort((x, -y, cols, -rows))
