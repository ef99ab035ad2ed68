"""Communities that need more than 999 cells: the one choice a grid build makes for all of them.

The national cell code numbers a community's cells with three digits, so a 100 m grid stops at ~9–10 km²
(half of Chicago's neighbourhoods, many 村改社区). A build cuts every community first, numbering with room to
spare, and then looks at the largest count. When some community needs more than 999 cells, the user's choice
(``--big-areas``, setting ``WANGGE_BIG_AREAS``) applies to the whole build:

``refuse`` (the default)
    Stop, naming the communities over the limit and both ways out, with the figures of each.
``long``
    Keep the cell size and number every cell with as many digits as the largest community needs (``…0001``):
    codes longer than the 15 digits of the national standard — a documented departure from it.
``fit``
    Keep the standard code and use the smallest cell size, in whole metres, at which every community fits,
    found for all of them at once: each big community's own smallest size by bisection, the largest of
    those, checked on every community. No retry loop for the user.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import shapely
from shapely.geometry.base import BaseGeometry

from gis.areas.grid import (
    MAX_CELLS,
    GridBuild,
    GridSpec,
    TooManyCells,
    build_grid,
    clip_to_lattice,
    group_slivers,
    renumber,
)
from gis.areas.schemes import STANDARD_SEQUENCE_DIGITS, CodeScheme
from gis.progress import ProgressReporter, no_progress

MAX_LISTED = 10  # communities named in a refusal; the rest are counted
MAX_FIT_SIZE_M = 2000.0  # Settings.cell_size_m's upper bound
ROOMY_DIGITS = 7  # numbers while counting: as many as a cell code has room for (gis.models.areas)


class BigAreas(enum.StrEnum):
    refuse = "refuse"
    long = "long"
    fit = "fit"


@dataclass(frozen=True)
class GridPlan:
    """What a build chose: its spec, the digits of a cell number, and the communities that needed more than
    999 cells at the size asked for, with their counts."""

    spec: GridSpec
    asked_size: float
    digits: int = STANDARD_SEQUENCE_DIGITS
    choice: BigAreas = BigAreas.refuse
    over: list[tuple[str, int]] = field(default_factory=list)

    def describe(self) -> str:
        """One phrase for the build report; empty when the standard code fitted."""
        if not self.over:
            return ""
        if self.choice is BigAreas.long:
            return (f"{len(self.over)} communities need more than {MAX_CELLS} cells: numbered with {self.digits} "
                    "digits (long sequence, beyond the national 15-digit code)")
        return (f"{len(self.over)} communities need more than {MAX_CELLS} cells at {self.asked_size:g} m: cell "
                f"size {self.spec.cell_size:g} m, the smallest at which every community fits")


def build_for_all(
    communities: Sequence[tuple[str, BaseGeometry]],
    spec: GridSpec,
    choice: BigAreas,
    *,
    scheme: CodeScheme = CodeScheme.cn,
    progress: ProgressReporter = no_progress,
) -> tuple[GridBuild, GridPlan]:
    """Cut ``communities`` (code, metric outline) under ``spec`` and number them under ``choice``.

    Raises TooManyCells under ``refuse`` when a community needs more than 999 cells (naming them, with the
    figures of ``long`` and ``fit``), and under ``fit`` when no size up to 2000 m fits.
    """
    built = build_grid(communities, spec, progress=progress, scheme=scheme, digits=ROOMY_DIGITS)
    counts = [len(c) for c in built.communities]
    over = [(c.community_code, len(c)) for c in built.communities if len(c) > MAX_CELLS]
    if not over:
        return renumber(built, scheme, STANDARD_SEQUENCE_DIGITS), GridPlan(spec=spec, asked_size=spec.cell_size,
                                                                          choice=choice)
    long_digits = len(str(max(counts)))
    if choice is BigAreas.long:
        plan = GridPlan(spec=spec, asked_size=spec.cell_size, digits=long_digits, choice=choice, over=over)
        return renumber(built, scheme, long_digits), plan
    big = {code for code, _ in over}
    size = fit_cell_size([g for code, g in communities if code in big], [g for _, g in communities], spec)
    if choice is BigAreas.fit:
        fitted = GridSpec(size, spec.sliver_ratio)
        rebuilt = build_grid(communities, fitted, progress=progress, scheme=scheme)
        return rebuilt, GridPlan(spec=fitted, asked_size=spec.cell_size, choice=choice, over=over)
    listed = ", ".join(f"{code} ({n} cells)" for code, n in sorted(over, key=lambda o: -o[1])[:MAX_LISTED])
    more = f" and {len(over) - MAX_LISTED} more" if len(over) > MAX_LISTED else ""
    raise TooManyCells(
        f"{len(over)} communities need more than the {MAX_CELLS} cells a 3-digit cell number allows at "
        f"{spec.cell_size:g} m: {listed}{more} — fix: choose once for the whole build: --big-areas fit (a larger "
        f"cell size for all, {size:g} m, the smallest that fits every community; standard codes) or "
        f"--big-areas long (keep {spec.cell_size:g} m, {long_digits}-digit cell numbers, beyond the national "
        "standard)"
    )


def cells_needed(geom: BaseGeometry, spec: GridSpec) -> int:
    """How many cells ``geom`` (metric) gets under ``spec``, by the clipping and sliver rules of
    :func:`gis.areas.grid.grid_community` (without building the cells)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    pieces, _, _ = clip_to_lattice(geom, spec.cell_size)
    _, roots = group_slivers(pieces, shapely.area(pieces), spec)
    return len(roots)


def fit_cell_size(big: Sequence[BaseGeometry], everything: Sequence[BaseGeometry], spec: GridSpec) -> float:
    """The smallest whole-metre cell size at which every geometry of ``everything`` gets at most 999 cells;
    ``big`` are those that do not at ``spec.cell_size``.

    Each big geometry's own smallest size comes by bisection (the count falls as cells grow, up to the
    lattice's jitter); the largest of those is checked on all and, in the rare case that jitter makes one
    community miss by a cell, raised a metre at a time.
    """
    def fits(geom: BaseGeometry, size: float) -> bool:
        return cells_needed(geom, GridSpec(size, spec.sliver_ratio)) <= MAX_CELLS

    def smallest(geom: BaseGeometry) -> int:
        low = math.floor(spec.cell_size)  # known not to fit (or the floor of a size that did not)
        high = max(low + 1, math.ceil(math.sqrt(geom.area / MAX_CELLS)))
        while not fits(geom, high):
            low, high = high, 2 * high
            if high > MAX_FIT_SIZE_M:
                raise TooManyCells(f"no cell size up to {MAX_FIT_SIZE_M:g} m fits a community of "
                                   f"{geom.area / 1e6:,.1f} km² in {MAX_CELLS} cells — fix: --big-areas long")
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if fits(geom, middle) else (middle, high)
        return high

    size = max(smallest(geom) for geom in big)
    while not all(fits(geom, size) for geom in everything):
        size += 1
    return float(size)
