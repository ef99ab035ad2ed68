"""The grid worker's map page (网格员巡查地图): their cells, open and overdue incidents, and reporting a new
incident by tapping the map.

The page is a Folium map with no data inlined: ``WorkerApp`` adds the page's controls (log-in form, top
bar, legend, report sheet) and starts ``/static/worker.js``, which logs in against the API and fetches
the layers and incidents of the current view as the worker pans (inlining a city of cells would stall a
phone). Every user text reaches the screen through ``textContent``.

Coordinates: ``center`` is ``(lon, lat)`` in WGS84 like everything else in Wangge (Folium's own
``location`` is ``(lat, lon)``; this module does the swap).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

from gis.layers import Layer, registry
from gis.models.incidents import FINAL_STATUSES, Status
from gis.settings import Settings
from maps.assets import DEFAULT_STATIC_URL, local_map
from maps.vendor import HTMX_JS, IDB_KEYVAL_JS

TITLE = "网格巡查"
OPEN_STATUSES = tuple(s.value for s in Status if s not in FINAL_STATUSES)


@dataclass(frozen=True)
class LayerView:
    """A layer the page draws, from which zoom on, with how many features at most per view."""

    id: str
    min_zoom: int
    limit: int
    color: str
    weight: float
    fill_opacity: float


# From which zoom on, and how many features at most, the page draws a layer of the registry. Boundaries are
# few and always drawn; cells and compounds only once the view is small enough for them to be readable (a
# 100 m cell is ~24 px wide at zoom 15 in Jishou). A reference layer added to the registry and not named here
# is drawn from zoom 15 on.
ZOOMS: Mapping[str, tuple[int, int]] = {
    "subdistricts": (9, 200), "communities": (9, 500), "compounds": (16, 500), "grid_cells": (15, 1000),
}
DEFAULT_ZOOM = (15, 500)


def is_reference(layer: Layer) -> bool:
    """A layer the worker patrols by: polygons that are not a statistic (a choropleth) — boundaries,
    compounds, cells. Incidents have their own layer on the page; facilities are the unit managers'."""
    return layer.geometry_type in ("Polygon", "MultiPolygon") and layer.style.choropleth is None


def layer_views(layers: Mapping[str, Layer]) -> tuple[LayerView, ...]:
    """The page's layers, in the registry's order, drawn in each layer's own default style."""
    views = []
    for layer in layers.values():
        if not is_reference(layer):
            continue
        min_zoom, limit = ZOOMS.get(layer.id, DEFAULT_ZOOM)
        style = layer.style
        # Outlines only: a filled polygon would hide the cells and incidents under it on a small screen.
        views.append(LayerView(layer.id, min_zoom, limit, style.color, style.weight, min(style.fill_opacity, 0.12)))
    return tuple(views)


def _default_layers() -> tuple[LayerView, ...]:
    return layer_views(registry(Settings()))


@dataclass(frozen=True)
class WorkerConfig:
    """What ``worker.js`` is started with (serialised to JSON into the page)."""

    api: str = "/api/v1"
    layers: tuple[LayerView, ...] = field(default_factory=_default_layers)
    # One source for status names on the page and in the API (``status_label``): ``Status.label_zh``.
    status_labels: dict[str, str] = field(default_factory=lambda: {s.value: s.label_zh for s in Status})
    # "Open" is every status whose case still needs work; the page asks for them by name.
    open_statuses: tuple[str, ...] = OPEN_STATUSES
    incident_limit: int = 500
    incident_min_zoom: int = 13
    own_cell_color: str = "#1f6fd1"
    open_color: str = "#f28e2b"
    overdue_color: str = "#d62728"
    storage_key: str = "wangge.worker"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(data.pop("extra"))
        return data


