"""The committed Jishou sample (data/boundaries/): complete, valid, nested, and what make_jishou.py builds."""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import sys
from types import ModuleType

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from gis.settings import PROJECT_ROOT
from gis.spatial import crs

BOUNDARIES = PROJECT_ROOT / "data" / "boundaries"
ADMIN = BOUNDARIES / "jishou_admin.geojson"
COMPOUNDS = BOUNDARIES / "jishou_compounds.geojson"
URBAN_SUBDISTRICTS = {"433101002000", "433101004000", "433101005000", "433101007000", "433101008000"}
PRESS_NAMED = ("云峰", "小溪桥", "光明", "胡麻井", "荣昌坪", "峒河", "大田", "五里牌")
SQUARE_METRE = 1.0


@pytest.fixture(scope="module")
def make_jishou() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_jishou", BOUNDARIES / "make_jishou.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.fixture(scope="module")
def admin() -> gpd.GeoDataFrame:
    return gpd.read_file(ADMIN)


@pytest.fixture(scope="module")
def admin_metric(admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return admin.to_crs(crs.JISHOU_METRIC)


@pytest.fixture(scope="module")
def compounds() -> gpd.GeoDataFrame:
    return gpd.read_file(COMPOUNDS)


def by_level(frame: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    return frame[frame["level"] == level]


def test_the_files_are_in_wgs84_with_seven_decimals_at_most() -> None:
    for path in (ADMIN, COMPOUNDS):
        assert gpd.read_file(path).crs.to_epsg() == crs.WGS84
        coordinates = shapely.get_coordinates(gpd.read_file(path).geometry.values)
        np.testing.assert_array_equal(coordinates, np.round(coordinates, 7))


def test_codes_are_unique_twelve_digit_strings_with_known_parents(admin: gpd.GeoDataFrame) -> None:
    assert admin["code"].is_unique
    assert admin["code"].str.fullmatch(r"\d{12}").all()
    parents = admin["parent_code"].dropna()
    assert set(parents) <= set(admin["code"])
    assert admin["level"].value_counts().to_dict() == {
        "prefecture": 1,
        "city": 1,
        "subdistrict": len(URBAN_SUBDISTRICTS),
        "community": len(by_level(admin, "community")),
    }
    assert set(by_level(admin, "subdistrict")["code"]) == URBAN_SUBDISTRICTS


@pytest.mark.parametrize("short_name", PRESS_NAMED)
def test_every_community_the_press_names_is_present(admin: gpd.GeoDataFrame, short_name: str) -> None:
    communities = by_level(admin, "community")
    found = communities[communities["name"] == f"{short_name}社区"]
    assert len(found) == 1
    assert found["code"].iloc[0].isdigit() and len(found["code"].iloc[0]) == 12


def test_every_urban_community_with_a_centre_in_the_code_list_is_present(admin: gpd.GeoDataFrame) -> None:
    with (BOUNDARIES / "source" / "433101.csv").open(encoding="utf-8", newline="") as f:
        expected = {
            row[0]
            for row in csv.reader(f)
            if row[1] in URBAN_SUBDISTRICTS and row[8] in {"111", "112"} and row[12] and row[13]
        }
    communities = set(by_level(admin, "community")["code"])
    assert expected <= communities
    assert communities - expected == {"433101004901", "433101004902"}  # the local additions, nothing else


def test_each_community_holds_its_published_centre(admin: gpd.GeoDataFrame) -> None:
    with (BOUNDARIES / "source" / "433101.csv").open(encoding="utf-8", newline="") as f:
        centres = {row[0]: (float(row[12]), float(row[13])) for row in csv.reader(f) if row[12]}
    for community in by_level(admin, "community").itertuples():
        if community.code in centres:
            lon, lat = crs.gcj02_to_wgs84(*centres[community.code])
            assert community.geometry.contains(Point(lon, lat)), community.name


def test_communities_are_valid_polygons_that_do_not_overlap(admin_metric: gpd.GeoDataFrame) -> None:
    communities = by_level(admin_metric, "community")
    assert (communities.geom_type == "Polygon").all()
    assert communities.is_valid.all()
    for (name_a, a), (name_b, b) in itertools.combinations(
        zip(communities["name"], communities.geometry, strict=True), 2
    ):
        assert a.intersection(b).area < SQUARE_METRE, (name_a, name_b)


def test_subdistricts_are_tiled_exactly_by_their_communities(admin: gpd.GeoDataFrame) -> None:
    communities = by_level(admin, "community")
    for subdistrict in by_level(admin, "subdistrict").itertuples():
        children = communities[communities["parent_code"] == subdistrict.code]
        assert len(children) >= 2, subdistrict.name
        assert subdistrict.geometry.is_valid
        assert all(subdistrict.geometry.covers(child) for child in children.geometry), subdistrict.name
        union = shapely.union_all(children.geometry.values)
        assert crs.to_metric(union.symmetric_difference(subdistrict.geometry)).area < SQUARE_METRE


def test_subdistricts_lie_inside_the_city_and_the_city_inside_the_prefecture(admin: gpd.GeoDataFrame) -> None:
    city = by_level(admin, "city").geometry.iloc[0]
    prefecture = by_level(admin, "prefecture").geometry.iloc[0]
    assert prefecture.covers(city)
    assert all(city.covers(s) for s in by_level(admin, "subdistrict").geometry)


def test_the_city_outline_is_the_source_converted_from_gcj02(admin: gpd.GeoDataFrame) -> None:
    with (BOUNDARIES / "source" / "433101.json").open(encoding="utf-8") as f:
        source = shapely.geometry.shape(json.load(f))
    city = by_level(admin, "city").geometry.iloc[0]
    shift = crs.to_metric(Point(city.exterior.coords[0])).distance(crs.to_metric(Point(source.exterior.coords[0])))
    assert 100 < shift < 1000  # GCJ-02 is a few hundred metres off here; an unconverted outline would be 0
    expected = crs.convert_geometry(source, "gcj02")
    assert crs.to_metric(city.symmetric_difference(expected)).area < 1_000  # rounding only, on 1,078 km²


def test_the_urban_area_gives_a_few_thousand_hundred_metre_cells(admin_metric: gpd.GeoDataFrame) -> None:
    area_km2 = by_level(admin_metric, "community").area.sum() / 1e6
    assert 15 <= area_km2 <= 30


def test_compounds_lie_inside_their_communities_without_overlapping(
    admin: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame
) -> None:
    community = by_level(admin, "community").set_index("code").geometry
    for compound in compounds.itertuples():
        assert compound.geometry.is_valid
        assert community[compound.community_code].contains(compound.geometry), compound.name
    metric = compounds.to_crs(crs.JISHOU_METRIC).geometry
    for a, b in itertools.combinations(metric, 2):
        assert a.intersection(b).area < SQUARE_METRE


def test_compounds_are_80_to_250_metre_rectangles(compounds: gpd.GeoDataFrame) -> None:
    for ring in compounds.to_crs(crs.JISHOU_METRIC).exterior:
        sides = np.hypot(*np.diff(np.asarray(ring.coords), axis=0).T)
        assert len(sides) == 4
        assert sides.min() >= 79.5 and sides.max() <= 250.5


def test_every_community_has_old_and_new_synthetic_compounds(
    admin: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame
) -> None:
    synthetic = compounds[compounds["synthetic"]]
    assert synthetic["name"].is_unique
    for code in by_level(admin, "community")["code"]:
        mine = synthetic[synthetic["community_code"] == code]
        assert 2 <= len(mine) <= 4, code
        old = mine[mine["built_year"] <= 2000]
        assert len(old) >= 1 and old["property_company"].isna().all()
        assert old["built_year"].between(1985, 2000).all()
        assert mine.loc[mine["built_year"] > 2000, "property_company"].notna().all()


def test_shiji_shanshui_is_the_one_real_name_and_lies_in_yunfeng(
    admin: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame
) -> None:
    real = compounds[~compounds["synthetic"]]
    assert list(real["name"]) == ["世纪山水小区"]
    yunfeng = admin.loc[admin["name"] == "云峰社区", "code"].iloc[0]
    assert real["community_code"].iloc[0] == yunfeng


def test_make_jishou_rebuilds_exactly_the_committed_files(make_jishou: ModuleType) -> None:
    built = make_jishou.build()
    for name, collection in built.items():
        text = (BOUNDARIES / name).read_text(encoding="utf-8")
        assert json.loads(text) == collection, f"{name} is stale: run .venv/bin/python data/boundaries/make_jishou.py"
        assert text == make_jishou.dumps(collection)
