"""A planner's choropleth of one numeric field per feature (e.g. incidents per grid cell), in the manner of
``GeoDataFrame.explore``: data in, ``folium.Map`` out, added to ``m`` when one is given.

A city of cells inlined in one page costs megabytes (it grows with the number of cells), so only the
columns the map shows are kept, and coordinates are rounded (``decimals=5`` ≈ 1 m, invisible at any zoom
a planner uses). Class breaks are computed here (quantiles or equal intervals), so the page needs no
colour-scale library; tooltips go through ``FieldTable`` (text nodes: names typed by people stay text).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from jinja2 import Template

from gis.layers import Layer
from maps.assets import DEFAULT_STATIC_URL, local_map
from maps.popups import FieldTable

Scheme = Literal["quantiles", "equal_interval"]
DEFAULT_PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
NO_DATA_COLOR = "#d9d9d9"


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


def classify(values: pd.Series, breaks: Sequence[float]) -> pd.Series:
    """Class index of each value (0 = lowest), -1 for missing values."""
    index = np.searchsorted(np.asarray(breaks), values.to_numpy(dtype=float), side="left")
    index = np.minimum(index, max(len(breaks) - 1, 0))
    return pd.Series(np.where(values.notna(), index, -1), index=values.index)


class Legend(MacroElement):
    """A legend box of class colours and ranges, bottom-left; plain HTML, no colour-scale library."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div class="wangge-legend" style="position: fixed; right: 10px; bottom: 28px; z-index: 1000;
             background: rgba(255,255,255,.92); padding: 8px 10px; border-radius: 6px; font-size: 13px;
             line-height: 1.6; box-shadow: 0 1px 5px rgba(0,0,0,.25);">
          <div style="font-weight: 600; margin-bottom: 2px;">{{ this.title | e }}</div>
          {% for color, label in this.entries %}
          <div><i style="display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
               margin-right: 6px; background: {{ color }}; border: 1px solid #999;"></i>{{ label | e }}</div>
          {% endfor %}
        </div>
        {% endmacro %}
        """
    )

    def __init__(self, title: str, entries: Sequence[tuple[str, str]]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's elements are untyped
        self._name = "Legend"
        self.title = title
        self.entries = list(entries)


def _label(low: float | None, high: float) -> str:
    def fmt(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:,.2f}"

    return f"≤ {fmt(high)}" if low is None else f"{fmt(low)} – {fmt(high)}"


def round_coordinates(geoms: gpd.GeoSeries, decimals: int) -> gpd.GeoSeries:
    """``geoms`` with every coordinate rounded to ``decimals`` places (degrees in EPSG:4326)."""
    rounded = shapely.transform(geoms.to_numpy(), lambda xy: np.round(xy, decimals))
    return gpd.GeoSeries(rounded, index=geoms.index, crs=geoms.crs)


def numeric_values(values: pd.Series, column: str) -> pd.Series:
    """``values`` as floats. PostgreSQL ``numeric`` columns arrive as ``Decimal`` objects, which are numbers;
    digit strings such as cell codes are not, and raise ValueError."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("Float64")
    if values.map(lambda v: v is None or (isinstance(v, Decimal | int | float) and not isinstance(v, bool))).all():
        return pd.to_numeric(values).astype("Float64")
    raise ValueError(f"column: {column!r} is not numeric (dtype {values.dtype})")


def build(
    data: gpd.GeoDataFrame,
    column: str | None = None,
    *,
    m: folium.Map | None = None,
    layer: Layer | None = None,
    k: int = 5,
    scheme: Scheme = "quantiles",
    palette: Sequence[str] | None = None,
    tooltip: Sequence[str] | bool = True,
    legend: bool = True,
    name: str | None = None,
    decimals: int = 5,
    static_url: str = DEFAULT_STATIC_URL,
    breaks: Sequence[float] | None = None,
) -> folium.Map:
    """Colour the features of ``data`` by the numeric ``column``; returns ``m`` (or a new map).

    ``data`` is a GeoDataFrame with a CRS (reprojected to EPSG:4326 when it is another), e.g.
    ``layer.to_geodataframe(session)``. ``layer`` gives titles (legend, tooltip labels), the default
    palette and, when ``column`` is None, the column (``layer.style.choropleth``). ``tooltip`` is ``True``
    (the column and the layer's first field), ``False``, or the columns to show. Missing values are drawn
    grey. Raises ValueError for an unknown or non-numeric column, data without a CRS, or no features.
    """
    if column is None:
        column = layer.style.choropleth if layer else None
        if column is None:
            raise ValueError("column: name the numeric column to colour by (the layer names none)")
    if data.crs is None:
        raise ValueError("data has no CRS; set it (e.g. data.set_crs(4326)) before mapping")
    if column not in data.columns:
        raise ValueError(f"column: {column!r} is not in the data; columns are {', '.join(map(str, data.columns))}")
    values = numeric_values(data[column], column)
    if data.empty:
        raise ValueError("nothing to map: the data has no features")

    titles = {f.name: f.title_zh for f in layer.fields} if layer else {}
    if isinstance(tooltip, bool):
        first = [layer.fields[0].name] if layer and layer.fields else []
        tooltip_columns = [c for c in dict.fromkeys([*first, column]) if c in data.columns] if tooltip else []
    else:
        missing = [c for c in tooltip if c not in data.columns]
        if missing:
            raise ValueError(f"tooltip: no column {', '.join(missing)} in the data")
        tooltip_columns = list(tooltip)

    colors = list(palette or (layer.style.palette if layer else DEFAULT_PALETTE))
    if breaks is None:
        breaks = class_breaks(values.to_numpy(dtype=float, na_value=np.nan), min(k, len(colors)), scheme)
    breaks = list(breaks)  # given: upper bounds computed elsewhere (maps.classes), the last the maximum
    # Spread the palette over the classes there are, so two classes get its two ends, not two yellows.
    picks = np.linspace(0, len(colors) - 1, len(breaks)).round().astype(int)
    class_colors = [colors[i] for i in picks]

    keep = list(dict.fromkeys([column, *tooltip_columns]))
    frame = data[[*keep, data.geometry.name]].to_crs(4326)
    frame[column] = values.astype(float)  # NaN for missing: written as null
    frame = frame.set_geometry(round_coordinates(frame.geometry, decimals))
    classes = classify(frame[column], breaks)
    frame["fill"] = [class_colors[c] if c >= 0 else NO_DATA_COLOR for c in classes]

    minx, miny, maxx, maxy = frame.total_bounds
    if m is None:
        m = local_map(location=((miny + maxy) / 2, (minx + maxx) / 2), zoom_start=13, static_url=static_url)
    border = layer.style.color if layer else "#555555"
    shape = folium.GeoJson(
        frame.to_json(drop_id=True),
        name=name or (layer.title_zh if layer else column),
        style_function=lambda feature: {
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.75,
            "color": border,
            "weight": 0.5,
        },
        highlight_function=lambda feature: {"weight": 2.5, "color": "#222222"},
    )
    if tooltip_columns:
        FieldTable(tooltip_columns, [titles.get(c, c) for c in tooltip_columns]).add_to(shape)
    shape.add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])

    if legend and breaks:
        lows: list[float | None] = [None, *breaks[:-1]]
        entries = [(color, _label(low, high)) for color, low, high in zip(class_colors, lows, breaks, strict=True)]
        if classes.eq(-1).any():
            entries.append((NO_DATA_COLOR, "无数据"))
        Legend(titles.get(column, column), entries).add_to(m)
    return m

