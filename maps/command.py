"""The command map (指挥地图) at ``/map``: incident density and facility sharing per grid cell, incident points
and heat, facilities, boundaries — for the supervision centre's big screen, leaders, planners, and grid workers
and officers on a phone.

A Folium page that inlines no data: ``CommandApp`` links the vendored plugins and ``/static/map.js``, which logs
in against the API and draws every polygon layer from the vector tiles (``/tiles/…``, Leaflet.VectorGrid), the
class bounds of the choropleths from ``/api/v1/map/classes`` (computed server-side for the filter and view),
and points from the incident and layer APIs for the view only. The layer list, titles, fields and styles are
the registry's (``Layer.describe()``), written into the page once: the page keeps no second copy.

Coordinates: ``center`` is ``(lon, lat)`` in WGS84 like everything else in Wangge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

from gis.layers import Layer
from gis.layers.density import CELL_ZOOM, COMMUNITY_ZOOM, Level
from gis.models.incidents import FINAL_STATUSES, Status
from maps import vendor
from maps.assets import DEFAULT_STATIC_URL, Asset, local_map
from maps.classes import MAX_CLASSES, Scheme

TITLE = "指挥地图"
OPEN_STATUSES = tuple(s.value for s in Status if s not in FINAL_STATUSES)
SCRIPTS: tuple[Asset, ...] = (vendor.VECTORGRID_JS, vendor.MARKERCLUSTER_JS, vendor.HEAT_JS, vendor.FULLSCREEN_JS,
                              vendor.LOCATECONTROL_JS)
STYLES: tuple[Asset, ...] = (vendor.MARKERCLUSTER_CSS, vendor.MARKERCLUSTER_DEFAULT_CSS, vendor.FULLSCREEN_CSS,
                             vendor.LOCATECONTROL_CSS)
# What a density choropleth may be coloured by: fields of the density layer.
MEASURES = (("incidents", "案件数"), ("per_km2", "每平方公里"), ("per_1000_households", "每千户"))
STATUS_LABELS = {s.value: s.label_zh for s in Status}


@dataclass(frozen=True)
class CommandConfig:
    """What ``map.js`` starts with (serialised to JSON into the page)."""

    layers: list[dict[str, Any]]  # Layer.describe() of every registered layer, plus its tile zoom
    api: str = "/api/v1"
    tiles: str = "/tiles"
    basemap: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})
    sharing_radius_m: float = 500.0
    levels: dict[str, int] = field(default_factory=lambda: {Level.community.value: COMMUNITY_ZOOM,
                                                            Level.cell.value: CELL_ZOOM})
    level_labels: dict[str, str] = field(default_factory=lambda: {lv.value: lv.label_zh for lv in Level})
    measures: tuple[tuple[str, str], ...] = MEASURES
    schemes: tuple[tuple[str, str], ...] = tuple((s.value, s.label_zh) for s in Scheme)
    max_classes: int = MAX_CLASSES
    open_statuses: tuple[str, ...] = OPEN_STATUSES
    status_labels: dict[str, str] = field(default_factory=lambda: dict(STATUS_LABELS))
    incident_limit: int = 1000
    min_zoom: int = 9
    max_zoom: int = 19
    incident_min_zoom: int = 13
    storage_key: str = "wangge.worker"  # the same kept log-in as / and the role pages (pages.js, worker.js)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


def layer_entries(layers: Iterable[Layer]) -> list[dict[str, Any]]:
    """The registry as the page needs it: each layer's own description and style, and its tiles' first zoom."""
    return [{**layer.describe(), "tile_min_zoom": layer.tile_min_zoom, "counts_incidents": layer.counts_incidents}
            for layer in layers]


class CommandApp(MacroElement):
    """The page's controls and the call that starts ``map.js`` on the Folium map."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        {% for href in this.styles %}<link rel="stylesheet" href="{{ href }}"/>
        {% endfor %}<link rel="stylesheet" href="{{ this.static_url }}/map.css"/>
        {% endmacro %}

        {% macro html(this, kwargs) %}
        <header class="cm-bar" id="cm-bar">
          <span class="cm-title">{{ this.title | e }}</span>
          <button type="button" class="cm-link" id="cm-filters-toggle" aria-expanded="false">筛选</button>
          <span class="cm-user" id="cm-user"></span>
          <button type="button" class="cm-link" id="cm-logout" hidden>退出</button>
        </header>
        <form class="cm-filters" id="cm-filters" hidden>
          <label>时间
            <select name="window" id="cm-window">
              <option value="7d">近7天</option><option value="30d">近30天</option>
              <option value="quarter">本季度</option><option value="year">本年</option>
              <option value="365d">近一年</option><option value="custom">自定义</option>
            </select></label>
          <span class="cm-custom" id="cm-custom" hidden>
            <input type="date" name="from" id="cm-from" aria-label="开始日期">–<input type="date" name="to"
              id="cm-to" aria-label="结束日期"></span>
          <label>大类<select name="major" id="cm-major"><option value="">全部</option></select></label>
          <label>小类<select name="category" id="cm-category"><option value="">全部</option></select></label>
          <label>状态<select name="status" id="cm-status">
            <option value="">全部</option><option value="open">未结案</option>
            <option value="closed">已结案</option><option value="overdue">超期</option></select></label>
          <label>街道<select name="subdistrict" id="cm-subdistrict"><option value="">全部</option></select></label>
          <label>社区<select name="community" id="cm-community"><option value="">全部</option></select></label>
          <label>指标<select name="measure" id="cm-measure"></select></label>
          <label>分级<select name="scheme" id="cm-scheme"></select></label>
          <label>级数<input type="number" name="k" id="cm-k" min="2" max="{{ this.max_classes }}" value="5"></label>
          <label id="cm-breaks-label" hidden>断点<input name="breaks" id="cm-breaks" placeholder="如 1,5,10,20"></label>
          <label>服务半径(米)<input type="number" name="radius" id="cm-radius" min="50" max="3000" step="50"></label>
          <p class="cm-error" id="cm-filter-error" role="alert"></p>
        </form>
        <div class="cm-message" id="cm-message" role="status" aria-live="polite" hidden></div>
        <div class="cm-overlay" id="cm-login" hidden>
          <form class="cm-card" id="cm-login-form" autocomplete="on">
            <h1>登录指挥地图</h1>
            <label>用户名<input name="username" autocomplete="username" autocapitalize="none" required></label>
            <label>密码<input name="password" type="password" autocomplete="current-password" required></label>
            <p class="cm-error" id="cm-login-error" role="alert"></p>
            <button type="submit" class="cm-primary">登录</button>
          </form>
        </div>
        {% endmacro %}

        {% macro script(this, kwargs) %}
        WanggeMap.start({{ this._parent.get_name() }}, {{ this.config | tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, config: CommandConfig, *, static_url: str = DEFAULT_STATIC_URL, title: str = TITLE) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's elements are untyped
        self._name = "CommandApp"
        self.config = config.as_json()
        self.static_url = static_url.rstrip("/")
        self.title = title
        self.max_classes = MAX_CLASSES
        self.styles = [asset.url(static_url) for asset in STYLES]


def build_command_map(
    *,
    layers: Iterable[Layer],
    center: Sequence[float],
    zoom: int = 13,
    config: CommandConfig | None = None,
    static_url: str = DEFAULT_STATIC_URL,
    title: str = TITLE,
    basemap: dict[str, Any] | None = None,
    sharing_radius_m: float = 500.0,
) -> folium.Map:
    """The command map page, ready for ``m.get_root().render()``. ``center`` is ``(lon, lat)`` in WGS84: where
    the page opens unless its URL names a view. Nothing is fetched at build time."""
    lon, lat = center
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"center: ({lon}, {lat}) is not a (lon, lat) pair in WGS84")
    m = local_map(location=(lat, lon), zoom_start=zoom, title=title, static_url=static_url, control_scale=False,
                  max_zoom=19)
    # The plugins extend the global L, so they load after Leaflet (Folium's default_js), before the page's script.
    m.default_js = [*m.default_js, *((a.name, a.url(static_url)) for a in SCRIPTS),
                    ("wangge_datum", f"{static_url.rstrip('/')}/datum.js"),
                    ("wangge_basemap", f"{static_url.rstrip('/')}/basemap.js"),
                    ("wangge_map", f"{static_url.rstrip('/')}/map.js")]
    config = config or CommandConfig(layers=layer_entries(layers), basemap=basemap or {"kind": "none"},
                                     sharing_radius_m=sharing_radius_m)
    CommandApp(config, static_url=static_url, title=title).add_to(m)
    return m
