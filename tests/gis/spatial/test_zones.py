from __future__ import annotations

import pytest
from pyproj import CRS

from gis.spatial.zones import metric_crs_for


@pytest.mark.parametrize(
    ("lon", "lat", "epsg", "name"),
    [
        (109.73, 28.31, 4546, "CGCS2000 / 3-degree Gauss-Kruger CM 111E"),  # Jishou
        (121.47, 31.23, 4549, "CGCS2000 / 3-degree Gauss-Kruger CM 120E"),  # Shanghai
        (75.99, 39.47, 4534, "CGCS2000 / 3-degree Gauss-Kruger CM 75E"),  # Kashgar: the first zone
        (-87.68, 41.84, 32616, "WGS 84 / UTM zone 16N"),  # Chicago
        (-73.95, 40.70, 32618, "WGS 84 / UTM zone 18N"),  # New York
        (151.21, -33.87, 32756, "WGS 84 / UTM zone 56S"),  # Sydney
        (180.0, 10.0, 32660, "WGS 84 / UTM zone 60N"),  # the antimeridian stays in zone 60
    ],
)
def test_the_metric_crs_is_the_zone_of_the_place(lon: float, lat: float, epsg: int, name: str) -> None:
    assert metric_crs_for(lon, lat) == epsg
    crs = CRS.from_epsg(epsg)
    assert crs.name == name and crs.is_projected


def test_a_place_that_is_not_lon_lat_is_refused() -> None:
    with pytest.raises(ValueError, match="not a lon/lat"):
        metric_crs_for(500_000.0, 3_000_000.0)
