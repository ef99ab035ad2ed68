"""The synthetic city of the benchmarks builds its grid under each big-area choice (issue 15: 100 communities
of 60,000 cells could not be built at all)."""

from __future__ import annotations

import pytest

from bench.synthetic_city import city_grid, side_for_cells, synthetic_city
from gis.areas.big_areas import BigAreas
from gis.areas.grid import MAX_CELLS, TooManyCells

CITY = synthetic_city(4, side_m=side_for_cells(6_000), seed=3)  # ~1,500 cells a community at 100 m


def test_refuse_names_the_communities_over_999_cells() -> None:
    with pytest.raises(TooManyCells, match="--big-areas fit"):
        city_grid(CITY, BigAreas.refuse)


def test_long_keeps_the_cell_size_and_numbers_with_more_digits() -> None:
    cells, plan = city_grid(CITY, BigAreas.long)
    assert plan.spec.cell_size == 100 and plan.digits == 4 and plan.over
    assert cells["code"].str.len().eq(16).all() and cells["code"].is_unique
    assert cells.groupby("community_code").size().max() > MAX_CELLS
    assert cells.to_crs(4546).area.sum() == pytest.approx(CITY[CITY["level"] == "city"].to_crs(4546).area.sum())


def test_fit_keeps_the_standard_code_with_the_smallest_size_that_fits() -> None:
    cells, plan = city_grid(CITY, BigAreas.fit)
    assert plan.spec.cell_size > 100 and plan.digits == 3
    assert cells["code"].str.len().eq(15).all()
    assert cells.groupby("community_code").size().max() <= MAX_CELLS
