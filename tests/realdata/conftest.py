"""Chicago as a user would set it up: the settings `wangge city init` proposes, the real files of
data/realdata/chicago, and the `wangge` CLI running in the test transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from api.cli.runtime import Runtime, console, err_console
from gis.settings import PROJECT_ROOT, Settings
from tests.conftest import Cli

CHICAGO = PROJECT_ROOT / "data" / "realdata" / "chicago"
NEIGHBOURHOODS = CHICAGO / "chicagoNhoods.geojson"
BOUNDARY = CHICAGO / "chicagoBoundary.geojson"
ABANDONED_CARS = CHICAGO / "abandoned_cars.zip"


@pytest.fixture
def chicago_settings(tmp_path: Path) -> Settings:
    """Chicago's deployment: region and zone of its neighbourhoods, any-id codes, no snapping."""
    return Settings(
        _env_file=None, database_url="postgresql://unused/unused", state_dir=tmp_path / "state",
        region="-88.0,41.6,-87.5,42.1", region_name="Chicago", metric_crs="auto", timezone="America/Chicago",
        case_prefix="CHI", code_scheme="any", snap_tolerance_m=0, city_name_en="Chicago",
    )


@pytest.fixture
def chicago_cli(chicago_settings: Settings, sessions: sessionmaker[Session]) -> Cli:
    return Cli(Runtime(settings=chicago_settings, sessions=sessions))


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    """Table cells wrap at the terminal width; a wide console keeps each message on one line for asserts."""
    console.width = err_console.width = 400
    yield
    console.width = err_console.width = None  # type: ignore[assignment]
