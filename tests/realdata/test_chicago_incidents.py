"""Chicago from its own files, by the CLI and nothing else: 98 neighbourhoods with their own ids, a 100 m grid,
and the 31,390 abandoned-car calls from the shapefile (EPSG:26971 by its .prj). The counts per neighbourhood
must equal an independent geopandas point-in-polygon exactly (snap 0: 22 outside every neighbourhood)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.models import AdminArea, GridCell, Incident
from tests.conftest import Cli
from tests.realdata.conftest import ABANDONED_CARS, CHICAGO, NEIGHBOURHOODS

CATEGORIES = CHICAGO / "categories.csv"  # Abandoned_Cars → 06034 废弃车辆 Abandoned vehicle


def geopandas_counts() -> tuple[dict[str, int], int, gpd.GeoDataFrame]:
    """Points per neighbourhood name and points outside all, computed the way the data's README did:
    geopandas only, EPSG:26971, neighbourhoods made valid, ``within``."""
    cars = gpd.read_file(ABANDONED_CARS).set_crs(26971, allow_override=True)
    hoods = gpd.read_file(NEIGHBOURHOODS)
    hoods["geometry"] = hoods.geometry.make_valid()
    hoods = hoods.to_crs(26971)
    joined = gpd.sjoin(cars, hoods[["name", "geometry"]], how="left", predicate="within")
    assert not joined.index.duplicated().any()  # no point in two neighbourhoods
    outside = joined[joined["name"].isna()]
    counts = joined["name"].value_counts().to_dict()
    return {str(k): int(v) for k, v in counts.items()}, len(outside), cars.loc[outside.index]


@pytest.fixture
def chicago_hoods(chicago_cli: Cli) -> Cli:
    hoods = chicago_cli("boundaries", "import", NEIGHBOURHOODS, "--level", "community",
                        "--code-field", "cartodb_id", "--name-field", "name")
    assert hoods.exit_code == 0, hoods.output
    return chicago_cli


@pytest.fixture
def chicago_world(chicago_hoods: Cli) -> Cli:
    chicago_cli = chicago_hoods
    grid = chicago_cli("grid", "build", "--cell-size", "100", "--big-areas", "long")
    assert grid.exit_code == 0, grid.output
    assert "numbered with 4 digits" in grid.stdout and "coverage check passed" in grid.stdout
    return chicago_cli


def stored_counts(db: Session) -> dict[str, int]:
    rows = db.execute(
        select(AdminArea.name, func.count(Incident.id))
        .join(Incident, Incident.community_code == AdminArea.code)
        .where(AdminArea.valid_to.is_(None)).group_by(AdminArea.name)
    ).all()
    return {name: n for name, n in rows}


def test_the_abandoned_cars_import_as_they_come_and_match_geopandas_exactly(chicago_world: Cli, db: Session) -> None:
    result = chicago_world("incidents", "import", ABANDONED_CARS, "--columns", "category=Legend",
                           "--categories", CATEGORIES, "--skip-bad")

    assert result.exit_code == 0, result.output
    expected, outside, _ = geopandas_counts()
    assert outside == 22 and sum(expected.values()) == 31_390 - 22
    assert "31,368 of 31,390 incidents imported" in result.stdout and "22 rows refused" in result.stdout
    assert "snapped" not in result.stdout  # snap tolerance 0: nothing moved
    assert stored_counts(db) == expected
    top = sorted(expected.items(), key=lambda kv: -kv[1])[:5]
    assert top == [("Portage Park", 1218), ("Irving Park", 1147), ("Belmont Cragin", 1110), ("Austin", 1033),
                   ("West Ridge", 999)]
    # Every case found its cell, inside its own neighbourhood.
    assert db.scalar(select(func.count()).select_from(Incident).where(Incident.cell_code.is_(None))) == 0
    # Compared here rather than by a join: in the test's open transaction the tables are never analysed,
    # and the planner's guess for a 31,368 × 60,000 join can be a nested loop of minutes.
    cell_owner = dict(db.execute(select(GridCell.code, GridCell.community_code)).tuples().all())
    placed = db.execute(select(Incident.cell_code, Incident.community_code)).all()
    assert all(cell_owner[cell] == community for cell, community in placed)


def test_a_snap_tolerance_moves_points_and_the_report_counts_them(chicago_hoods: Cli, db: Session) -> None:
    _, outside, points = geopandas_counts()
    hoods = gpd.read_file(NEIGHBOURHOODS).to_crs(32616)
    hoods["geometry"] = hoods.geometry.make_valid()
    distances = points.to_crs(32616).geometry.apply(lambda p: hoods.distance(p).min())
    near = int((distances <= 5.0).sum())
    assert 0 < near < outside

    result = chicago_hoods("incidents", "import", ABANDONED_CARS, "--columns", "category=Legend",
                           "--categories", CATEGORIES, "--skip-bad", "--snap", "5")

    assert result.exit_code == 0, result.output
    assert f"{outside - near} rows refused, {near} points snapped to the nearest community (≤ 5 m)" in result.stdout


def test_category_values_missing_from_the_map_are_reported_not_guessed(chicago_hoods: Cli, db: Session,
                                                                      tmp_path: Path) -> None:
    other = tmp_path / "map.csv"
    other.write_text("source,code\nGraffiti,06019\n", encoding="utf-8")

    result = chicago_hoods("incidents", "import", ABANDONED_CARS, "--columns", "category=Legend",
                           "--categories", other)

    assert result.exit_code == 1 and "nothing was written" in result.stderr
    assert "Abandoned_Cars" in result.stderr and "31,390" in result.stderr
    assert db.scalar(select(func.count()).select_from(Incident)) == 0
