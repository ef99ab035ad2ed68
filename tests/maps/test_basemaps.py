"""Base maps from the setting: what each choice draws, and the settings each one needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from gis.settings import Settings
from maps.basemaps import LIGHT_LAYERS, basemap_for


def _settings(**values: object) -> Settings:
    return Settings(database_url="postgresql://unused/unused", **values)  # type: ignore[arg-type]


def test_none_asks_no_outside_tile_and_draws_the_citys_own_areas() -> None:
    base = basemap_for(_settings())
    assert (base.kind, base.url, base.light_layers) == ("none", None, LIGHT_LAYERS)


def test_tianditu_needs_its_key_and_puts_it_with_the_label_layer() -> None:
    with pytest.raises(ValueError, match="WANGGE_TIANDITU_KEY"):
        basemap_for(_settings(basemap="tianditu_vector"))
    base = basemap_for(_settings(basemap="tianditu_imagery", tianditu_key=SecretStr("k123")))
    assert base.url is not None and "LAYER=img" in base.url and "tk=k123" in base.url
    assert "LAYER=cia" in base.overlays[0]["url"]


def test_amap_is_gcj02_and_the_others_wgs84() -> None:
    assert basemap_for(_settings(basemap="amap")).datum == "gcj02"
    assert basemap_for(_settings(basemap="osm")).datum == "wgs84"


def test_mbtiles_needs_an_existing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="WANGGE_BASEMAP_MBTILES"):
        basemap_for(_settings(basemap="mbtiles", basemap_mbtiles=tmp_path / "missing.mbtiles"))
    (tmp_path / "city.mbtiles").write_bytes(b"")
    base = basemap_for(_settings(basemap="mbtiles", basemap_mbtiles=tmp_path / "city.mbtiles"))
    assert base.url == "/basemap/{z}/{x}/{y}"


def test_an_unknown_choice_is_refused_by_the_settings() -> None:
    with pytest.raises(ValueError, match="basemap"):
        _settings(basemap="google")
