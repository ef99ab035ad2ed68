"""`wangge export` and `wangge layers list`, run in-process inside the test transaction."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest
from sqlalchemy.orm import Session

from gis.layers import registry
from gis.settings import Settings
from tests.conftest import Cli
from tests.layer_world import COMPOUND_NAME, add_layer_world


@pytest.fixture
def world(db: Session) -> Session:
    add_layer_world(db)
    return db


def test_export_without_layers_writes_every_layer_into_one_geopackage(
    cli: Cli, world: Session, tmp_path: Path, settings: Settings
) -> None:
    out = tmp_path / "planning.gpkg"
    result = cli("export", "--out", out)
    assert result.exit_code == 0, result.output
    assert {name for name, _ in pyogrio.list_layers(out)} == {*registry(settings), "layer_styles"}
    assert f"exported {len(registry(settings))} layer(s)" in result.output
    assert "grid_cells" in result.output and "单元网格" in result.output  # the per-layer progress and table


def test_export_named_layers_as_shapefiles_in_the_metric_crs(cli: Cli, world: Session, tmp_path: Path) -> None:
    result = cli("export", "compounds", "incident_density", "--format", "shp", "--out", tmp_path / "shp",
                 "--crs", "EPSG:4546")
    assert result.exit_code == 0, result.output
    compounds = pyogrio.read_dataframe(tmp_path / "shp" / "compounds.shp")
    assert compounds.crs.to_epsg() == 4546 and compounds.loc[0, "name"] == COMPOUND_NAME
    assert (tmp_path / "shp" / "incident_density.fields.csv").exists()
    assert "EPSG:4546" in result.output


def test_export_defaults_to_a_folder_per_format_in_the_current_directory(
    cli: Cli, world: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("export", "grid_cells", "-f", "shp").exit_code == 0
    assert cli("export", "grid_cells").exit_code == 0
    assert (tmp_path / "wangge-shp" / "grid_cells.shp").exists() and (tmp_path / "wangge.gpkg").is_file()


def test_export_with_a_bbox_keeps_what_it_touches(cli: Cli, world: Session, tmp_path: Path) -> None:
    out = tmp_path / "cells.geojson"
    result = cli("export", "grid_cells", "-f", "geojson", "-o", out, "--bbox", "109.7000,28.2500,109.7009,28.2509")
    assert result.exit_code == 0, result.output
    assert len(pyogrio.read_dataframe(out)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "nope", "--out", "x.gpkg"], "unknown layer"),
        (["export", "grid_cells", "--bbox", "1,2,3"], "--bbox"),
        (["export", "grid_cells", "--crs", "EPSG:999999"], "crs"),
    ],
)
def test_export_mistakes_are_one_red_line_and_exit_1(
    cli: Cli, db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_layers_list_shows_every_registered_layer_with_its_count(cli: Cli, world: Session, settings: Settings) -> None:
    result = cli("layers", "list")
    assert result.exit_code == 0, result.output
    for layer in registry(settings).values():
        assert layer.id in result.output and layer.title_zh in result.output
    assert "features" in result.output


def test_layers_list_without_counts_needs_no_database(cli: Cli, settings: Settings) -> None:
    cli.runtime.sessions = None  # would have to start a database if it were asked for
    cli.runtime.settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none", state_dir=settings.state_dir)
    result = cli("layers", "list", "--no-count")
    assert result.exit_code == 0, result.output
    assert "grid_cells" in result.output and "features" not in result.output
