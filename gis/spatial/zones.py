"""The metric CRS of a place: CGCS2000 3° Gauss–Krüger inside China's bounds, WGS 84 / UTM elsewhere.

Chinese surveying and planning data use the CGCS2000 3-degree Gauss–Krüger zones (EPSG:4534 for central
meridian 75°E … EPSG:4554 for 135°E); everywhere else the UTM zone of WGS 84 is the common choice
(EPSG:326zz north, 327zz south). Either keeps scale error under 0.1 % across a city, which is what areas of
cells and distances to facilities need. ``Settings.metric_crs = "auto"`` and ``wangge city init`` both
use :func:`metric_crs_for` on the centre of the region.
"""

from __future__ import annotations

import math

GK_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E; the codes run on in steps of 3°
GK_FIRST_CM, GK_LAST_CM = 75, 135
# China's extent (lon/lat), generous: the GK zones are defined for CM 75°E…135°E.
CHINA_LON, CHINA_LAT = (73.0, 136.0), (3.0, 54.0)


def metric_crs_for(lon: float, lat: float) -> int:
    """The EPSG code of the metric CRS for a place at ``lon``, ``lat`` (degrees, WGS 84 or CGCS2000).

    >>> metric_crs_for(109.73, 28.31)  # Jishou
    4546
    >>> metric_crs_for(-87.68, 41.84)  # Chicago
    32616
    >>> metric_crs_for(151.2, -33.9)  # Sydney
    32756
    """
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValueError(f"({lon}, {lat}) is not a lon/lat position")
    if CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]:
        central = min(max(3 * round(lon / 3), GK_FIRST_CM), GK_LAST_CM)
        return GK_FIRST_EPSG + (central - GK_FIRST_CM) // 3
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone
