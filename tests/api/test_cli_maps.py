"""`wangge map build|picture`: files written, bad input a clear error (exit 1), never a traceback."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from tests.api.test_tiles import add_tile_world
from tests.conftest import Cli
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS


def test_build_writes_one_self_contained_file_of_the_areas_cells(cli: Cli, db: Session, tmp_path: Path) -> None:
    add_tile_world(db)
    out = tmp_path / "density.html"
    result = cli("map", "build", "density", "--area", FIRST_COMMUNITY, "--out", out)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert all(code in html for code in WORLD_CELLS) and "<script src=" not in html
    assert "3 features" in " ".join(result.output.split())


def test_picture_writes_a_png(cli: Cli, db: Session, tmp_path: Path) -> None:
    add_tile_world(db)
    out = tmp_path / "sharing.png"
    result = cli("map", "picture", "sharing", "--out", out, "--radius", "800")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")


def test_bad_input_is_a_clear_error(cli: Cli, db: Session, tmp_path: Path) -> None:
    add_tile_world(db)
    result = cli("map", "build", "heat", "--out", tmp_path / "x.html")
    assert result.exit_code == 1 and "kind" in result.output and "Traceback" not in result.output
    result = cli("map", "build", "density", "--breaks", "a,b", "--scheme", "user", "--out", tmp_path / "x.html")
    assert result.exit_code == 1 and "--breaks" in result.output
    assert not (tmp_path / "x.html").exists()
