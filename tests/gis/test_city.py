from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from gis.areas.schemes import CodeScheme
from gis.city import case_prefix_for, propose_city
from gis.errors import InvalidInput
from gis.settings import PROJECT_ROOT, Settings
from gis.spatial.crs import InputDatum

REALDATA = PROJECT_ROOT / "data" / "realdata"


def test_chicago_gets_its_utm_zone_time_zone_and_a_region_around_it() -> None:
    proposal = propose_city(REALDATA / "chicago" / "chicagoBoundary.geojson", name="Chicago",
                            code_scheme=CodeScheme.any)

    assert proposal.metric_crs == 32616 and proposal.timezone == "America/Chicago"
    assert proposal.case_prefix == "CHI" and proposal.code_scheme is CodeScheme.any
    region = proposal.region
    lon0, lat0, lon1, lat1 = gpd.read_file(REALDATA / "chicago" / "chicagoBoundary.geojson").total_bounds
    margin_lon, margin_lat = max(0.1 * (lon1 - lon0), 0.05), max(0.1 * (lat1 - lat0), 0.05)  # at least ~5 km
    assert region.min_lon == pytest.approx(lon0 - margin_lon) and region.max_lon == pytest.approx(lon1 + margin_lon)
    assert region.min_lat == pytest.approx(lat0 - margin_lat) and region.max_lat == pytest.approx(lat1 + margin_lat)
    assert any("metric CRS: EPSG:32616" in r for r in proposal.reasons)


def test_jishou_from_its_gcj02_outline_gets_the_gauss_kruger_zone(tmp_path: Path) -> None:
    proposal = propose_city(REALDATA / "jishou" / "433101.json", name="吉首市", datum=InputDatum.gcj02,
                            case_prefix="JS")

    assert proposal.metric_crs == 4546 and proposal.timezone == "Asia/Shanghai"
    env = tmp_path / ".env"
    env.write_text("\n".join(proposal.env_lines()), encoding="utf-8")
    settings = Settings(_env_file=env)
    assert settings.city_name_zh == "吉首市" and settings.case_prefix == "JS" and settings.code_scheme == "cn"
    lon0, lat0, lon1, lat1 = settings.region_box
    assert lon0 < 109.51 and lon1 > 110.05 and lat0 < 28.14 and lat1 > 28.47


def test_what_the_user_gives_wins_over_what_the_data_suggests() -> None:
    proposal = propose_city(REALDATA / "chicago" / "chicagoBoundary.geojson", name="Chicago", metric_crs=26971,
                            timezone="America/New_York", case_prefix="CPD")

    assert (proposal.metric_crs, proposal.timezone, proposal.case_prefix) == (26971, "America/New_York", "CPD")


@pytest.mark.parametrize(("options", "message"), [
    ({"timezone": "Nowhere/City"}, "not an IANA time zone"),
    ({"case_prefix": "chi"}, "capitals"),
    ({"name": " "}, "--name"),
])
def test_bad_choices_are_refused_naming_the_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        propose_city(REALDATA / "chicago" / "chicagoBoundary.geojson", **{"name": "Chicago", **options})


@pytest.mark.parametrize(("name", "prefix"), [("Chicago", "CHI"), ("New York", "NY"), ("吉首市", "WG")])
def test_the_case_prefix_comes_from_the_name(name: str, prefix: str) -> None:
    assert case_prefix_for(name) == prefix
