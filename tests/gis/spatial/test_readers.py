from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import Polygon

from gis.errors import InvalidInput
from gis.spatial.crs import InputDatum, convert_geometry
from gis.spatial.readers import find_column, int_value, pick_column, read_vector, text_value
from tests.common import (
    COMMUNITIES,
    jishou_world,
    write_geojson,
    write_gpkg,
    write_kml,
    write_raw_geojson,
    write_shapefile,
    zip_shapefile,
)

NAMES = ["湘西土家族苗族自治州", "吉首市", "乾州街道", "镇溪街道", *COMMUNITIES.values()]
SOUTH_BOUNDS = (109.70, 28.25, 109.73, 28.29)  # the fifth area of the world


def test_a_geojson_is_read_in_lon_lat_with_its_columns(tmp_path: Path) -> None:
    file = read_vector(write_geojson(tmp_path, jishou_world()))

    assert file.source_crs == "EPSG:4326"
    assert list(file.frame["name"]) == NAMES
    assert file.frame.crs.to_epsg() == 4326
    assert file.frame.geometry.iloc[4].bounds == SOUTH_BOUNDS


def test_a_gbk_shapefile_without_cpg_gives_its_chinese_names_back(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), encoding="GBK", cpg=False)
    assert not path.with_suffix(".cpg").exists()
    assert list(pyogrio.read_dataframe(path)["name"]) != NAMES  # what GDAL alone makes of it: mojibake

    file = read_vector(path)

    assert file.encoding == "GB18030"
    assert list(file.frame["name"]) == NAMES


def test_a_utf8_shapefile_without_cpg_is_read_as_utf8(tmp_path: Path) -> None:
    file = read_vector(write_shapefile(tmp_path, jishou_world(), encoding="UTF-8", cpg=False))

    assert file.encoding == "UTF-8"
    assert list(file.frame["name"]) == NAMES


def test_a_shapefile_with_cpg_is_left_to_gdal(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip() == "GBK"

    file = read_vector(path)

    assert file.encoding is None
    assert list(file.frame["name"]) == NAMES


def test_the_encoding_option_overrides_the_guess(tmp_path: Path) -> None:
    gbk = write_shapefile(tmp_path, jishou_world(), "gbk", encoding="GBK", cpg=False)
    utf8 = write_shapefile(tmp_path, jishou_world(), "utf8", encoding="UTF-8", cpg=False)

    assert list(read_vector(gbk, encoding="GBK").frame["name"]) == NAMES
    assert list(read_vector(utf8, encoding="GB18030").frame["name"]) != NAMES


def test_text_that_is_not_in_the_given_encoding_names_the_option(tmp_path: Path) -> None:
    gbk = write_shapefile(tmp_path, jishou_world(), encoding="GBK", cpg=False)

    with pytest.raises(InvalidInput, match=r"not UTF-8 .* --encoding"):
        read_vector(gbk, encoding="UTF-8")
    with pytest.raises(InvalidInput, match="'FOO' is not a known encoding"):
        read_vector(gbk, encoding="FOO")


def test_a_zipped_gbk_shapefile_is_read_from_the_zip(tmp_path: Path) -> None:
    shp = write_shapefile(tmp_path, jishou_world(), crs=4546, encoding="GBK", cpg=False)
    archive = zip_shapefile(shp)
    for part in tmp_path.glob("areas.*"):
        if part != archive:
            part.unlink()

    file = read_vector(archive)

    assert file.source_crs == "EPSG:4546"
    assert list(file.frame["name"]) == NAMES
    assert file.frame.geometry.iloc[4].bounds == pytest.approx(SOUTH_BOUNDS, abs=1e-7)


def test_a_shapefile_without_prj_needs_a_crs(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), crs=4546, prj=False)

    with pytest.raises(InvalidInput, match=r"no coordinate reference system .* --crs"):
        read_vector(path)

    file = read_vector(path, crs="EPSG:4546")
    assert file.frame.geometry.iloc[4].bounds == pytest.approx(SOUTH_BOUNDS, abs=1e-7)


def test_a_crs_option_that_contradicts_the_file_wins_with_a_warning(tmp_path: Path) -> None:
    path = write_shapefile(tmp_path, jishou_world(), crs=4546)
    path.with_suffix(".prj").write_text(CRS.from_epsg(4326).to_wkt("WKT1_ESRI"))

    file = read_vector(path, crs="EPSG:4546")

    assert file.frame.geometry.iloc[4].bounds == pytest.approx(SOUTH_BOUNDS, abs=1e-7)
    assert "read as EPSG:4546" in file.warnings[0].message


def test_an_unknown_crs_option_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a known CRS"):
        read_vector(write_geojson(tmp_path, jishou_world()), crs="EPSG:999999")