class WorkerApp(MacroElement):
    """The page's controls and the call that starts ``worker.js`` on the Folium map.

    Adds ``worker.css``/``worker.js`` (under ``static_url``) to the page header, the control markup to
    the body, and ``WanggeWorker.start(map, config)`` after the map is created.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <link rel="stylesheet" href="{{ this.static_url }}/worker.css"/>
        <link rel="stylesheet" href="{{ this.static_url }}/pages.css"/>
        <script src="{{ this.htmx_url }}"></script>
        <script src="{{ this.idb_url }}"></script>
        <script src="{{ this.static_url }}/pages.js"></script>
        <script src="{{ this.static_url }}/datum.js"></script>
        <script src="{{ this.static_url }}/basemap.js"></script>
        <script src="{{ this.static_url }}/worker.js"></script>
        <script src="{{ this.static_url }}/worker_outbox.js"></script>
        <script src="{{ this.static_url }}/worker_patrol.js"></script>
        {% endmacro %}

        {% macro html(this, kwargs) %}
        <header class="wg-bar" id="wg-bar">
          <span class="wg-title">{{ this.title | e }}</span>
          <span class="wg-user" id="wg-user"></span>
          <button type="button" class="wg-link" id="wg-work-open" hidden>我的工作</button>
          <button type="button" class="wg-link" id="wg-mine" hidden>我的网格</button>
          <button type="button" class="wg-link" id="wg-logout" hidden>退出</button>
        </header>
        <div class="wg-status" id="wg-status" role="status" aria-live="polite" hidden></div>
        <div class="wg-legend" id="wg-legend">
          <span><i class="wg-swatch wg-swatch-cell"></i>我的网格</span>
          <span><i class="wg-dot wg-dot-open"></i>待办</span>
          <span><i class="wg-dot wg-dot-overdue"></i>已逾期</span>
          <button type="button" class="wg-chip" id="wg-patrol" hidden>开始巡查</button>
          <span class="wg-patrol-state" id="wg-patrol-state"></span>
          <span class="wg-hint" id="wg-hint">点击地图上报问题</span>
        </div>

        <section class="wg-work" id="wg-work" hidden aria-label="我的工作">
          <div class="wg-work-head"><h2>我的工作</h2>
            <a class="wg-secondary" id="wg-map-link" href="/map">指挥地图</a>
            <button type="button" class="wg-secondary" id="wg-work-close">收起</button></div>
          <div id="wg-case" class="wg-casebox"></div>
          <div id="wg-work-list" hx-get="/app/work" hx-trigger="wg-work from:body, wg-changed from:body"></div>
        </section>

        <div class="wg-overlay" id="wg-login" hidden>
          <form class="wg-card" id="wg-login-form" autocomplete="on">
            <h1>网格员登录</h1>
            <label>用户名<input name="username" autocomplete="username" autocapitalize="none" required></label>
            <label>密码<input name="password" type="password" autocomplete="current-password" required></label>
            <p class="wg-error" id="wg-login-error" role="alert"></p>
            <button type="submit" class="wg-primary">登录</button>
          </form>
        </div>

        <div class="wg-sheet" id="wg-report" hidden>
          <form class="wg-card" id="wg-report-form">
            <h2>上报问题</h2>
            <p class="wg-muted" id="wg-report-where"></p>
            <label>问题类别
              <input type="search" id="wg-category-filter" placeholder="输入关键字筛选，如“井盖”">
              <select name="category" id="wg-category" required></select>
            </label>
            <label>问题描述<textarea name="description" rows="3" maxlength="4000"
              placeholder="简要描述现场情况"></textarea></label>
            <label class="wg-file">现场照片（可选）
              <input type="file" name="photo" accept="image/*" capture="environment" class="wg-file-input">
              <span class="wg-file-row"><span class="wg-file-button">拍照或选择照片</span>
                <span class="wg-file-name" id="wg-photo-name">未选择照片</span></span>
            </label>
            <div class="wg-nearby" id="wg-nearby" hidden>
              <p class="wg-muted" id="wg-nearby-title"></p>
              <ul id="wg-nearby-list"></ul>
            </div>
            <p class="wg-error" id="wg-report-error" role="alert"></p>
            <div class="wg-actions">
              <button type="button" class="wg-secondary" id="wg-report-cancel">取消</button>
              <button type="submit" class="wg-primary" id="wg-report-submit">提交</button>
            </div>
          </form>
        </div>
        {% endmacro %}

        {% macro script(this, kwargs) %}
        WanggeWorker.start({{ this._parent.get_name() }}, {{ this.config | tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, config: WorkerConfig, *, static_url: str = DEFAULT_STATIC_URL, title: str = TITLE) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's elements are untyped
        self._name = "WorkerApp"
        self.config = config.as_json()
        self.static_url = static_url.rstrip("/")
        self.htmx_url = HTMX_JS.url(self.static_url)
        self.idb_url = IDB_KEYVAL_JS.url(self.static_url)
        self.title = title


def build_worker_map(
    *,
    center: Sequence[float],
    zoom: int = 14,
    config: WorkerConfig | None = None,
    static_url: str = DEFAULT_STATIC_URL,
    title: str = TITLE,
) -> folium.Map:
    """The grid worker page as a Folium map, ready for ``m.get_root().render()``.

    ``center`` is ``(lon, lat)`` in WGS84: where the page opens before the worker logs in (after log-in
    it moves to the worker's communities, or to the view the worker last used on this phone). Nothing is
    fetched at build time: the page asks the API for what its view shows.
    """
    lon, lat = center
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"center: ({lon}, {lat}) is not a (lon, lat) pair in WGS84")
    m = local_map(
        location=(lat, lon),
        zoom_start=zoom,
        title=title,
        static_url=static_url,
        prefer_canvas=False,  # SVG paths: each cell and incident is a DOM node the tests (and screen readers) see
        # worker.js puts zoom and a metric scale bottom-right, away from the top bar and within thumb reach.
        zoom_control=False,
        control_scale=False,
    )
    WorkerApp(config or WorkerConfig(), static_url=static_url, title=title).add_to(m)
    return m
