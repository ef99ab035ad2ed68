"""Typed settings, read from the environment (and an optional ``.env``) when asked, never at import.

``DATABASE_URL`` keeps its conventional name; everything else is ``WANGGE_*``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "WANGGE_DATABASE_URL"),
        description="PostgreSQL+PostGIS URL; unset means the private cluster under state_dir.",
    )
    state_dir: Path = Field(default=PROJECT_ROOT / ".wangge", description="Private cluster, photos, keys.")
    pg_port: int = Field(default=54329, ge=1024, le=65535, description="Port of the private cluster.")
    metric_crs: int = Field(default=4546, description="EPSG code of the metric CRS for areas and distances.")
    cell_size_m: float = Field(default=100.0, gt=5, le=2000, description="Unit grid cell edge, metres.")
    sliver_ratio: float = Field(default=0.2, ge=0, lt=1, description="Cells below this share are merged.")
    secret_key: SecretStr | None = Field(
        default=None, description="Token signing secret (≥ 32 chars); unset: a random one kept in state_dir."
    )
    token_minutes: int = Field(default=480, ge=5, le=60 * 24 * 30, description="Bearer token lifetime.")
    # -- the city: every city-specific value, Jishou's by default (a second city is configuration, not code)
    city_name_zh: str = Field(default="吉首市", max_length=40, description="The city's name, for titles.")
    city_name_en: str = Field(default="Jishou", max_length=60, description="The city's name in English.")
    site_title: str = Field(default="吉首网格", max_length=60, description="Short title of pages and APIs.")
    case_prefix: str = Field(
        default="JS", pattern=r"^[A-Z][A-Z0-9]{0,5}$",
        description="First part of public case numbers (JS-2026-000123): 1-6 capitals or digits, a capital first.",
    )
    open311_contact: str = Field(
        default="吉首市城市管理监督指挥中心 (12345 热线)", max_length=200,
        description="Who answers for the Open311 service (its discovery document's contact).",
    )
    duplicate_radius_m: float = Field(
        default=50.0, gt=0, le=1000, description="Open cases of the same category this close are possible duplicates."
    )
    snap_tolerance_m: float = Field(
        default=5.0, ge=0, le=100,
        description="A point this close to a community but in none goes to the nearest one (GPS noise, hairline "
                    "gaps between digitised boundaries); 0: no snapping.",
    )
    sharing_radius_m: float = Field(
        default=500.0, gt=0, le=5000, description="Walking radius within which a shared facility serves a cell."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Evaluation (考核评价): composite score weights and the on-site check limit; README "Evaluation (考核评价)".
    evaluation_weight_closure: float = Field(default=0.3, ge=0, le=1, description="Weight of the closure rate.")
    evaluation_weight_on_time: float = Field(default=0.4, ge=0, le=1, description="Weight of the on-time rate.")
    evaluation_weight_rework: float = Field(default=0.15, ge=0, le=1, description="Weight of 1 − rework rate.")
    evaluation_weight_check: float = Field(default=0.15, ge=0, le=1, description="Weight of check timeliness.")
    evaluation_check_hours: float = Field(
        default=2.0, gt=0, le=80, description="On-site check limit (核查时限), working hours after handling."
    )
    # -- any city (issue 15): where its data lies, its clock, its codes; `wangge city init FILE` writes them
    region: str = Field(
        default="73,3,136,54",  # DEFAULT_REGION
        description="min lon,min lat,max lon,max lat (WGS 84) where the city's data may lie; features outside are "
                    "refused as a wrong CRS or file. China by default.",
    )
    region_name: str = Field(default="China", max_length=60, description="The region's name, in messages.")
    timezone: str = Field(
        default="Asia/Shanghai", description="IANA time zone of the city: times without a zone are read in it."
    )
    code_scheme: Literal["cn", "adcode", "any"] = Field(
        default="cn",
        description="Area codes: cn (12-digit division codes), adcode (DataV 6-digit, padded), any (any unique "
                    "id per level); see gis/areas/schemes.py.",
    )
    big_areas: Literal["refuse", "long", "fit"] = Field(
        default="refuse",
        description="A community needing more than 999 cells: refuse the build, number it with a long sequence "
                    "(beyond the 15-digit standard), or fit one cell size to every community.",
    )
    # How `wangge serve` treats slow and silent clients (api.server); behind nginx, the proxy's own come first.
    header_timeout_s: float = Field(default=10.0, gt=0, le=300,
                                    description="Seconds a client has to send a request's headers.")
    body_timeout_s: float = Field(default=30.0, gt=0, le=600,
                                  description="Longest pause, in seconds, while a request's body is coming.")
    keepalive_timeout_s: int = Field(default=5, ge=1, le=300, description="Idle seconds before a kept-alive "
                                     "connection is closed.")
    max_connections: int = Field(default=1000, ge=10, le=100_000,
                                 description="Open connections and requests per process; beyond, 503 at once.")
    # -- base maps (maps.basemaps): none by default, for isolated networks
    basemap: Literal["none", "osm", "tianditu_vector", "tianditu_imagery", "amap", "mbtiles"] = Field(
        default="none",
        description="Base map under the pages: none (city outline, compounds and boundaries only), osm, "
                    "tianditu_vector / tianditu_imagery (with labels; needs tianditu_key), amap (GCJ-02: overlays "
                    "are shifted to it), mbtiles (a local file served by Wangge at /basemap/…).",
    )
    tianditu_key: SecretStr | None = Field(default=None, description="天地图 browser key, for the tianditu base maps.")
    basemap_mbtiles: Path | None = Field(default=None, description="A raster MBTiles file, for basemap=mbtiles.")
    tile_cache_mb: float = Field(
        default=64.0, ge=0, le=4096,
        description="Memory for finished vector tiles kept by each server process (0: no cache).",
    )
    tile_cache_seconds: float = Field(
        default=30.0, ge=0, le=3600,
        description="How long a cached tile is served at most; any write to the data it draws replaces it sooner.",
    )

    @field_validator("metric_crs")
    @classmethod
    def _metric_crs_is_projected_in_metres(cls, value: int) -> int:
        from pyproj import CRS

        crs = CRS.from_epsg(value)
        if not crs.is_projected or crs.axis_info[0].unit_name not in {"metre", "meter"}:
            raise ValueError(
                f"EPSG:{value} is not a projected CRS in metres; "
                "use e.g. 4546 (CGCS2000 GK CM 111E) or the data's UTM zone"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _metric_crs_auto(cls, data: Any) -> Any:
        """``WANGGE_METRIC_CRS=auto``: the Gauss–Krüger / UTM zone of the region's centre."""
        if isinstance(data, dict) and str(data.get("metric_crs", "")).strip().lower() == "auto":
            from gis.spatial.zones import metric_crs_for

            lon0, lat0, lon1, lat1 = _parse_region(str(data.get("region") or DEFAULT_REGION))
            data = {**data, "metric_crs": metric_crs_for((lon0 + lon1) / 2, (lat0 + lat1) / 2)}
        return data

    @field_validator("region")
    @classmethod
    def _region_is_a_box(cls, value: str) -> str:
        _parse_region(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone; e.g. Asia/Shanghai or America/Chicago") from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("WANGGE_SECRET_KEY must be at least 32 characters; e.g. `openssl rand -hex 32`")
        return value

    @property
    def photo_dir(self) -> Path:
        return self.state_dir / "photos"

    @property
    def region_box(self) -> tuple[float, float, float, float]:
        """The region as (min lon, min lat, max lon, max lat)."""
        return _parse_region(self.region)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULT_REGION = "73,3,136,54"


def _parse_region(text: str) -> tuple[float, float, float, float]:
    """``"min lon,min lat,max lon,max lat"`` as four floats; ValueError naming the rule it breaks."""
    parts = [p.strip() for p in text.split(",")]
    try:
        lon0, lat0, lon1, lat1 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"region {text!r} must be four numbers: min lon,min lat,max lon,max lat") from None
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        raise ValueError(f"region {text!r} is not a lon/lat box (min < max, lon within ±180, lat within ±90)")
    return lon0, lat0, lon1, lat1


@lru_cache
def get_settings() -> Settings:
    return Settings()
