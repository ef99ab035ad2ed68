from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import box
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli.runtime import console, err_console
from gis.models import AdminArea, Compound
from gis.spatial.crs import InputDatum, convert_geometry
from tests.common import (
    COMMUNITIES,
    QIANZHOU,
    Row,
    area,
    bow_tie,
    compound,
    jishou_world,
    replace,
    write_geojson,
    write_gpkg,
    write_kml,
    write_raw_geojson,
    write_shapefile,
    zip_shapefile,
)
from tests.conftest import Cli

SOUTH, NORTH = "433101004001", "433101004002"
UPPER = [r for r in jishou_world() if r["level"] != "community"]


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Table cells wrap at the terminal width; a wide console keeps each message on one line for asserts."""
    console.width = err_console.width = 400
    yield
    console.width = err_console.width = None  # type: ignore[assignment]


def snapshot(db: Session) -> list[tuple[int, str, date | None]]:
    rows = db.execute(select(AdminArea.id, AdminArea.code, AdminArea.valid_to).order_by(AdminArea.id))
    return [(row_id, code, valid_to) for row_id, code, valid_to in rows]


def current(db: Session) -> dict[str, AdminArea]:
    return {a.code: a for a in db.scalars(select(AdminArea).where(AdminArea.valid_to.is_(None)))}


def features(rows: list[Row]) -> list[dict[str, object]]:
    return [{"properties": {k: v for k, v in r.items() if k != "geometry"}, "geometry": r["geometry"]}
            for r in rows]


def _swapped(tmp: Path) -> Path:
    found = features(jishou_world())
    found[4]["geometry"] = shapely.transform(found[4]["geometry"], lambda xy: xy[:, ::-1])
    return write_raw_geojson(tmp, found)


def _empty(tmp: Path) -> Path:
    found = features(jishou_world())
    found[4]["geometry"] = {"type": "Polygon", "coordinates": []}
    return write_raw_geojson(tmp, found)


def _garbage(tmp: Path) -> Path:
    path = tmp / "areas.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [')
    return path


BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "unreadable file": (_garbage, ["areas.geojson: cannot be read", "fix: give a GeoJSON"]),
    "shapefile without .prj": (lambda tmp: write_shapefile(tmp, jishou_world(), crs=4546, prj=False),
                               ["areas.shp: the file has no coordinate reference system", "--crs EPSG:"]),
    "lon/lat swapped": (_swapped, [f"{SOUTH} 乾州社区", "lon/lat look swapped", "(GeoJSON is [lon, lat])"]),
    "empty geometry": (_empty, [f"{SOUTH} 乾州社区", "has no geometry", "draw its boundary"]),
    "duplicate code": (
        lambda tmp: write_geojson(tmp, [*jishou_world(), area(SOUTH, "重复社区", "community", QIANZHOU,
                                                              box(109.70, 28.25, 109.71, 28.26))]),
        [f"{SOUTH} 重复社区", "appears 2 times in the file", "keep one feature per code"]),
    "child outside its parent": (
        lambda tmp: write_geojson(tmp, replace(jishou_world(), SOUTH, geometry=box(109.69, 28.25, 109.73, 28.29))),
        [f"{SOUTH} 乾州社区", "lies outside its parent 433101004000 乾州街道", "redraw the boundary inside"]),
    "overlapping siblings": (
        lambda tmp: write_geojson(tmp, replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.30))),
        [f"{SOUTH} 乾州社区", f"overlaps {NORTH} 万溶江社区 by", "redraw the shared edge"]),
    "code of the wrong length": (
        lambda tmp: write_geojson(tmp, replace(jishou_world(), SOUTH, code="4331010040011")),
        ["4331010040011 乾州社区", "'4331010040011' is not 12 digits", "give the full 12-digit"]),
    "parent that does not exist": (
        lambda tmp: write_geojson(tmp, replace(jishou_world(), SOUTH, parent_code="433101009000")),
        [f"{SOUTH} 乾州社区", "parent 433101009000 is neither in the file nor in the database",
         "import the parent first"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_with_the_feature_and_the_fix_and_writes_nothing(
    cli: Cli, db: Session, tmp_path: Path, case: str
) -> None:
    assert cli("boundaries", "import", write_geojson(tmp_path, UPPER, "upper.geojson")).exit_code == 0
    before = snapshot(db)
    make, expected = BAD_INPUTS[case]

    result = cli("boundaries", "import", make(tmp_path))

    assert result.exit_code != 0
    for text in expected:
        assert text in result.output, f"{text!r} not in:\n{result.output}"
    assert "Traceback" not in result.output
    assert snapshot(db) == before


def test_validation_errors_end_with_the_count_and_nothing_written(cli: Cli, tmp_path: Path) -> None:
    result = cli("boundaries", "import", BAD_INPUTS["overlapping siblings"][0](tmp_path))

    assert result.exit_code == 1
    assert "error" in result.output and "1 error(s), nothing was written" in result.output


def test_a_bow_tie_is_repaired_warned_and_loaded_valid(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write_geojson(tmp_path, replace(jishou_world(), SOUTH, geometry=bow_tie(109.70, 28.25, 0.03)))

    result = cli("boundaries", "import", path)

    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "Self-intersection" in result.output and "repaired" in result.output
    assert "8 added, 0 changed, 0 unchanged" in result.output
    geom = to_shape(current(db)[SOUTH].geom)
    assert geom.is_valid and len(geom.geoms) == 2


def test_a_gbk_shapefile_without_cpg_keeps_its_chinese_names(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), encoding="GBK", cpg=False)

    result = cli("boundaries", "import", path)

    assert result.exit_code == 0, result.output
    assert {code: a.name for code, a in current(db).items() if code in COMMUNITIES} == COMMUNITIES


def test_the_gcj02_option_moves_the_areas_back_by_a_few_hundred_metres(
    cli: Cli, db: Session, tmp_path: Path
) -> None:
    amap = [{**r, "geometry": convert_geometry(r["geometry"], InputDatum.wgs84, InputDatum.gcj02)}
            for r in jishou_world()]
    path = write_geojson(tmp_path, amap)

    result = cli("boundaries", "import", path, "--datum", "gcj02")

    assert result.exit_code == 0, result.output
    stored = to_shape(current(db)[SOUTH].geom)
    assert stored.bounds == pytest.approx((109.70, 28.25, 109.73, 28.29), abs=1e-8)
    offset_deg = abs(amap[4]["geometry"].bounds[0] - stored.bounds[0])
    assert 0.002 < offset_deg < 0.008  # 200–800 m of longitude at 28°N


def test_reimporting_is_a_no_op_and_a_changed_file_adds_versions(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write_geojson(tmp_path, jishou_world())
    assert cli("boundaries", "import", path).exit_code == 0
    before = snapshot(db)

    again = cli("boundaries", "import", path)
    assert again.exit_code == 0 and "0 added, 0 changed, 8 unchanged" in again.output
    assert snapshot(db) == before

    moved = replace(replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.30)),
                    NORTH, geometry=box(109.70, 28.30, 109.73, 28.33))
    changed = cli("boundaries", "import", write_geojson(tmp_path, moved, "moved.geojson"))
    assert changed.exit_code == 0 and "0 added, 2 changed, 6 unchanged" in changed.output
    history = [valid_to for _, code, valid_to in snapshot(db) if code == SOUTH]
    assert history == [date.today(), None]


def test_a_zipped_shapefile_in_a_metric_crs_is_imported(cli: Cli, db: Session, tmp_path: Path) -> None:
    archive = zip_shapefile(write_shapefile(tmp_path, jishou_world(), crs=4546, encoding="GBK", cpg=False))

    result = cli("boundaries", "import", archive)

    assert result.exit_code == 0, result.output
    assert current(db)[SOUTH].name == "乾州社区"
    assert to_shape(current(db)[SOUTH].geom).bounds == pytest.approx((109.70, 28.25, 109.73, 28.29), abs=1e-7)


def test_a_shapefile_without_prj_is_imported_when_its_crs_is_given(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), crs=4546, prj=False)

    result = cli("boundaries", "import", path, "--crs", "EPSG:4546")

    assert result.exit_code == 0, result.output
    assert to_shape(current(db)[SOUTH].geom).bounds == pytest.approx((109.70, 28.25, 109.73, 28.29), abs=1e-7)


def test_a_geopackage_layer_is_chosen_with_the_layer_option(cli: Cli, db: Session, tmp_path: Path) -> None:
    path = write_gpkg(tmp_path, {"old": UPPER, "current": jishou_world()})

    refused = cli("boundaries", "import", path)
    result = cli("boundaries", "import", path, "--layer", "current")

    assert refused.exit_code == 1 and "choose one with --layer" in refused.output
    assert result.exit_code == 0, result.output
    assert len(current(db)) == 8


def test_a_kml_from_google_earth_is_imported(cli: Cli, db: Session, tmp_path: Path) -> None:
    result = cli("boundaries", "import", write_kml(tmp_path, jishou_world()))

    assert result.exit_code == 0, result.output
    assert current(db)[SOUTH].name == "乾州社区"


def test_columns_with_other_names_are_mapped_by_options(cli: Cli, db: Session, tmp_path: Path) -> None:
    rows = [{"区划编号": r["code"], "地名": r["name"], "geometry": r["geometry"]} for r in jishou_world()]

    result = cli("boundaries", "import", write_geojson(tmp_path, rows), "--code-field", "区划编号",
                 "--name-field", "地名")

    assert result.exit_code == 0, result.output
    assert current(db)[SOUTH].parent_code == QIANZHOU


def test_compounds_are_imported_after_their_communities(cli: Cli, db: Session, tmp_path: Path) -> None:
    assert cli("boundaries", "import", write_geojson(tmp_path, jishou_world())).exit_code == 0
    path = write_geojson(tmp_path, [compound("世纪花园", None, box(109.705, 28.255, 109.708, 28.258),
                                             households=320)], "compounds.geojson")

    result = cli("boundaries", "import-compounds", path)

    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    assert db.scalar(select(Compound.community_code).where(Compound.name == "世纪花园")) == SOUTH


def test_a_compound_outside_every_community_is_refused(cli: Cli, db: Session, tmp_path: Path) -> None:
    assert cli("boundaries", "import", write_geojson(tmp_path, jishou_world())).exit_code == 0
    path = write_geojson(tmp_path, [compound("远方小区", None, box(110.5, 28.0, 110.51, 28.01))], "c.geojson")

    result = cli("boundaries", "import-compounds", path)

    assert result.exit_code == 1
    assert "远方小区" in result.output and "lies in no community" in result.output
    assert db.scalar(select(Compound.id)) is None
