"""Communities over 999 cells: refused with both ways out, numbered long, or one cell size fitted to all."""

from __future__ import annotations

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.areas import grid_store
from gis.areas.big_areas import BigAreas, build_for_all, cells_needed
from gis.areas.grid import GridSpec, TooManyCells, grid_community
from gis.areas.schemes import CodeScheme
from gis.models import GridCell
from gis.settings import Settings
from tests.gis.areas.test_grid_store import X0, Y0, add_community

SPEC = GridSpec(cell_size=100.0)
SMALL, BIG, BIGGER = "433101004001", "433101004002", "433101004003"


def rect(width_m: float, height_m: float, dx: float = 0.0) -> Polygon:
    return box(X0 + dx, Y0, X0 + dx + width_m, Y0 + height_m)


def world() -> list[tuple[str, Polygon]]:
    """2 km² (200 cells at 100 m), 12 km² (1,200) and 20 km² (2,000), side by side on the lattice."""
    return [(SMALL, rect(2000, 1000)), (BIG, rect(4000, 3000, dx=2000)), (BIGGER, rect(5000, 4000, dx=6000))]


def test_cells_needed_counts_what_the_grid_numbers() -> None:
    for code, geom in world():
        assert cells_needed(geom, SPEC) == len(grid_community(code, geom, SPEC, digits=7))


def test_refusing_names_every_big_community_and_both_choices_with_their_figures() -> None:
    with pytest.raises(TooManyCells) as caught:
        build_for_all(world(), SPEC, BigAreas.refuse)

    message = str(caught.value)
    assert f"{BIGGER} (2000 cells), {BIG} (1200 cells)" in message and SMALL not in message
    assert "--big-areas fit" in message and "--big-areas long" in message and "4-digit" in message


def test_a_long_sequence_numbers_every_cell_of_the_build_with_the_same_digits() -> None:
    built, plan = build_for_all(world(), SPEC, BigAreas.long)

    assert plan.digits == 4 and plan.spec.cell_size == 100 and "beyond the national" in plan.describe()
    codes = [code for c in built.communities for code in c.codes]
    assert len(codes) == 200 + 1200 + 2000 and {len(code) for code in codes} == {16}
    assert built.communities[2].codes[-1] == f"{BIGGER}2000"


def test_fit_finds_the_smallest_whole_metre_size_that_fits_every_community_at_once() -> None:
    built, plan = build_for_all(world(), SPEC, BigAreas.fit)

    size = plan.spec.cell_size
    assert size == int(size) and size > 100
    counts = {c.community_code: len(c) for c in built.communities}
    assert max(counts.values()) <= 999 and {len(code) for c in built.communities for code in c.codes} == {15}
    # Smallest: one metre less and the biggest community no longer fits — so the size was set by it, not by
    # the first community found over the limit.
    assert cells_needed(dict(world())[BIGGER], GridSpec(size - 1)) > 999
    assert "the smallest at which every community fits" in plan.describe()


def test_a_build_that_fits_the_standard_is_untouched_by_the_choice() -> None:
    small = world()[:1]
    for choice in BigAreas:
        built, plan = build_for_all(small, SPEC, choice)
        assert plan.describe() == "" and plan.spec == SPEC and built.communities[0].codes[0] == f"{SMALL}001"


def test_the_any_scheme_numbers_after_a_separator() -> None:
    built, _ = build_for_all([("311", rect(1000, 1000))], SPEC, BigAreas.refuse, scheme=CodeScheme.any)

    assert built.communities[0].codes[:2] == ["311-001", "311-002"]


def test_long_codes_are_stored(db: Session) -> None:
    settings = Settings(database_url="postgresql://unused/unused", big_areas="long")
    add_community(db, BIG, rect(4000, 3000))

    report = grid_store.build_grid(db, settings=settings)

    assert report.cells == 1200 and "4 digits" in str(report)
    codes = db.scalars(select(GridCell.code).where(GridCell.community_code == BIG).order_by(GridCell.code)).all()
    assert codes[0] == f"{BIG}0001" and codes[-1] == f"{BIG}1200"
