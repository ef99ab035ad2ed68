from __future__ import annotations

from pathlib import Path

from gis.settings import PROJECT_ROOT, Settings
from tests.conftest import Cli

BOUNDARY = PROJECT_ROOT / "data" / "realdata" / "chicago" / "chicagoBoundary.geojson"


def test_city_init_prints_env_lines_and_says_what_it_chose(cli: Cli) -> None:
    result = cli("city", "init", BOUNDARY, "--name", "Chicago", "--code-scheme", "any")

    assert result.exit_code == 0, result.output
    assert "WANGGE_METRIC_CRS=32616" in result.stdout and "WANGGE_TIMEZONE=America/Chicago" in result.stdout
    assert "WANGGE_CODE_SCHEME=any" in result.stdout and "WANGGE_CASE_PREFIX=CHI" in result.stdout
    assert "chose metric CRS: EPSG:32616" in result.stderr


def test_city_init_writes_a_file_that_the_settings_read(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "chicago.env"

    result = cli("city", "init", BOUNDARY, "--name", "Chicago", "--out", out)

    assert result.exit_code == 0, result.output
    settings = Settings(_env_file=out)
    assert settings.metric_crs == 32616 and settings.city_name_en == "Chicago" and settings.region_name == "Chicago"
    again = cli("city", "init", BOUNDARY, "--name", "Chicago", "--out", out)
    assert again.exit_code == 1 and "exists" in again.stderr


def test_city_init_of_a_missing_file_is_a_clear_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("city", "init", tmp_path / "nope.geojson", "--name", "X")

    assert result.exit_code == 1 and "no such file" in result.stderr and "Traceback" not in result.output
