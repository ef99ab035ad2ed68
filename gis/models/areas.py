"""Administrative areas, compounds and unit grid cells.

Geometry is stored in EPSG:4326 (CGCS2000, EPSG:4490, is treated as the same datum: the two differ by
centimetres). Areas and distances are computed in the configured metric CRS, never in degrees.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import Base

if TYPE_CHECKING:
    from gis.models.people import User

SRID = 4326
AREA_CODE_LENGTH = 40  # 12-digit division codes, or any id of the ``any`` scheme (gis.areas.schemes)
CELL_CODE_LENGTH = 48  # an area code, a separator and up to seven digits
CODE_TOKEN = "^[0-9A-Za-z][0-9A-Za-z_.-]*$"

Base.metadata.naming_convention = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
).naming_convention


class AdminLevel(enum.StrEnum):
    """Levels of the administrative hierarchy, top down; the value is what the database stores."""

    prefecture = "prefecture"  # 州 / 地级
    city = "city"  # 市 / 县级
    subdistrict = "subdistrict"  # 街道 / 乡镇
    community = "community"  # 社区 / 村

    @property
    def rank(self) -> int:
        return list(AdminLevel).index(self)

    @property
    def label_zh(self) -> str:
        return {"prefecture": "州", "city": "市", "subdistrict": "街道", "community": "社区"}[self.value]


class AdminArea(Base):
    """One version of one administrative area. A re-drawn boundary closes the old row (valid_to) and
    adds a new one, so history stays queryable; the current version is the row with valid_to NULL."""

    __tablename__ = "admin_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH))
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(AREA_CODE_LENGTH))
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))
    valid_from: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Which codes are good is the code scheme's rule (gis.areas.schemes), checked on import.
        CheckConstraint(f"code ~ '{CODE_TOKEN}'", name="code_token"),
        CheckConstraint("level IN ('prefecture','city','subdistrict','community')", name="level_known"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_ordered"),
        Index("uq_admin_area_current_code", "code", unique=True, postgresql_where="valid_to IS NULL"),
        Index("ix_admin_area_parent_code", "parent_code"),
    )


class Compound(Base):
    """A residential compound (小区) inside one community."""

    __tablename__ = "compound"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    households: Mapped[int | None] = mapped_column(Integer)
    property_company: Mapped[str | None] = mapped_column(String(200))
    built_year: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))

    __table_args__ = (
        UniqueConstraint("community_code", "name", name="uq_compound_community_name"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_non_negative"),
    )


class GridCell(Base):
    """A unit grid cell (单元网格): 15-digit code = county(6) + subdistrict(3) + community(3) + seq(3) in the
    national scheme; the community's code and a number in the others (gis.areas.schemes)."""

    __tablename__ = "grid_cell"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(CELL_CODE_LENGTH), unique=True)
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), index=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))
    area_m2: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    workers: Mapped[list[User]] = relationship(secondary="grid_cell_worker", viewonly=True)

    __table_args__ = (
        CheckConstraint(f"code ~ '{CODE_TOKEN}'", name="code_token"),
        CheckConstraint("left(code, char_length(community_code)) = community_code "
                        "AND char_length(code) > char_length(community_code)", name="code_in_community"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
    )


