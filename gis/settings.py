"""Typed settings, read from the environment (and an optional ``.env``) when asked, never at import.

``DATABASE_URL`` keeps its conventional name; everything else is ``WANGGE_*``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
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
    # -- base maps (maps.basemaps): none by default, for isolated networks
    basemap: Literal["none", "osm", "tianditu_vector", "tianditu_imagery", "amap", "mbtiles"] = Field(
        default="none",
        description="Base map under the pages: none (city outline, compounds and boundaries only), osm, "
                    "tianditu_vector / tianditu_imagery (with labels; needs tianditu_key), amap (GCJ-02: overlays "
                    "are shifted to it), mbtiles (a local file served by Wangge at /basemap/…).",
    )
    tianditu_key: SecretStr | None = Field(default=None, description="天地图 browser key, for the tianditu base maps.")
    basemap_mbtiles: Path | None = Field(default=None, description="A raster MBTiles file, for basemap=mbtiles.")

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

    @field_validator("secret_key")
    @classmethod
    def _secret_is_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("WANGGE_SECRET_KEY must be at least 32 characters; e.g. `openssl rand -hex 32`")
        return value

    @property
    def photo_dir(self) -> Path:
        return self.state_dir / "photos"


@lru_cache
def get_settings() -> Settings:
    return Settings()
