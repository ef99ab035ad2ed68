"""Grid generation in the metric plane: lattice, clipping, slivers, numbering, coverage. No database."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gis.areas.grid import (
    Coverage,
    GridSpec,
    TooManyCells,
    build_grid,
    cell_code,
    coverage,
    grid_community,
    suggest_cell_size,
)
from gis.errors import InvalidInput

# A lattice corner near Jishou in EPSG:4546 (multiples of 100 m, so squares from here are on the lattice).
X0, Y0 = 372_600.0, 3_133_000.0
CODE = "433101004001"
SPEC = GridSpec(cell_size=100, sliver_ratio=0.2)


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A rectangle given relative to the lattice corner (X0, Y0)."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def assert_tiles(community: Polygon | MultiPolygon, cells: np.ndarray) -> Coverage:
    found = coverage(CODE, community, cells)
    assert found.ok, found.describe()
    assert found.union_error <= 1e-4
    assert found.overlap_m2 <= 1e-6
    return found


def test_a_square_on_the_lattice_gives_nine_whole_cells_numbered_from_the_north_west() -> None:
    cells = grid_community(CODE, rect(0, 0, 300, 300), SPEC)

    assert cells.codes == [f"{CODE}{n:03d}" for n in range(1, 10)]
    expected = [rect(x, y, x + 100, y + 100) for y in (200, 100, 0) for x in (0, 100, 200)]
    for cell, square in zip(cells.geoms, expected, strict=True):
        assert cell.equals(square)
    assert np.allclose(cells.areas, 10_000)


def test_the_lattice_is_anchored_to_multiples_of_the_cell_size_not_to_the_community() -> None:
    cells = grid_community(CODE, rect(50, 50, 350, 350), SPEC)

    assert len(cells) == 16  # 4 × 4 pieces: corners of 2,500 m², edges of 5,000 m², middles of 10,000 m²
    assert sorted(np.round(cells.areas).tolist()) == [2500] * 4 + [5000] * 8 + [10_000] * 4
    xs = {round(x - X0, 6) for cell in cells.geoms for x, _ in cell.exterior.coords}
    assert xs == {50, 100, 200, 300, 350}


def test_an_l_shaped_community_is_covered_exactly_with_no_overlap() -> None:
    l_shape = Polygon([(X0 + 13, Y0 + 7), (X0 + 555, Y0 + 7), (X0 + 555, Y0 + 230), (X0 + 240, Y0 + 260),
                       (X0 + 250, Y0 + 777), (X0 + 13, Y0 + 760)])
    cells = grid_community(CODE, l_shape, SPEC)

    found = assert_tiles(l_shape, cells.geoms)
    assert found.cells == len(cells) > 20
    assert math.isclose(cells.areas.sum(), l_shape.area, rel_tol=1e-9)


def test_an_irregular_community_with_a_hole_and_two_parts_is_covered_exactly() -> None:
    blob = shapely.Point(X0 + 400, Y0 + 400).buffer(380, quad_segs=7)
    community = MultiPolygon([
        Polygon(blob.exterior.coords, [shapely.Point(X0 + 430, Y0 + 380).buffer(90).exterior.coords]),
        rect(900, 100, 1040, 170),
    ])
    cells = grid_community(CODE, community, SPEC)

    assert_tiles(community, cells.geoms)
    assert not any(cell.intersects(shapely.Point(X0 + 430, Y0 + 380)) for cell in cells.geoms)  # the hole


def test_slivers_are_merged_into_their_neighbour_and_keep_their_area() -> None:
    community = rect(0, 0, 210, 200)  # the third lattice column is a 10 m strip: two 1,000 m² slivers
    cells = grid_community(CODE, community, SPEC)

    assert len(cells) == 4
    assert cells.slivers_merged == 2
    assert sorted(cells.areas.round().tolist()) == [10_000, 10_000, 11_000, 11_000]
    assert cells.areas.min() >= SPEC.sliver_area
    assert math.isclose(cells.areas.sum(), community.area)
    assert_tiles(community, cells.geoms)


def test_a_sliver_joins_the_neighbour_it_shares_the_longest_border_with_not_the_largest() -> None:
    # The 15 m × 100 m strip touches a 7,000 m² piece to its west along 100 m and a whole 10,000 m² cell
    # to its north along 15 m: the border decides.
    community = shapely.union_all([rect(30, 0, 100, 200), rect(100, 100, 200, 200), rect(100, 0, 115, 100)])
    cells = grid_community(CODE, community, SPEC)

    assert sorted(cells.areas.round().tolist()) == [7_000, 8_500, 10_000]
    assert cells.geoms[np.argsort(cells.areas)[1]].equals(rect(30, 0, 115, 100))


def test_a_sliver_with_no_neighbour_stays_a_cell_of_its_own() -> None:
    island = rect(500, 500, 510, 510)  # 100 m², far from the rest
    community = MultiPolygon([rect(0, 0, 300, 300), island])
    cells = grid_community(CODE, community, SPEC)

    assert len(cells) == 10
    assert any(cell.equals(island) for cell in cells.geoms)


def test_a_lattice_square_crossed_twice_gives_one_cell_per_part_numbered_west_first() -> None:
    # A U: the two arms share the lattice squares of x 0–100 but not each other.
    community = shapely.union_all([rect(0, 0, 100, 100), rect(0, 100, 45, 300), rect(55, 100, 100, 300)])
    cells = grid_community(CODE, community, SPEC)

    assert len(cells) == 5
    assert [round(a) for a in cells.areas] == [4500, 4500, 4500, 4500, 10_000]
    west, east = cells.geoms[0], cells.geoms[1]
    assert west.bounds[0] == X0 and east.bounds[0] == X0 + 55
    assert_tiles(community, cells.geoms)


def test_cells_are_numbered_by_rows_from_north_to_south_then_west_to_east() -> None:
    community = shapely.Point(X0 + 500, Y0 + 500).buffer(470, quad_segs=16)
    cells = grid_community(CODE, community, GridSpec(cell_size=100, sliver_ratio=0))  # one piece per square

    points = shapely.point_on_surface(cells.geoms)
    rows = np.floor((shapely.get_y(points) - Y0) / 100)
    cols = np.floor((shapely.get_x(points) - X0) / 100)
    keys = list(zip(-rows, cols, strict=True))
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert cells.codes == [cell_code(CODE, n) for n in range(1, len(cells) + 1)]


def test_the_same_settings_give_the_same_codes_and_cells() -> None:
    community = shapely.Point(X0 + 333, Y0 + 444).buffer(555, quad_segs=5)
    first = grid_community(CODE, community, SPEC)
    again = grid_community(CODE, community, SPEC)

    assert first.codes == again.codes
    assert all(shapely.equals_exact(first.geoms, again.geoms, tolerance=0))


def test_more_than_999_cells_is_an_error_naming_the_community_and_a_cell_size_that_fits() -> None:
    community = rect(0, 0, 3200, 3200)  # 1,024 cells of 100 m
    with pytest.raises(TooManyCells) as raised:
        grid_community(CODE, community, SPEC)

    message = str(raised.value)
    assert CODE in message and "1024 cells" in message and "--cell-size" in message
    suggested = suggest_cell_size(community.area)
    assert f"--cell-size {suggested:g}" in message
    assert len(grid_community(CODE, community, GridSpec(cell_size=suggested))) <= 999


def test_build_grid_reports_progress_once_per_community() -> None:
    reports: list[tuple[str, int, int | None]] = []
    built = build_grid([(CODE, rect(0, 0, 200, 200)), ("433101004002", rect(200, 0, 300, 100))], SPEC,
                       progress=lambda stage, done, total=None: reports.append((stage, done, total)))

    assert built.cells == 5
    assert [(done, total) for _, done, total in reports] == [(0, 2), (1, 2), (2, 2)]
    codes, owners, geoms, areas = built.arrays()
    assert codes[-1] == "433101004002001" and owners[-1] == "433101004002"
    assert len(geoms) == len(areas) == 5


def test_the_coverage_check_catches_overlaps_and_gaps() -> None:
    community = rect(0, 0, 200, 100)
    overlapping = [rect(0, 0, 120, 100), rect(100, 0, 200, 100)]
    gapped = [rect(0, 0, 100, 100), rect(101, 0, 200, 100)]

    assert coverage(CODE, community, overlapping).overlap_m2 == pytest.approx(2000)
    assert not coverage(CODE, community, overlapping).ok
    assert coverage(CODE, community, gapped).gap_m2 == pytest.approx(100)
    assert not coverage(CODE, community, gapped).ok


@pytest.mark.parametrize(("size", "ratio"), [(0, 0.2), (-5, 0.2), (math.nan, 0.2), (100, 1.0), (100, -0.1)])
def test_a_grid_spec_out_of_range_is_refused(size: float, ratio: float) -> None:
    with pytest.raises(InvalidInput):
        GridSpec(cell_size=size, sliver_ratio=ratio)
