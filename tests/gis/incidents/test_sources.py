from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point, box

from gis.errors import InvalidInput
from gis.incidents.sources import SourceOptions, decode, load_category_map, parse_columns, read_source

JISHOU = (109.7335, 28.3105)
TO_4546 = Transformer.from_crs(4326, 4546, always_xy=True)


def test_a_column_mapping_reads_quoted_names_with_spaces() -> None:
    mapping = parse_columns('lon=Longitude, lat=Latitude,category="Complaint Type",reported_at="Created Date"')

    assert mapping == {"lon": "Longitude", "lat": "Latitude", "category": "Complaint Type",
                       "reported_at": "Created Date"}


@pytest.mark.parametrize(("text", "message"), [("lon", "not name=column"), ("where=Borough", "not one of ours")])
def test_a_bad_column_mapping_names_the_part(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_columns(text)


def test_a_hotline_export_is_read_through_its_mapping(tmp_path: Path) -> None:
    path = tmp_path / "311.csv"
    path.write_text("Unique Key,Created Date,Complaint Type,Latitude,Longitude,status\n"
                    f"1,01/05/2017 09:15:00 AM,Noise,{JISHOU[1]},{JISHOU[0]},closed\n", encoding="utf-8")

    rows = read_source(path, SourceOptions(columns=parse_columns(
        'lon=Longitude,lat=Latitude,category="Complaint Type",reported_at="Created Date"')))

    frame = rows.frame
    assert sorted(frame.columns) == ["category", "lat", "lon", "reported_at", "status"]  # Unique Key: not ours
    assert frame.iloc[0].to_dict() == {"reported_at": "01/05/2017 09:15:00 AM", "category": "Noise",
                                       "lat": str(JISHOU[1]), "lon": str(JISHOU[0]), "status": "closed"}
    assert rows.rows.tolist() == [2]


def test_a_mapped_column_the_file_lacks_is_named(tmp_path: Path) -> None:
    path = tmp_path / "311.csv"
    path.write_text("x,y,kind\n1,2,a\n", encoding="utf-8")

    with pytest.raises(InvalidInput, match=r"no column 'Longitude'.*one of \['x', 'y', 'kind'\]"):
        read_source(path, SourceOptions(columns={"lon": "Longitude"}))


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_chinese_csv_text_is_read_in_its_encoding_without_being_told(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(f"lon,lat,category,description\n{JISHOU[0]},{JISHOU[1]},09006,占道经营 乾州\n".encode(encoding))

    assert read_source(path).frame.loc[0, "description"] == "占道经营 乾州"


def test_a_wrong_encoding_given_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="is not utf-8 text"):
        decode("占道".encode("gbk"), "utf-8", what="cases.csv")
    with pytest.raises(InvalidInput, match="not a known encoding"):
        decode(b"x", "klingon", what="cases.csv")


def test_csv_coordinates_in_a_projected_crs_become_lon_lat(tmp_path: Path) -> None:
    x, y = TO_4546.transform(*JISHOU)
    path = tmp_path / "cases.csv"
    path.write_text(f"x,y,category\n{x},{y},09006\nnot-a-number,{y},09006\n", encoding="utf-8")

    frame = read_source(path, SourceOptions(columns={"lon": "x", "lat": "y"}, crs="EPSG:4546")).frame

    assert (float(frame.loc[0, "lon"]), float(frame.loc[0, "lat"])) == pytest.approx(JISHOU, abs=1e-8)
    assert frame.loc[1, "lon"] == "not-a-number"  # left for the checker to refuse, with the row number


def test_a_geojson_declaring_its_crs_is_read_in_it(tmp_path: Path) -> None:
    x, y = TO_4546.transform(*JISHOU)
    declared = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4546"}}
    document = {"type": "FeatureCollection", "crs": declared,
                "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                              "properties": {"kind": "09006"}}]}
    path = tmp_path / "cases.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")

    rows = read_source(path, SourceOptions(columns={"category": "kind"}))

    assert (float(rows.frame.loc[0, "lon"]), float(rows.frame.loc[0, "lat"])) == pytest.approx(JISHOU, abs=1e-8)
    assert "EPSG:4546" in rows.described


def test_a_geopackage_of_points_in_a_metric_crs_is_read_with_its_attributes(tmp_path: Path) -> None:
    x, y = TO_4546.transform(*JISHOU)
    frame = gpd.GeoDataFrame({"Kind": ["09006", "09006"], "Opened": ["2025-06-01 10:00", ""]},
                             geometry=[Point(x, y), box(x, y, x + 10, y + 10)], crs=4546)
    path = tmp_path / "cases.gpkg"
    frame.to_file(path, driver="GPKG")

    rows = read_source(path, SourceOptions(columns={"category": "Kind", "reported_at": "Opened"}))

    assert (float(rows.frame.loc[0, "lon"]), float(rows.frame.loc[0, "lat"])) == pytest.approx(JISHOU, abs=1e-8)
    assert rows.frame.loc[0, "reported_at"] == "2025-06-01 10:00"
    assert rows.geometry_errors == [(2, "must be a Point (got Polygon)")]
    assert np.array_equal(rows.rows, [1, 2])


def test_a_categories_map_is_source_to_code(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("source,code\nNoise - Street/Sidewalk,09020\n Abandoned Vehicle ,06034\n", encoding="utf-8")

    assert load_category_map(path) == {"Noise - Street/Sidewalk": "09020", "Abandoned Vehicle": "06034"}


@pytest.mark.parametrize(("content", "message"), [
    ("from,to\na,b\n", "header must be source,code"),
    ("source,code\na,\n", "line 2: source and code are both required"),
    ("source,code\na,06034\na,09020\n", "mapped to both 06034 and 09020"),
])
def test_a_bad_categories_map_is_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "map.csv"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(InvalidInput, match=message):
        load_category_map(path)
