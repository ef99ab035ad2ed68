"""Typed settings, read from the environment (and an optional ``.env``) when asked, never at import.

``DATABASE_URL`` keeps its conventional name; everything else is ``WANGGE_*``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

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
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

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
