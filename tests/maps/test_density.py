"""maps.density: a choropleth of one numeric field, data in and folium.Map out."""

from __future__ import annotations

import json
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from sqlalchemy.orm import Session

from gis.incidents import service as incidents
from gis.incidents.categories import load_categories
from gis.layers import Field, Layer, Style
from gis.layers.density import IncidentDensityLayer
from maps.assets import external_urls, local_map, render
from maps.density import DEFAULT_PALETTE, NO_DATA_COLOR, build, class_breaks, classify, round_coordinates
from tests.factories import WORLD_CELLS, add_world


class CountsLayer(Layer):
    id = "counts"
    title_zh = "网格案件数"
    title_en = "Incidents per cell"
    description = "test layer"
    geometry_type = "MultiPolygon"
    fields = (Field("code", "string", "网格编码", "Cell code"), Field("incidents", "integer", "案件数", "Incidents"))
    style = Style(palette=("#eeeeee", "#999999", "#000000"))


def cells(values: list[float | None], names: list[str] | None = None) -> gpd.GeoDataFrame:
    """A row of 100 m-ish cells from 109.70 E with the given incident counts."""
    return gpd.GeoDataFrame(
        {"code": names or [f"43310100400100{i}" for i in range(len(values))],
         "incidents": pd.array(values, dtype="Float64")},
        geometry=[box(109.70 + i * 0.001, 28.25, 109.701 + i * 0.001, 28.251) for i in range(len(values))],
        crs=4326,
    )


def features_of(html: str) -> list[dict]:
    """The features Folium inlined into the page (its GeoJson data, a JSON object literal)."""
    start = html.index('{"features": [')
    data, _ = json.JSONDecoder().raw_decode(html[start:])
    assert data["type"] == "FeatureCollection"
    return data["features"]


def test_quantile_breaks_end_at_the_maximum() -> None:
    assert class_breaks([1, 2, 3, 4, 5, 6, 7, 8], 4) == [2.75, 4.5, 6.25, 8.0]


def test_ties_give_fewer_breaks_than_classes() -> None:
    assert class_breaks([1, 1, 1, 1, 5], 4) == [1.0, 5.0]


def test_equal_interval_breaks_split_the_range() -> None:
    assert class_breaks([0, 10], 5, "equal_interval") == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_no_finite_value_gives_no_breaks() -> None:
    assert class_breaks([np.nan, np.inf], 3) == []


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        class_breaks([1, 2], 2, "natural_breaks")  # type: ignore[arg-type]


def test_missing_values_get_class_minus_one() -> None:
    values = pd.Series([1.0, None, 5.0], dtype="Float64")
    assert classify(values, [1.0, 5.0]).tolist() == [0, -1, 1]


def test_rounding_coordinates_keeps_shapes_and_drops_digits() -> None:
    geoms = gpd.GeoSeries([box(109.7000004, 28.2500006, 109.7012345678, 28.2512345678)], crs=4326)
    rounded = round_coordinates(geoms, 5)
    assert rounded.iloc[0].bounds == (109.7, 28.25, 109.70123, 28.25123)
    assert rounded.crs == geoms.crs


def test_features_are_coloured_by_class_with_the_layer_palette() -> None:
    html = render(build(cells([0, 5, 10]), "incidents", layer=CountsLayer(), k=3))
    fills = [f["properties"]["fill"] for f in features_of(html)]
    assert fills == ["#eeeeee", "#999999", "#000000"]
    assert external_urls(html) == []


def test_only_the_mapped_columns_and_rounded_coordinates_are_inlined() -> None:
    data = cells([1, 2])
    data["owner_phone"] = ["13800000000", "13900000000"]
    data = data.set_geometry([box(109.7000001234, 28.25, 109.701, 28.251), box(109.701, 28.25, 109.702, 28.251)])
    html = render(build(data, "incidents", tooltip=["code", "incidents"], decimals=5))
    assert "13800000000" not in html
    assert "109.7000001234" not in html
    assert set(features_of(html)[0]["properties"]) == {"code", "incidents", "fill"}


def test_missing_values_are_grey_and_the_legend_says_so() -> None:
    html = render(build(cells([1, None, 4]), "incidents", layer=CountsLayer()))
    fills = [f["properties"]["fill"] for f in features_of(html)]
    assert fills[1] == NO_DATA_COLOR
    assert "无数据" in html
    assert "案件数" in html  # the legend is titled with the field's Chinese title


def test_user_text_in_tooltips_is_inlined_as_json_not_markup() -> None:
    html = render(build(cells([1, 2], names=["<img src=x onerror=alert(1)>", "b"]), "incidents", layer=CountsLayer()))
    assert "<img" not in html
    assert "innerHTML" not in html


def test_an_existing_map_gets_the_layer_added() -> None:
    m = local_map(location=(28.25, 109.70), zoom_start=14)
    assert build(cells([1, 2]), "incidents", m=m, palette=DEFAULT_PALETTE) is m
    assert any(isinstance(child, folium.GeoJson) for child in m._children.values())


def test_a_projected_frame_is_mapped_in_lon_lat() -> None:
    html = render(build(cells([1, 2]).to_crs(4546), "incidents"))
    lon, lat = features_of(html)[0]["geometry"]["coordinates"][0][0]
    assert 109.69 < lon < 109.71 and 28.24 < lat < 28.26


@pytest.mark.parametrize(
    ("data", "column", "message"),
    [
        (cells([1, 2]), "households", "not in the data"),
        (cells([1, 2]), "code", "not numeric"),
        (cells([]), "incidents", "no features"),
        (cells([1]).set_crs(None, allow_override=True), "incidents", "no CRS"),
    ],
)
def test_unusable_input_is_refused_with_the_reason(data: gpd.GeoDataFrame, column: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(data, column)


def test_a_layer_from_the_database_is_coloured_by_its_own_choropleth_field(db: Session, tmp_path: Path) -> None:
    add_world(db)
    load_categories(db)
    for lon in (109.7004, 109.7006, 109.7015):  # two reports in the first cell, one in the second
        incidents.create(db, category_code="09006", lon=lon, lat=28.2505, photo_dir=tmp_path)
    layer = IncidentDensityLayer()
    data = layer.to_geodataframe(db)
    html = render(build(data, layer=layer))  # the column is the layer's: per_km2 (numeric → Decimal)
    by_code = {f["properties"]["code"]: f["properties"] for f in features_of(html)}
    first, second, third = (by_code[code] for code in WORLD_CELLS)
    assert (first["per_km2"], second["per_km2"], third["per_km2"]) == (200.0, 100.0, 0.0)
    palette = layer.style.palette
    assert first["fill"] == palette[-1] and third["fill"] == palette[0]
    assert "每平方公里案件数" in html  # the legend's title
    assert json.dumps(layer.fields[0].title_zh) in html  # a tooltip label, written into the script as JSON
