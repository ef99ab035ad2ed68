"""`wangge grid build | import | stats`, run in-process inside the test transaction."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Polygon
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.models import GridCell
from tests.conftest import Cli
from tests.gis.areas.test_grid_store import L_CODE, METRIC, SQUARE_CODE, add_two_communities, cells_of, rect


def write_grid(path: Path, rows: list[tuple[object, Polygon]], *, crs: int | None = METRIC) -> Path:
    """A grid file of (code, polygon in EPSG:4546) rows; the format follows the suffix."""
    frame = gpd.GeoDataFrame({"code": [code for code, _ in rows]}, geometry=[g for _, g in rows], crs=METRIC)
    if crs is None:
        frame = frame.set_crs(None, allow_override=True)
    elif crs != METRIC:
        frame = frame.to_crs(crs)
    frame.to_file(path)
    return path


def square_grid() -> list[tuple[object, Polygon]]:
    """The nine 100 m cells of the square community, numbered from the north-west."""
    return [(f"{SQUARE_CODE}{n:03d}", rect(x, y, x + 100, y + 100))
            for n, (y, x) in enumerate(((y, x) for y in (200, 100, 0) for x in (0, 100, 200)), start=1)]


def test_grid_build_writes_the_cells_and_prints_a_summary(cli: Cli, db: Session) -> None:
    add_two_communities(db)
    result = cli("grid", "build")

    assert result.exit_code == 0, result.output
    assert "2 communities" in result.output and "coverage check passed" in result.output
    assert len(cells_of(db, SQUARE_CODE)) == 9 and cells_of(db, L_CODE)


def test_grid_build_of_one_community_and_then_if_missing(cli: Cli, db: Session) -> None:
    add_two_communities(db)
    assert cli("grid", "build", "--community", L_CODE, "--cell-size", "50").exit_code == 0
    assert not cells_of(db, SQUARE_CODE)

    result = cli("grid", "build", "--if-missing")
    assert result.exit_code == 0, result.output
    assert "9 cells in 1 communities" in result.output
    again = cli("grid", "build", "--if-missing")
    assert "nothing to build" in again.output


def test_grid_build_with_too_small_a_cell_fails_naming_the_community(cli: Cli, db: Session) -> None:
    add_two_communities(db)
    result = cli("grid", "build", "--cell-size", "6")

    assert result.exit_code == 1
    assert SQUARE_CODE in result.output and "larger cell size" in result.output
    assert db.scalar(select(func.count()).select_from(GridCell)) == 0


def test_grid_build_of_an_unknown_community_fails(cli: Cli, db: Session) -> None:
    add_two_communities(db)
    result = cli("grid", "build", "--community", "433101004999")
    assert result.exit_code == 1 and "433101004999" in result.output


def test_grid_stats_shows_cells_per_community_and_the_check(cli: Cli, db: Session) -> None:
    add_two_communities(db)
    cli("grid", "build", "--community", SQUARE_CODE)
    result = cli("grid", "stats")

    assert result.exit_code == 0, result.output
    square_line = next(line for line in result.output.splitlines() if SQUARE_CODE in line)
    assert " 9 " in square_line and "ok" in square_line and "0.090" in square_line
    assert "1 communities have no cells" in result.output


def test_grid_import_of_a_valid_file_in_a_projected_crs(cli: Cli, db: Session, tmp_path: Path) -> None:
    add_two_communities(db)
    path = write_grid(tmp_path / "grid.shp", square_grid(), crs=METRIC)

    result = cli("grid", "import", path)

    assert result.exit_code == 0, result.output
    assert "9 cells in 1 communities" in result.output and "9 new" in result.output
    codes = [code for code, *_ in cells_of(db)]
    assert codes == [code for code, _ in square_grid()]
    assert cli("grid", "stats").output.count("ok") >= 1


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_grid_import_of_a_file_without_crs_needs_the_crs_option(cli: Cli, db: Session, tmp_path: Path) -> None:
    add_two_communities(db)
    path = write_grid(tmp_path / "grid.shp", square_grid(), crs=None)

    refused = cli("grid", "import", path)
    assert refused.exit_code == 1 and "--crs" in refused.output
    accepted = cli("grid", "import", path, "--crs", "EPSG:4546")
    assert accepted.exit_code == 0, accepted.output
    assert len(cells_of(db, SQUARE_CODE)) == 9


def _bad_code_length(rows: list[tuple[object, Polygon]]) -> tuple[list[tuple[object, Polygon]], str]:
    rows[4] = ("43310100400105", rows[4][1])
    return rows, "43310100400105"


def _duplicate_code(rows: list[tuple[object, Polygon]]) -> tuple[list[tuple[object, Polygon]], str]:
    rows[4] = (rows[3][0], rows[4][1])
    return rows, str(rows[3][0])


def _unknown_community(rows: list[tuple[object, Polygon]]) -> tuple[list[tuple[object, Polygon]], str]:
    rows[4] = ("433101004777005", rows[4][1])
    return rows, "433101004777005"


def _overlapping_cells(rows: list[tuple[object, Polygon]]) -> tuple[list[tuple[object, Polygon]], str]:
    rows[4] = (rows[4][0], rect(100, 100, 230, 200))  # 30 m into cell 006
    return rows, f"{SQUARE_CODE}005"


def _cell_outside_community(rows: list[tuple[object, Polygon]]) -> tuple[list[tuple[object, Polygon]], str]:
    rows[2] = (rows[2][0], rect(200, 200, 340, 300))  # 40 m across the eastern edge
    return rows, f"{SQUARE_CODE}003"


@pytest.mark.parametrize("spoil", [_bad_code_length, _duplicate_code, _unknown_community, _overlapping_cells,
                                   _cell_outside_community])
def test_a_bad_grid_file_fails_naming_the_cell_and_leaves_the_grid_unchanged(
    cli: Cli, db: Session, tmp_path: Path, spoil: object
) -> None:
    add_two_communities(db)
    assert cli("grid", "build", "--cell-size", "150").exit_code == 0
    before = cells_of(db)
    rows, culprit = spoil(square_grid())  # type: ignore[operator]
    path = write_grid(tmp_path / "grid.geojson", rows, crs=4326)

    result = cli("grid", "import", path)

    assert result.exit_code == 1
    assert culprit in result.output and "nothing was written" in result.output
    assert cells_of(db) == before
