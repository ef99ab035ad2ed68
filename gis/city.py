"""A new city's settings, read from its outline or boundaries: what ``wangge city init`` proposes.

Everything a deployment needs that differs between cities is a setting (:mod:`gis.settings`); this module
works out good values from the data so that a new city starts from one command:

- the region where data may lie: the file's bounds with a margin (:data:`MARGIN_SHARE`, at least
  :data:`MARGIN_MIN_DEG`), so that a file in the wrong CRS or of the wrong place is refused;
- the metric CRS: the Gauss–Krüger / UTM zone of the centre (:func:`gis.spatial.zones.metric_crs_for`);
- the time zone of the centre (the IANA database's borders, offline, by ``tzfpy``);
- the case-number prefix: the first letters of the name;
- the code scheme, as the user says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzfpy import get_tz

from gis.areas.schemes import CodeScheme
from gis.errors import InvalidInput
from gis.spatial.crs import InputDatum
from gis.spatial.readers import read_vector
from gis.spatial.validation import Region
from gis.spatial.zones import metric_crs_for

MARGIN_SHARE = 0.1  # of the file's extent, on each side
MARGIN_MIN_DEG = 0.05  # about 5 km
CASE_PREFIX = re.compile(r"^[A-Z][A-Z0-9]{0,5}$")  # as Settings.case_prefix


@dataclass(frozen=True)
class CityProposal:
    """The settings proposed for a city, and why each was chosen (one line each)."""

    name: str
    region: Region
    metric_crs: int
    timezone: str
    case_prefix: str
    code_scheme: CodeScheme
    reasons: list[str] = field(default_factory=list)

    def _name_lines(self) -> list[str]:
        return _name_lines_of(self.name)

    def env_lines(self) -> list[str]:
        """The settings as ``.env`` lines (``WANGGE_…=value``)."""
        r = self.region
        return [
            f"# Wangge settings for {self.name}, written by `wangge city init`",
            *self._name_lines(),
            f"WANGGE_REGION={r.min_lon:.4f},{r.min_lat:.4f},{r.max_lon:.4f},{r.max_lat:.4f}",
            f"WANGGE_REGION_NAME={_quoted(r.name)}",
            f"WANGGE_METRIC_CRS={self.metric_crs}",
            f"WANGGE_TIMEZONE={self.timezone}",
            f"WANGGE_CASE_PREFIX={self.case_prefix}",
            f"WANGGE_CODE_SCHEME={self.code_scheme.value}",
        ]


def _name_lines_of(name: str) -> list[str]:
    """A Chinese name goes to the zh settings and titles, any other to the English ones."""
    if re.search(r"[\u4e00-\u9fff]", name):
        return [f"WANGGE_CITY_NAME_ZH={_quoted(name)}", f"WANGGE_SITE_TITLE={_quoted(name + '网格')}"]
    return [f"WANGGE_CITY_NAME_EN={_quoted(name)}", f"WANGGE_SITE_TITLE={_quoted(name + ' Wangge')}"]


def propose_city(
    path: str | Path,
    *,
    name: str,
    code_scheme: CodeScheme = CodeScheme.cn,
    layer: str | None = None,
    crs: str | None = None,
    datum: InputDatum = InputDatum.wgs84,
    metric_crs: int | None = None,
    timezone: str | None = None,
    case_prefix: str | None = None,
) -> CityProposal:
    """Settings for a city whose outline or boundaries are in ``path`` (any vector file GDAL reads).

    ``metric_crs``, ``timezone`` and ``case_prefix`` win over what the data suggests. Raises InvalidInput
    for an unreadable file, a file without features, or an unknown time zone.
    """
    if not name.strip():
        raise InvalidInput("--name: give the city's name, e.g. --name Chicago")
    file = read_vector(path, layer=layer, crs=crs, datum=datum)
    geoms = file.frame.geometry
    if geoms.is_empty.all():
        raise InvalidInput(f"{file.source}: holds no geometry — fix: give the city's outline or boundaries")
    lon0, lat0, lon1, lat1 = (float(v) for v in geoms.total_bounds)
    margin_lon = max(MARGIN_SHARE * (lon1 - lon0), MARGIN_MIN_DEG)
    margin_lat = max(MARGIN_SHARE * (lat1 - lat0), MARGIN_MIN_DEG)
    region = Region(name.strip(), max(lon0 - margin_lon, -180.0), max(lat0 - margin_lat, -90.0),
                    min(lon1 + margin_lon, 180.0), min(lat1 + margin_lat, 90.0))
    centre_lon, centre_lat = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    reasons = [f"region: the {len(file.frame)} feature(s) of {file.source} (read as {file.source_crs}) span "
               f"{lon0:.4f}, {lat0:.4f} – {lon1:.4f}, {lat1:.4f}; {MARGIN_SHARE:.0%} added on each side"]
    if metric_crs is None:
        metric_crs = metric_crs_for(centre_lon, centre_lat)
        reasons.append(f"metric CRS: EPSG:{metric_crs}, the zone of the centre {centre_lon:.4f}, {centre_lat:.4f}")
    else:
        reasons.append(f"metric CRS: EPSG:{metric_crs}, as given")
    if timezone is None:
        timezone = get_tz(centre_lon, centre_lat) or "UTC"
        reasons.append(f"time zone: {timezone}, the zone of the centre")
    else:
        reasons.append(f"time zone: {timezone}, as given")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"--timezone {timezone!r} is not an IANA time zone — fix: e.g. America/Chicago") from None
    if case_prefix is None:
        case_prefix = case_prefix_for(name)
        reasons.append(f"case prefix: {case_prefix}, from the name (change it with --case-prefix)")
    elif not CASE_PREFIX.match(case_prefix):
        raise InvalidInput(f"--case-prefix {case_prefix!r}: 1–6 capitals or digits, a capital first — fix: e.g. CHI")
    else:
        reasons.append(f"case prefix: {case_prefix}, as given")
    reasons.append(f"code scheme: {code_scheme.value}")
    return CityProposal(name=name.strip(), region=region, metric_crs=metric_crs, timezone=timezone,
                        case_prefix=case_prefix, code_scheme=code_scheme, reasons=reasons)


def case_prefix_for(name: str) -> str:
    """Up to three capital letters from a city's name: ``Chicago`` → ``CHI``, ``New York`` → ``NY``;
    ``WG`` when the name has no Latin letters (give ``--case-prefix`` for 吉首 → ``JS``)."""
    words = re.findall(r"[A-Za-z]+", name)
    if not words:
        return "WG"
    if len(words) == 1:
        return words[0][:3].upper()
    return "".join(w[0] for w in words)[:3].upper()


def _quoted(text: str) -> str:
    return text if re.fullmatch(r"[\w.\-]+", text) else '"' + text.replace('"', "'") + '"'