def test_a_geopackage_with_several_layers_needs_the_layer_named(tmp_path: Path) -> None:
    world = jishou_world()
    path = write_gpkg(tmp_path, {"upper": world[:4], "communities": world[4:]})

    with pytest.raises(InvalidInput, match=r"2 layers .* --layer"):
        read_vector(path)
    with pytest.raises(InvalidInput, match="no layer 'towns'"):
        read_vector(path, layer="towns")

    file = read_vector(path, layer="communities")
    assert list(file.frame["code"]) == list(COMMUNITIES)
    assert file.source.endswith(":communities")


def test_a_kml_is_read_flat_with_its_placemark_names(tmp_path: Path) -> None:
    file = read_vector(write_kml(tmp_path, jishou_world()))

    assert list(file.frame["Name"]) == NAMES
    assert list(file.frame["code"]) == [r["code"] for r in jishou_world()]
    assert not file.frame.geometry.has_z.any()
    assert file.frame.geometry.iloc[4].bounds == SOUTH_BOUNDS


def test_three_dimensional_geometries_come_back_flat(tmp_path: Path) -> None:
    cube_top = Polygon([(x, y, 100.0) for x, y in [(109.70, 28.25), (109.71, 28.25), (109.71, 28.26)]])
    path = write_raw_geojson(tmp_path, [{"properties": {"code": "433101004001"}, "geometry": cube_top}])

    geom = read_vector(path).frame.geometry.iloc[0]

    assert not geom.has_z
    assert geom.exterior.coords[0] == (109.70, 28.25)


def test_gcj02_lon_lat_are_converted_to_wgs84(tmp_path: Path) -> None:
    file = read_vector(write_geojson(tmp_path, jishou_world()), datum=InputDatum.gcj02)

    moved = file.frame.geometry.iloc[4]
    assert moved.bounds != pytest.approx(SOUTH_BOUNDS, abs=1e-4)  # a few hundred metres is ~0.003°
    assert moved.bounds == pytest.approx(SOUTH_BOUNDS, abs=1e-2)


def test_bd09_lon_lat_from_baidu_come_back_exactly(tmp_path: Path) -> None:
    world = jishou_world()
    baidu = [{**r, "geometry": convert_geometry(r["geometry"], InputDatum.wgs84, InputDatum.bd09)} for r in world]

    file = read_vector(write_geojson(tmp_path, baidu), datum=InputDatum.bd09)

    assert baidu[4]["geometry"].bounds != pytest.approx(SOUTH_BOUNDS, abs=1e-3)
    assert file.frame.geometry.iloc[4].bounds == pytest.approx(SOUTH_BOUNDS, abs=1e-8)


def test_a_datum_on_projected_coordinates_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--datum gcj02 applies to lon/lat"):
        read_vector(write_shapefile(tmp_path, jishou_world(), crs=4546), datum=InputDatum.gcj02)


def test_a_missing_or_unreadable_file_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no such file"):
        read_vector(tmp_path / "absent.geojson")
    garbage = tmp_path / "areas.geojson"
    garbage.write_text("this is not GeoJSON")
    with pytest.raises(InvalidInput, match=r"areas.geojson: cannot be read .* fix: give a GeoJSON"):
        read_vector(garbage)


def test_columns_are_found_by_option_by_guess_and_by_their_shapefile_stub(tmp_path: Path) -> None:
    file = read_vector(write_shapefile(tmp_path, jishou_world()))  # parent_code is cut to parent_cod

    assert pick_column(file, None, ("parent_code", "parent"), what="parent", option="--parent-field") == "parent_cod"
    assert pick_column(file, "NAME", ("x",), what="name", option="--name-field") == "name"
    assert pick_column(file, None, ("区划代码", "CODE"), what="code", option="--code-field") == "code"
    assert find_column(file, None, ("dm",), option="--code-field") is None
    with pytest.raises(InvalidInput, match=r"no code column found .* --code-field; the file's columns are"):
        pick_column(file, None, ("dm",), what="code", option="--code-field")
    with pytest.raises(InvalidInput, match="no column 'xzqdm'"):
        pick_column(file, "xzqdm", ("code",), what="code", option="--code-field")


def test_cells_read_as_text_and_whole_numbers() -> None:
    assert [text_value(v) for v in (None, float("nan"), "  ", " 吉首 ", 12)] == [None, None, None, "吉首", "12"]
    assert [int_value(v) for v in (None, "", 12, 12.0, "300")] == [None, None, 12, 12, 300]
    for bad in ("12.5", "many"):
        with pytest.raises(ValueError):
            int_value(bad)


def test_geometries_are_not_judged_here(tmp_path: Path) -> None:
    bow = shapely.from_wkt("POLYGON ((109.7 28.25, 109.71 28.26, 109.71 28.25, 109.7 28.26, 109.7 28.25))")
    path = write_raw_geojson(tmp_path, [{"properties": {"code": "x"}, "geometry": bow}])

    assert not read_vector(path).frame.geometry.iloc[0].is_valid
