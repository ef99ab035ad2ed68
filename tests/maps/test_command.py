"""The command map page as built: the registry's layers and styles, Wangge's own assets only, no data inlined."""

from __future__ import annotations

import json
import re

from gis.layers import registry
from gis.settings import Settings
from maps import vendor
from maps.assets import external_urls, render
from maps.command import build_command_map


def _config(html: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r"WanggeMap\.start\(\w+, (\{.*\})\);", html)
    assert match, "the page starts map.js with its config"
    return json.loads(match.group(1))


def test_the_page_lists_the_registry_layers_with_their_own_styles_and_names_no_other_host() -> None:
    layers = registry(Settings(database_url="postgresql://unused/unused"))
    html = render(build_command_map(layers=layers.values(), center=(109.7, 28.3)))
    config = _config(html)
    assert [entry["id"] for entry in config["layers"]] == list(layers)
    density = next(entry for entry in config["layers"] if entry["id"] == "incident_density")
    assert density["style"]["palette"] == list(layers["incident_density"].style.palette)
    assert external_urls(html) == []
    for asset in (vendor.VECTORGRID_JS, vendor.MARKERCLUSTER_JS, vendor.HEAT_JS, vendor.FULLSCREEN_JS,
                  vendor.LOCATECONTROL_JS):
        assert asset.url() in html
    assert html.index(vendor.LEAFLET_JS.url()) < html.index(vendor.VECTORGRID_JS.url()) < html.index("/static/map.js")
    assert '<html lang="zh-CN">' in html and "指挥地图" in html
    assert len(html) < 40_000  # no features inlined: tiles and APIs bring them
