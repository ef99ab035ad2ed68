"""A layer's Style as QGIS reads it: QML and SLD documents, and the ``layer_styles`` table of a GeoPackage.

QGIS looks for a ``layer_styles`` table in a GeoPackage and applies the row marked ``useAsDefault`` to the
layer it names, so a planner opening an export sees the map's colours, widths and density classes rather
than QGIS's random ones. Each row carries the style twice: QML (QGIS's own format) and SLD 1.1 (OGC Symbology
Encoding, for other clients). Both come from the same :class:`~gis.layers.base.Style` as the Leaflet maps.

Density classes are computed here (:func:`class_breaks`, the one definition the maps use as well) over the
values being exported, so that a file's classes are those of its own features.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from gis.layers.base import Layer, Style

Scheme = Literal["quantiles", "equal_interval"]
STYLE_NAME = "wangge"
QGIS_VERSION = "3.28.0-Firenze"  # the oldest long-term release planners are likely to run
PIXEL = "Pixel"


def class_breaks(values: Sequence[float] | np.ndarray, k: int, scheme: Scheme = "quantiles") -> list[float]:
    """Upper bounds of ``k`` classes over the finite ``values`` (the last is the maximum).

    Fewer than ``k`` breaks come back when the values do not support them (ties, few distinct values):
    ``class_breaks([1, 1, 1, 1, 5], 4)`` is ``[1.0, 5.0]``. No finite value gives ``[]``.
    """
    if k < 1:
        raise ValueError(f"k: need at least one class, got {k}")
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return []
    if scheme == "quantiles":
        cuts = np.quantile(data, np.linspace(0, 1, k + 1)[1:])
    elif scheme == "equal_interval":
        cuts = np.linspace(data.min(), data.max(), k + 1)[1:]
    else:
        raise ValueError(f"scheme: {scheme!r} is not one of 'quantiles', 'equal_interval'")
    return [float(c) for c in np.unique(cuts)]


def class_colors(palette: Sequence[str], classes: int) -> list[str]:
    """The palette spread over ``classes`` classes, so two classes get its two ends, not two yellows."""
    if classes <= 0:
        return []
    picks = np.linspace(0, len(palette) - 1, classes).round().astype(int)
    return [palette[i] for i in picks]


@dataclass(frozen=True)
class ClassRange:
    lower: float
    upper: float
    color: str

    @property
    def label(self) -> str:
        return f"{self.lower:g} – {self.upper:g}"


def ranges_for(style: Style, values: pd.Series | None) -> list[ClassRange]:
    """The choropleth's classes over ``values`` (empty when the style has none or no value is finite)."""
    if style.choropleth is None or values is None:
        return []
    data = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    breaks = class_breaks(data, len(style.palette))
    if not breaks:  # no finite value: one symbol, as for a layer without choropleth
        return []
    colors = class_colors(style.palette, len(breaks))
    finite = data[np.isfinite(data)]
    lowers = [float(finite.min()) if finite.size else 0.0, *breaks[:-1]]
    return [ClassRange(lo, hi, c) for lo, hi, c in zip(lowers, breaks, colors, strict=True)]


# -- QML ----------------------------------------------------------------------------------------------------

def _rgba(color: str, opacity: float = 1.0) -> str:
    """``#3366cc`` as QGIS's ``51,102,204,255``."""
    text = color.lstrip("#")
    r, g, b = (int(text[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * max(0.0, min(opacity, 1.0)))}"


def _options(values: dict[str, str]) -> str:
    inner = "".join(f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>' for k, v in values.items())
    return f'<Option type="Map">{inner}</Option>'


def _qml_symbol(layer: Layer, name: str, fill: str) -> str:
    style = layer.style
    if layer.geometry_type == "Point":
        options = {"name": "circle", "color": _rgba(fill, style.fill_opacity), "outline_color": _rgba(style.color),
                   "outline_width": f"{style.weight:g}", "outline_width_unit": PIXEL, "size": "8",
                   "size_unit": PIXEL, "outline_style": "solid"}
        return (f'<symbol type="marker" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
                f'<layer class="SimpleMarker" enabled="1" locked="0" pass="0">{_options(options)}</layer></symbol>')
    options = {"color": _rgba(fill, style.fill_opacity), "style": "solid" if style.fill_opacity > 0 else "no",
               "outline_color": _rgba(style.color), "outline_style": "solid", "outline_width": f"{style.weight:g}",
               "outline_width_unit": PIXEL}
    return (f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{_options(options)}</layer></symbol>')


def qml(layer: Layer, ranges: Sequence[ClassRange] = ()) -> str:
    """The layer's style as a QGIS QML document: one symbol, or one per density class of its choropleth."""
    if ranges and layer.style.choropleth:
        items = "".join(f'<range lower="{r.lower!r}" upper="{r.upper!r}" symbol="{i}" label={quoteattr(r.label)} '
                        'render="true"/>' for i, r in enumerate(ranges))
        symbols = "".join(_qml_symbol(layer, str(i), r.color) for i, r in enumerate(ranges))
        renderer = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(layer.style.choropleth)} '
                    'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0">'
                    f"<ranges>{items}</ranges><symbols>{symbols}</symbols>"
                    '<mode name="quantile"/></renderer-v2>')
    else:
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
                    f"<symbols>{_qml_symbol(layer, '0', layer.style.fill_color)}</symbols></renderer-v2>")
    return (f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology">{renderer}</qgis>')


# -- SLD ----------------------------------------------------------------------------------------------------

def _sld_symbolizer(layer: Layer, fill: str) -> str:
    style = layer.style
    stroke = (f'<se:Stroke><se:SvgParameter name="stroke">{style.color}</se:SvgParameter>'
              f'<se:SvgParameter name="stroke-width">{style.weight:g}</se:SvgParameter></se:Stroke>')
    paint = (f'<se:Fill><se:SvgParameter name="fill">{fill}</se:SvgParameter>'
             f'<se:SvgParameter name="fill-opacity">{style.fill_opacity:g}</se:SvgParameter></se:Fill>')
    if layer.geometry_type == "Point":
        return (f"<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName>{paint}"
                f"{stroke}</se:Mark><se:Size>8</se:Size></se:Graphic></se:PointSymbolizer>")
    return f"<se:PolygonSymbolizer>{paint}{stroke}</se:PolygonSymbolizer>"


def sld(layer: Layer, ranges: Sequence[ClassRange] = ()) -> str:
    """The layer's style as SLD 1.1 (Symbology Encoding): one rule, or one per density class."""
    if ranges and layer.style.choropleth:
        field = escape(layer.style.choropleth)
        rules = "".join(
            f"<se:Rule><se:Name>{escape(r.label)}</se:Name><ogc:Filter><ogc:PropertyIsBetween>"
            f"<ogc:PropertyName>{field}</ogc:PropertyName><ogc:LowerBoundary><ogc:Literal>{r.lower!r}"
            f"</ogc:Literal></ogc:LowerBoundary><ogc:UpperBoundary><ogc:Literal>{r.upper!r}</ogc:Literal>"
            f"</ogc:UpperBoundary></ogc:PropertyIsBetween></ogc:Filter>{_sld_symbolizer(layer, r.color)}</se:Rule>"
            for r in ranges)
    else:
        symbolizer = _sld_symbolizer(layer, layer.style.fill_color)
        rules = f"<se:Rule><se:Name>{escape(layer.title_zh)}</se:Name>{symbolizer}</se:Rule>"
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<StyledLayerDescriptor version="1.1.0" xmlns="http://www.opengis.net/sld" '
            'xmlns:se="http://www.opengis.net/se" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="http://www.opengis.net/sld '
            'http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd">'
            f"<NamedLayer><se:Name>{escape(layer.id)}</se:Name><UserStyle><se:Name>{STYLE_NAME}</se:Name>"
            f"<se:FeatureTypeStyle>{rules}</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>")


# -- the GeoPackage table -----------------------------------------------------------------------------------

# QGIS's own layer_styles schema (what "Save as default in the datasource" creates), registered in
# gpkg_contents as an attributes table so that GDAL and QGIS list it.
_CREATE = """
CREATE TABLE IF NOT EXISTS layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
    f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
    useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME
)"""


def write_layer_styles(gpkg: Path, styled: Sequence[tuple[Layer, pd.Series | None, str]]) -> None:
    """Add a default style per layer to the GeoPackage ``gpkg``: (layer, its choropleth values or None,
    its geometry column)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(gpkg) as db:
        db.execute(_CREATE)
        db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                   "'QGIS styles of the layers (QML and SLD)', ?)", (now,))
        for layer, values, geometry_column in styled:
            ranges = ranges_for(layer.style, values)
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (layer.id,))
            db.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'wangge', NULL, ?)",
                (layer.id, geometry_column, STYLE_NAME, qml(layer, ranges), sld(layer, ranges),
                 f"{layer.title_zh} {layer.title_en}", now),
            )
