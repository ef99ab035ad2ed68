"""Maps to take away: one self-contained HTML file (opens offline, from a USB stick) and a PNG picture for a
report, of incident density or facility sharing per grid cell (or per community, subdistrict).

Both read the same layer rows as the tiles (``Layer.tile_rows`` at a zoom that gives the level asked for), so a
file's counts are the map's and the API's for the same filter. The HTML inlines Leaflet (from the vendored copy)
and the data; geometry is simplified (``SIMPLIFY_M``) and rounded (``DECIMALS``), and only the shown columns are
kept, so one subdistrict's cells stay well under a few megabytes. The picture is drawn by matplotlib in the
metric CRS, with title, legend, a scale bar and a north arrow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents.query import IncidentFilter
from gis.layers import BBox, Layer
from gis.layers.density import CELL_ZOOM, COMMUNITY_ZOOM, Level
from gis.models import AdminArea
from maps.assets import render
from maps.classes import Classes, Scheme, classify
from maps.density import build as choropleth

matplotlib.use("Agg")  # files only: no display on a server
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch

DECIMALS = 5  # about 1 m in lon/lat: invisible at any zoom a cell map is read at
SIMPLIFY_M = 1.0
ZOOM_OF_LEVEL = {Level.cell: CELL_ZOOM, Level.community: COMMUNITY_ZOOM, Level.subdistrict: COMMUNITY_ZOOM - 1}
CJK_FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei"]
_LOCAL_ASSET = re.compile(r'<(script|link)([^>]*?)(?:src|href)="(/static/[^"]+)"([^>]*)>(?:</script>)?')


@dataclass(frozen=True)
class TakeawayMap:
    """What a take-away map shows: a layer (already filtered), a field, the classes, the area's box."""

    layer: Layer
    field: str
    level: Level | None
    frame: gpd.GeoDataFrame  # EPSG:4326, the field, the tooltip fields and geometry
    classes: Classes
    title: str


def rows_for(session: Session, layer: Layer, bbox: BBox, *, level: Level | None = None,
             within: str | None = None) -> gpd.GeoDataFrame:
    """The layer's features in ``bbox`` at ``level`` (density) as a GeoDataFrame in EPSG:4326; ``within`` keeps
    the features whose code or community code starts with it (one subdistrict's or community's own)."""
    z = ZOOM_OF_LEVEL[level] if level is not None else max(layer.tile_min_zoom, CELL_ZOOM)
    frame = gpd.read_postgis(layer.tile_rows(bbox, z), session.connection(), geom_col="geom", crs=4326)
    if within:
        codes = frame["code"].astype(str)
        mine = codes.str.startswith(within)
        if "community_code" in frame:
            mine |= frame["community_code"].fillna("").astype(str).str.startswith(within)
        frame = frame[mine]
    return frame


def prepare(layer: Layer, frame: gpd.GeoDataFrame, field: str, *, scheme: Scheme | str = Scheme.quantiles,
            k: int = 5, breaks: tuple[float, ...] = (), title: str | None = None) -> TakeawayMap:
    """Classes of ``field`` over ``frame``; ValueError (naming the argument) for an unknown field or no features."""
    if frame.empty:
        raise ValueError("filters: no feature to map; widen the area or the time window")
    numeric = [f.name for f in layer.fields if f.type in {"integer", "number"}]
    if field not in numeric or field not in frame.columns:
        raise ValueError(f"field: {field!r} is not one of {', '.join(numeric)}")
    values = frame[field].astype(float).to_numpy()
    level = Level(frame["level"].iloc[0]) if "level" in frame.columns else None
    name = next((f.title_zh for f in layer.fields if f.name == field), field)
    heading = title or f"{layer.title_zh}·{name}" + (f"（{level.label_zh}）" if level else "")
    return TakeawayMap(layer, field, level, frame, classify(values, scheme, k, breaks), heading)


def _lighter(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    metric = frame.to_crs(frame.estimate_utm_crs())
    simple = metric.geometry.simplify(SIMPLIFY_M, preserve_topology=True).to_crs(4326)
    rounded = shapely.transform(simple.to_numpy(), lambda xy: np.round(xy, DECIMALS))
    return frame.set_geometry(gpd.GeoSeries(rounded, index=frame.index, crs=4326))


def inline_assets(html: str, static_dir: Path) -> str:
    """``html`` with every ``/static/…`` script and style sheet written into the page, so it needs no server."""

    def inline(match: re.Match[str]) -> str:
        tag, path = match.group(1), match.group(3)
        content = (static_dir / path.removeprefix("/static/")).read_text(encoding="utf-8")
        if tag == "script":
            return "<script>" + content.replace("</script", "<\\/script") + "</script>"
        return "<style>" + content + "</style>"

    return _LOCAL_ASSET.sub(inline, html)


def standalone_html(plan: TakeawayMap, static_dir: Path) -> str:
    """One HTML file with Leaflet and the features inlined: it opens with no network at all."""
    frame = _lighter(plan.frame)
    shown = [c for c in ("code", "name", "community_name", plan.field, "incidents", "open", "overdue",
                         "facilities_in_reach") if c in frame.columns]
    frame = frame[[*dict.fromkeys(shown), frame.geometry.name]]
    palette = plan.layer.style.palette
    m = choropleth(frame, plan.field, layer=plan.layer, palette=palette, tooltip=list(dict.fromkeys(shown)),
                   name=plan.title, decimals=DECIMALS, breaks=plan.classes.bounds)
    m.get_root().title = plan.title  # type: ignore[attr-defined]
    return inline_assets(render(m), static_dir)


def picture(plan: TakeawayMap, out: Path, *, dpi: int = 150, metric_crs: int = 4546) -> Path:
    """A PNG of the map for a report: title, legend of the classes, a scale bar and a north arrow."""
    plt.rcParams["font.sans-serif"] = [*CJK_FONTS, *plt.rcParams["font.sans-serif"]]
    plt.rcParams["axes.unicode_minus"] = False
    frame = plan.frame.to_crs(metric_crs)
    palette = list(plan.layer.style.palette)
    bounds = plan.classes.bounds
    picks = np.linspace(0, len(palette) - 1, max(len(bounds), 1)).round().astype(int)
    colors = [palette[i] for i in picks]
    index = np.minimum(np.searchsorted(np.asarray(bounds), frame[plan.field].astype(float).to_numpy(), side="left"),
                       max(len(bounds) - 1, 0))
    fig, ax = plt.subplots(figsize=(8, 8))
    frame.plot(ax=ax, color=[colors[i] if bounds else "#d9d9d9" for i in index], edgecolor="#666666",
               linewidth=0.2 if plan.level is Level.cell else 0.6)
    ax.set_axis_off()
    ax.set_title(plan.title, fontsize=15)
    lows = [plan.classes.minimum, *bounds[:-1]]
    # Classes hold (lower, upper]; the first also holds its lower bound, the minimum.
    handles = [Patch(facecolor=c, edgecolor="#999999",
                     label=f"{'' if i == 0 else '>'}{_num(lo)} – {_num(hi)}（{n}）")
               for i, (c, lo, hi, n) in enumerate(zip(colors, lows, bounds, plan.classes.counts, strict=True))]
    ax.legend(handles=handles, loc="lower right", title="图例", frameon=True, fontsize=9, title_fontsize=10)
    _scale_bar(ax)
    ax.annotate("北", xy=(0.06, 0.95), xytext=(0.06, 0.85), xycoords="axes fraction", ha="center", va="center",
                fontsize=12, arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})
    fig.savefig(out, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return out


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"


def _scale_bar(ax: Axes) -> None:
    """A bar of a round length (1, 2 or 5 × 10ⁿ m) about a fifth of the map's width, bottom left (metric axes)."""
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    target = (xmax - xmin) / 5
    power = 10 ** np.floor(np.log10(target))
    length = max(m * power for m in (1, 2, 5) if m * power <= target)
    x0, y0 = xmin + (xmax - xmin) * 0.05, ymin + (ymax - ymin) * 0.05
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=3, solid_capstyle="butt")
    label = f"{length / 1000:g} 公里" if length >= 1000 else f"{length:g} 米"
    ax.text(x0 + length / 2, y0 + (ymax - ymin) * 0.012, label, ha="center", va="bottom", fontsize=9)


KINDS = {"density": ("incident_density", "incidents"), "sharing": ("facility_sharing", "facilities_in_reach")}


def plan_for(
    session: Session,
    layers: dict[str, Layer],
    kind: str,
    *,
    filters: IncidentFilter | None = None,
    area: str | None = None,
    level: Level | str | None = None,
    field: str | None = None,
    scheme: Scheme | str = Scheme.quantiles,
    k: int = 5,
    breaks: tuple[float, ...] = (),
    radius_m: float | None = None,
    title: str | None = None,
) -> TakeawayMap:
    """Everything a take-away map of ``kind`` (density or sharing) shows, for the CLI and the API alike.

    ``area``: a subdistrict or community code: its own features only, in its box (default: the whole city).
    ``filters`` (density) is the caller's already scoped filter. InvalidInput names a bad argument."""
    if kind not in KINDS:
        raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    layer_id, default_field = KINDS[kind]
    layer = layers[layer_id]
    if layer.counts_incidents and filters is not None:
        layer = layer.filtered(filters)
    if radius_m is not None:
        if kind != "sharing":
            raise InvalidInput("radius: only the sharing map has a walking radius")
        layer = replace(layer, radius_m=radius_m)  # type: ignore[call-arg]
    try:
        chosen = Level(level) if level is not None else None
    except ValueError:
        raise InvalidInput(f"level: one of {', '.join(Level)}") from None
    if chosen is not None and kind != "density":
        raise InvalidInput("level: only the density map has levels")
    box = _box_of(session, area) if area else layers["communities"].extent(session)
    if box is None:
        raise InvalidInput(f"area: no current subdistrict or community {area!r}" if area else
                           "filters: no community is loaded yet (wangge boundaries import)")
    frame = rows_for(session, layer, box, level=chosen or (Level.cell if kind == "density" else None), within=area)
    try:
        return prepare(layer, frame, field or default_field, scheme=scheme, k=k, breaks=breaks, title=title)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _box_of(session: Session, code: str) -> BBox | None:
    extent = func.ST_Extent(AdminArea.geom)
    corners = select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent))
    row = session.execute(corners.where(AdminArea.code == code, AdminArea.valid_to.is_(None))).one()
    return None if row[0] is None else BBox(float(row[0]), float(row[1]), float(row[2]), float(row[3]))
