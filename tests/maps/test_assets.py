"""maps.assets: pages that load Leaflet from Wangge and nothing from the internet."""

from __future__ import annotations

import folium

from maps.assets import LEAFLET_CSS, LEAFLET_JS, external_urls, local_map, render, use_local_assets


def test_folium_by_default_links_cdns_which_external_urls_finds() -> None:
    html = render(folium.Map(location=[28.28, 109.71], zoom_start=12))
    urls = external_urls(html)
    assert any("leaflet" in u for u in urls)
    assert any(u.startswith("https://") for u in urls)


def test_a_local_map_names_no_other_host_and_links_the_vendored_leaflet() -> None:
    html = render(local_map(location=(28.28, 109.71), zoom_start=13))
    assert external_urls(html) == []
    assert '<script src="/static/vendor/leaflet-1.9.4/leaflet.js"></script>' in html
    assert 'href="/static/vendor/leaflet-1.9.4/leaflet.css"' in html
    assert "tileLayer" not in html  # no tiles: there is no tile server to ask
    assert "jquery" not in html.lower() and "bootstrap" not in html.lower()


def test_a_local_map_page_declares_simplified_chinese_and_its_title() -> None:
    html = render(local_map(location=(28.28, 109.71), zoom_start=13, title="网格 <测试>"))
    assert html.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "<title>网格 &lt;测试&gt;</title>" in html


def test_the_static_url_prefix_is_honoured() -> None:
    html = render(local_map(location=(28.28, 109.71), zoom_start=13, static_url="/wangge/static/"))
    assert LEAFLET_JS.url("/wangge/static/") == "/wangge/static/vendor/leaflet-1.9.4/leaflet.js"
    assert 'src="/wangge/static/vendor/leaflet-1.9.4/leaflet.js"' in html


def test_local_assets_leave_folium_s_class_lists_alone() -> None:
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    m = use_local_assets(folium.Map(tiles=None))
    m.add_js_link("extra", "/static/extra.js")  # adding to the instance's list must not reach the class's
    assert folium.Map.default_js == before_js
    assert folium.Map.default_css == before_css
    assert (LEAFLET_CSS.name, LEAFLET_CSS.url()) in m.default_css


def test_external_urls_sees_urls_in_inline_script_too() -> None:
    html = '<script>L.tileLayer("https://tiles.example.org/{z}/{x}/{y}.png")</script>'
    assert external_urls(html) == ["https://tiles.example.org/{z}/{x}/{y}.png"]
