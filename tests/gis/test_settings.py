from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gis.settings import Settings


def test_jishou_stays_the_default_city() -> None:
    settings = Settings(_env_file=None)

    assert settings.region_box == (73.0, 3.0, 136.0, 54.0) and settings.region_name == "China"
    assert settings.timezone == "Asia/Shanghai" and settings.metric_crs == 4546
    assert settings.code_scheme == "cn" and settings.big_areas == "refuse"


def test_an_auto_metric_crs_is_the_zone_of_the_region_centre() -> None:
    assert Settings(metric_crs="auto", region="-87.95,41.6,-87.5,42.05").metric_crs == 32616
    assert Settings(metric_crs="auto", region="109.4,28.0,110.2,28.6").metric_crs == 4546


def test_the_city_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANGGE_REGION", "-74.3,40.4,-73.6,41.0")
    monkeypatch.setenv("WANGGE_METRIC_CRS", "auto")
    monkeypatch.setenv("WANGGE_TIMEZONE", "America/New_York")
    monkeypatch.setenv("WANGGE_CODE_SCHEME", "any")

    settings = Settings(_env_file=None)

    assert settings.metric_crs == 32618 and settings.zone.key == "America/New_York"
    assert settings.code_scheme == "any"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("region", "1,2,3", "four numbers"),
        ("region", "10,5,5,10", "not a lon/lat box"),
        ("region", "-200,0,10,10", "not a lon/lat box"),
        ("timezone", "Mars/Olympus", "not an IANA time zone"),
        ("code_scheme", "nyc", "cn"),
        ("big_areas", "retry", "refuse"),
    ],
)
def test_bad_city_settings_are_refused_naming_the_rule(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**{field: value})


def test_env_lines_written_by_city_init_are_settings(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text('WANGGE_REGION=-87.8867,41.5945,-87.4741,42.0730\nWANGGE_SITE_TITLE="Chicago Wangge"\n'
                   "WANGGE_METRIC_CRS=auto\n", encoding="utf-8")

    settings = Settings(_env_file=env)

    assert settings.metric_crs == 32616 and settings.site_title == "Chicago Wangge"
