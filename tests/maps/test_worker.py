"""maps.worker: the grid worker's page as Folium renders it (the browser tests drive it for real)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from gis.layers import Style, registry
from gis.layers.areas import GridCellLayer
from gis.models import Status
from gis.settings import Settings
from maps.assets import external_urls, render
from maps.worker import DEFAULT_ZOOM, WorkerConfig, build_worker_map, layer_views

WORKER_JS = Path(__file__).resolve().parents[2] / "api" / "static" / "worker.js"


def _config_of(html: str) -> dict:
    match = re.search(r"WanggeWorker\.start\((map_[0-9a-f]+), (\{.*\})\);", html)
    assert match, "the page does not start worker.js"
    assert f'var {match.group(1)} = L.map(' in html  # started on the map the page creates
    return json.loads(match.group(2))


def test_the_worker_page_names_no_other_host() -> None:
    html = render(build_worker_map(center=(109.7078, 28.2805)))
    assert external_urls(html) == []


def test_the_worker_page_loads_leaflet_then_its_own_script_and_style() -> None:
    html = render(build_worker_map(center=(109.7078, 28.2805)))
    leaflet = html.index('<script src="/static/vendor/leaflet-1.9.4/leaflet.js">')
    worker = html.index('<script src="/static/worker.js">')
    assert leaflet < worker < html.index("WanggeWorker.start(")
    assert '<link rel="stylesheet" href="/static/worker.css"/>' in html


def test_the_center_is_lon_lat_and_folium_gets_lat_lon() -> None:
    html = render(build_worker_map(center=(109.7078, 28.2805), zoom=15))
    assert re.search(r"center: \[28\.2805, 109\.7078\]", html)
    assert '"zoom": 15' in html


def test_a_lat_lon_center_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not a \(lon, lat\) pair"):
        build_worker_map(center=(28.28, 109.71))  # (lat, lon) by mistake: 109.71 is no latitude


def test_the_page_is_in_simplified_chinese_with_login_and_report_forms() -> None:
    html = render(build_worker_map(center=(109.7078, 28.2805)))
    assert '<html lang="zh-CN">' in html
    labels = ("网格员登录", "用户名", "密码", "上报问题", "问题类别", "问题描述", "现场照片", "提交", "取消", "已逾期")
    for text in labels:
        assert text in html, text
    assert 'accept="image/*"' in html


def test_the_work_sheet_leads_to_the_command_map() -> None:
    # Issue 11: /map is reachable from / (read-only for a grid worker; its tiles keep to the worker's cells).
    html = render(build_worker_map(center=(109.7078, 28.2805)))
    assert re.search(r'<a [^>]*href="/map"[^>]*>指挥地图</a>', html)


def test_the_page_inlines_no_data_only_what_to_fetch() -> None:
    html = render(build_worker_map(center=(109.7078, 28.2805)))
    config = _config_of(html)
    assert config["api"] == "/api/v1"
    assert [layer["id"] for layer in config["layers"]] == ["subdistricts", "communities", "compounds", "grid_cells"]
    cells = next(layer for layer in config["layers"] if layer["id"] == "grid_cells")
    assert cells["min_zoom"] >= 15 and cells["limit"] <= 1000  # a city of cells never comes in one view
    assert "FeatureCollection" not in html


def test_a_config_and_static_prefix_reach_the_page() -> None:
    config = WorkerConfig(api="/wangge/api/v1", overdue_color="#ff0000", extra={"debug": True})
    html = render(build_worker_map(center=(109.7, 28.28), config=config, static_url="/wangge/static"))
    started = _config_of(html)
    assert started["api"] == "/wangge/api/v1"
    assert started["overdue_color"] == "#ff0000"
    assert started["debug"] is True
    assert '<script src="/wangge/static/worker.js">' in html
    assert 'src="/wangge/static/vendor/leaflet-1.9.4/leaflet.js"' in html


def test_the_title_is_escaped() -> None:
    html = render(build_worker_map(center=(109.7, 28.28), title="<b>巡查</b>"))
    assert "<b>巡查</b>" not in html
    assert "&lt;b&gt;巡查&lt;/b&gt;" in html


def test_the_page_asks_for_every_status_that_still_needs_work_and_no_final_one() -> None:
    statuses = set(_config_of(render(build_worker_map(center=(109.7, 28.28))))["open_statuses"])
    assert {"reported", "dispatched", "in_progress", "shelved"} <= statuses
    assert statuses.isdisjoint({"closed", "void", "rejected", "duplicate"})


def test_the_page_draws_the_registrys_reference_layers_in_their_own_styles() -> None:
    layers = registry(Settings())
    views = {view.id: view for view in layer_views(layers)}
    assert set(views) == {"subdistricts", "communities", "compounds", "grid_cells"}  # no statistic, no points
    for layer_id, view in views.items():
        assert (view.color, view.weight) == (layers[layer_id].style.color, layers[layer_id].style.weight)
    assert views["grid_cells"].min_zoom > views["communities"].min_zoom  # cells only once they are readable


def test_a_reference_layer_added_to_the_registry_appears_on_the_page() -> None:
    @dataclass(frozen=True)
    class Parks(GridCellLayer):
        id = "parks"
        style = Style(color="#00aa00", weight=2.0)

    layers = {**registry(Settings()), "parks": Parks()}
    parks = next(view for view in layer_views(layers) if view.id == "parks")
    assert (parks.color, parks.min_zoom) == ("#00aa00", DEFAULT_ZOOM[0])


def test_the_page_names_each_status_as_the_api_does() -> None:
    assert WorkerConfig().as_json()["status_labels"] == {s.value: s.label_zh for s in Status}
    assert "已派遣" not in WORKER_JS.read_text(encoding="utf-8")
