"""gis.layers.export: planner exports, read back by GDAL the way QGIS would (pyogrio, and Debian's ogrinfo)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pyogrio
import pytest
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.layers import Field, Layer, registry
from gis.layers.export import (
    PERSONAL_MARKERS,
    PersonalDataInLayer,
    check_public,
    export_layers,
    short_field_names,
)
from gis.layers.styles import class_breaks, qml, ranges_for
from gis.models import User
from gis.settings import Settings
from tests.layer_world import COMPOUND_NAME, FACILITY_NAME, INCIDENT_IDS, SECRETS, add_layer_world

CELL_BOX = (109.7000, 28.2500, 109.7012, 28.2510)  # the first two of the world's cells


@pytest.fixture
def world(db: Session) -> Session:
    add_layer_world(db)
    return db


def ogrinfo(*args: str | Path) -> str:
    """Debian's ogrinfo (gdal-bin), i.e. a GDAL other than the one pyogrio bundles."""
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.fail("ogrinfo is missing: run `scripts/ensure-system.sh gdal` (installs Debian's gdal-bin)")
    done = subprocess.run([exe, "-ro", *map(str, args)], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def summary(path: Path) -> dict[str, int]:
    """Layer name → feature count, as ogrinfo reports them."""
    out, name = {}, None
    for line in ogrinfo("-so", "-al", path).splitlines():
        if line.startswith("Layer name: "):
            name = line.removeprefix("Layer name: ").strip()
        elif line.startswith("Feature Count: ") and name:
            out[name] = int(line.removeprefix("Feature Count: "))
    return out


def test_geopackage_has_one_table_per_registered_layer_with_every_feature(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    layers = registry(settings)
    report = export_layers(world, [], tmp_path / "planning.gpkg", fmt="gpkg", settings=settings)
    path = tmp_path / "planning.gpkg"
    assert report.files == [path]
    expected = {layer_id: layer.count(world) for layer_id, layer in layers.items()}
    assert all(expected.values()), expected  # the world gives every layer something to export
    assert {name for name, _ in pyogrio.list_layers(path)} == {*layers, "layer_styles"}  # + QGIS's styles
    assert summary(path) == {**expected, "layer_styles": len(layers)}
    for layer_id, layer in layers.items():
        info = pyogrio.read_info(path, layer=layer_id)
        assert info["crs"] == "EPSG:4326"
        assert list(info["fields"]) == [f.name for f in layer.fields]
        assert info["features"] == expected[layer_id]


def test_geopackage_keeps_chinese_text_and_types_and_titles(world: Session, settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "out.gpkg"
    export_layers(world, ["compounds", "facilities", "incidents"], path, fmt="gpkg", settings=settings)
    compounds = pyogrio.read_dataframe(path, layer="compounds")
    assert compounds.loc[0, "name"] == COMPOUND_NAME
    assert compounds.loc[0, "households"] == 120
    facilities = pyogrio.read_dataframe(path, layer="facilities")
    assert facilities.loc[0, "name"] == FACILITY_NAME
    assert facilities["open_share"].dtype.kind == "f"  # a number, not the text of a Decimal
    incidents = pyogrio.read_dataframe(path, layer="incidents")
    assert sorted(incidents["public_id"]) == INCIDENT_IDS
    assert str(incidents["reported_at"].dt.tz) == "UTC"
    described = ogrinfo("-so", path, "compounds")
    assert "IDENTIFIER=小区" in described
    assert "DESCRIPTION=Compounds: " in described


def test_nothing_personal_reaches_any_format(world: Session, settings: Settings, tmp_path: Path) -> None:
    export_layers(world, [], tmp_path / "all.gpkg", fmt="gpkg", settings=settings)
    export_layers(world, [], tmp_path / "geojson", fmt="geojson", settings=settings)
    export_layers(world, [], tmp_path / "shp", fmt="shp", settings=settings)
    dumps = [ogrinfo("-al", tmp_path / "all.gpkg"), ogrinfo("-al", tmp_path / "shp")]
    dumps += [p.read_text(encoding="utf-8") for p in (tmp_path / "geojson").glob("*.geojson")]
    assert FACILITY_NAME in dumps[0] and FACILITY_NAME in dumps[1]  # the dumps do hold the features' text
    for dump in dumps:
        for secret in SECRETS:
            assert secret not in dump
    for path in (tmp_path / "all.gpkg", *(tmp_path / "shp").glob("*.shp")):
        for layer_name, _ in pyogrio.list_layers(path):
            columns = pyogrio.read_info(path, layer=layer_name)["fields"]
            assert not [c for c in columns if any(m in c.lower() for m in PERSONAL_MARKERS)]


def test_shapefiles_say_utf8_and_map_their_short_field_names(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    report = export_layers(world, ["facility_sharing", "compounds"], tmp_path, fmt="shp", settings=settings)
    sharing = tmp_path / "facility_sharing.shp"
    assert {p.name for p in report.files} >= {"facility_sharing.shp", "facility_sharing.dbf", "facility_sharing.cpg",
                                               "facility_sharing.prj", "facility_sharing.fields.csv"}
    assert all(p.exists() for p in report.files)
    assert (tmp_path / "compounds.cpg").read_text().strip() == "UTF-8"
    with (tmp_path / "facility_sharing.fields.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    layer = registry(settings)["facility_sharing"]
    assert [r["name"] for r in rows] == [f.name for f in layer.fields]
    short = [r["shp_field"] for r in rows]
    assert all(len(s) <= 10 for s in short) and len({s.upper() for s in short}) == len(short)
    assert pyogrio.read_info(sharing)["fields"].tolist() == short
    assert summary(sharing) == {"facility_sharing": layer.count(world)}
    compounds = pyogrio.read_dataframe(tmp_path / "compounds.shp")
    assert compounds.loc[0, "name"] == COMPOUND_NAME
    assert "name (String) = " + COMPOUND_NAME in ogrinfo("-al", tmp_path / "compounds.shp")


def test_shapefile_times_are_iso_text_in_utc(world: Session, settings: Settings, tmp_path: Path) -> None:
    export_layers(world, ["incidents"], tmp_path / "incidents.shp", fmt="shp", settings=settings)
    frame = pyogrio.read_dataframe(tmp_path / "incidents.shp")
    stamp = frame.loc[0, "reported_a"]  # reported_at, cut to 10 characters
    assert stamp.endswith("Z") and "T" in stamp


def test_geojson_is_one_rfc7946_file_per_layer_or_the_named_file(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    report = export_layers(world, ["grid_cells", "incidents"], tmp_path / "out", fmt="geojson", settings=settings)
    assert sorted(p.name for p in report.files) == ["grid_cells.geojson", "incidents.geojson"]
    cells = pyogrio.read_dataframe(tmp_path / "out" / "grid_cells.geojson")
    assert cells.crs.to_epsg() == 4326 and len(cells) == 3
    one = tmp_path / "cells.geojson"
    export_layers(world, ["grid_cells"], one, fmt="geojson", settings=settings)
    assert summary(one) == {"grid_cells": 3}
    text = one.read_text(encoding="utf-8")
    assert '"crs"' not in text  # RFC 7946: lon/lat WGS84 implied, no crs member


def test_metric_crs_writes_metres(world: Session, settings: Settings, tmp_path: Path) -> None:
    report = export_layers(world, ["grid_cells"], tmp_path / "m.gpkg", fmt="gpkg", settings=settings, crs="metric")
    assert report.crs == settings.metric_crs == 4546
    cells = pyogrio.read_dataframe(tmp_path / "m.gpkg", layer="grid_cells")
    assert cells.crs.to_epsg() == 4546
    # 0.001° × 0.001° at 28.25° N: about 98 m × 111 m
    assert cells.area.to_list() == pytest.approx([10_880] * 3, rel=0.01)
    assert "EPSG\",4546" in ogrinfo("-so", tmp_path / "m.gpkg", "grid_cells").replace(" ", "")


def test_bbox_keeps_only_the_features_it_touches(world: Session, settings: Settings, tmp_path: Path) -> None:
    report = export_layers(world, ["grid_cells", "incidents"], tmp_path / "b.gpkg", fmt="gpkg", settings=settings,
                           bbox=(109.7000, 28.2500, 109.7009, 28.2509))
    assert {item.layer_id: item.features for item in report.layers} == {"grid_cells": 1, "incidents": 1}


def test_progress_reports_every_layer_to_its_end(world: Session, settings: Settings, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int | None]] = []
    export_layers(world, ["grid_cells", "compounds"], tmp_path / "p.gpkg", fmt="gpkg", settings=settings,
                  progress=lambda stage, done, total=None: calls.append((stage, done, total)))
    assert calls[-1] == ("layers", 2, 2)
    assert ("grid_cells 单元网格", 3, 3) in calls and ("compounds 小区", 1, 1) in calls


def test_an_empty_layer_is_still_written_with_its_fields(db: Session, settings: Settings, tmp_path: Path) -> None:
    export_layers(db, ["incidents"], tmp_path / "empty.gpkg", fmt="gpkg", settings=settings)
    info = pyogrio.read_info(tmp_path / "empty.gpkg", layer="incidents")
    assert info["features"] == 0 and info["geometry_type"] == "Point"
    assert list(info["fields"]) == [f.name for f in registry(settings)["incidents"].fields]


@pytest.mark.parametrize(
    ("ids", "path", "fmt", "message"),
    [
        (["nope"], "x.gpkg", "gpkg", "unknown layer"),
        (["grid_cells", "compounds"], "one.geojson", "geojson", "names one file"),
        (["grid_cells"], "x.gpkg", "dxf", "format"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_written(
    db: Session, settings: Settings, tmp_path: Path, ids: list[str], path: str, fmt: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        export_layers(db, ids, tmp_path / path, fmt=fmt, settings=settings)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_crs_is_refused(db: Session, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="crs"):
        export_layers(db, ["grid_cells"], tmp_path / "x.gpkg", fmt="gpkg", settings=settings, crs="EPSG:999999")


def test_a_layer_naming_a_personal_column_is_refused() -> None:
    class LeakyLayer(Layer):
        id = "leaky"
        title_zh = title_en = description = "leaky"
        geometry_type = "Point"
        fields = (Field("reporter_phone", "string", "电话", "Phone"),)

        def select(self):  # type: ignore[no-untyped-def]
            from sqlalchemy import select

            return select(User.phone.label("reporter_phone"))

    with pytest.raises(PersonalDataInLayer, match="reporter_phone"):
        check_public(LeakyLayer())
    for layer in registry(Settings()).values():
        check_public(layer)  # every registered layer passes


def test_short_field_names_are_unique_ignoring_case_and_keep_names_that_fit() -> None:
    names = ["facilities_inside", "facilities_in_reach", "Facilities", "code", "open_hours_week"]
    short = short_field_names(names)
    assert short["code"] == "code" and short["Facilities"] == "Facilities"
    assert short["facilities_inside"] == "faciliti_1" and short["facilities_in_reach"] == "faciliti_2"
    assert short["open_hours_week"] == "open_hours"
    assert len({s.upper() for s in short.values()}) == len(names)
    assert all(len(s) <= 10 for s in short.values())


# -- more formats for QGIS (issue 15) --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "kml", "fgb"])
def test_csv_kml_and_flatgeobuf_hold_every_feature_read_back_by_gdal(
    world: Session, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    layers = registry(settings)
    report = export_layers(world, [], tmp_path / fmt, fmt=fmt, settings=settings)  # type: ignore[arg-type]

    expected = {layer_id: layer.count(world) for layer_id, layer in layers.items()}
    assert all(expected.values()), expected
    for layer_id in layers:
        path = tmp_path / fmt / f"{layer_id}.{fmt}"
        assert path in report.files
        read = pyogrio.read_dataframe(path)
        assert len(read) == expected[layer_id], layer_id
        assert read.geometry.notna().all() and not read.geometry.is_empty.any(), layer_id
    compounds = pyogrio.read_dataframe(tmp_path / fmt / f"compounds.{fmt}")
    assert COMPOUND_NAME in set(compounds["name" if fmt != "kml" else "Name"])


def test_csv_carries_wkt_and_the_column_types(world: Session, settings: Settings, tmp_path: Path) -> None:
    export_layers(world, ["compounds"], tmp_path / "compounds.csv", fmt="csv", settings=settings)

    header = (tmp_path / "compounds.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("WKT,")
    assert (tmp_path / "compounds.csvt").read_text(encoding="utf-8").startswith("WKT,")
    info = ogrinfo("-so", "-al", tmp_path / "compounds.csv")
    assert "households: Integer64" in info  # typed by the .csvt, not guessed as text


def test_flatgeobuf_in_the_metric_crs_names_it_and_has_a_spatial_index(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    export_layers(world, ["grid_cells"], tmp_path / "cells.fgb", fmt="fgb", settings=settings, crs="metric")

    info = pyogrio.read_info(tmp_path / "cells.fgb")
    assert info["crs"] == f"EPSG:{settings.metric_crs}"
    assert info["capabilities"]["fast_spatial_filter"]


def test_kml_in_a_metric_crs_is_refused_before_anything_is_written(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="KML is always WGS 84"):
        export_layers(world, ["compounds"], tmp_path / "out", fmt="kml", settings=settings, crs=4546)
    assert not (tmp_path / "out").exists()


def test_a_geopackage_carries_each_layer_s_qgis_style_read_back_by_gdal(
    world: Session, settings: Settings, tmp_path: Path
) -> None:
    layers = registry(settings)
    path = tmp_path / "planning.gpkg"
    export_layers(world, [], path, fmt="gpkg", settings=settings)

    styles = pyogrio.read_dataframe(path, layer="layer_styles", read_geometry=False)
    assert sorted(styles["f_table_name"]) == sorted(layers)
    assert set(styles["useAsDefault"]) == {1} and set(styles["f_geometry_column"]) == {"geom"}
    by_layer = styles.set_index("f_table_name")
    boundary = by_layer.loc["communities"]
    assert 'type="singleSymbol"' in boundary["styleQML"] and "44,127,184" in boundary["styleQML"]  # #2c7fb8
    assert "<se:PolygonSymbolizer>" in boundary["styleSLD"] and "#2c7fb8" in boundary["styleSLD"]
    # The density layer arrives with its classes over the exported values and the map's palette.
    density = layers["incident_density"]
    values = pyogrio.read_dataframe(path, layer="incident_density")[density.style.choropleth]
    expected = class_breaks(values.to_numpy(dtype=float), len(density.style.palette))
    qml_text = by_layer.loc["incident_density"]["styleQML"]
    assert 'type="graduatedSymbol"' in qml_text and f'attr="{density.style.choropleth}"' in qml_text
    assert qml_text.count("<range ") == len(expected)
    assert all(f'upper="{upper!r}"' in qml_text for upper in expected)
    assert by_layer.loc["incident_density"]["styleSLD"].count("<ogc:PropertyIsBetween>") == len(expected)
    for xml in (*styles["styleQML"], *styles["styleSLD"]):
        ElementTree.fromstring(xml.removeprefix("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"))


def test_a_choropleth_without_any_value_gets_a_single_symbol() -> None:
    layer = registry(Settings(database_url="postgresql://unused/unused"))["incident_density"]
    assert ranges_for(layer.style, pd.Series([None, float("nan")])) == []
    assert 'type="singleSymbol"' in qml(layer, [])
