"""The store: administrative areas, compounds, unit grid cells, and who works in them.

Geometry is stored in EPSG:4326 (CGCS2000, EPSG:4490, is treated as the same datum: the two differ by
centimetres). Areas and distances are computed in the configured metric CRS, never in degrees.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
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

SRID = 4326

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


class Role(enum.StrEnum):
    grid_worker = "grid_worker"  # 网格员
    officer = "officer"  # 执法队员 (member of a team)
    supervisor = "supervisor"  # 监督中心
    planner = "planner"  # 规划/分析人员
    admin = "admin"
    unit_manager = "unit_manager"  # 共建单位管理员 (shared facilities)
    community_staff = "community_staff"  # 社区工作人员 (books facilities)


class AdminArea(Base):
    """One version of one administrative area. A re-drawn boundary closes the old row (valid_to) and
    adds a new one, so history stays queryable; the current version is the row with valid_to NULL."""

    __tablename__ = "admin_area"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(12))
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))
    valid_from: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    valid_to: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),
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
    community_code: Mapped[str] = mapped_column(String(12), index=True)
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
    """A unit grid cell (单元网格): 15-digit code = county(6) + subdistrict(3) + community(3) + seq(3)."""

    __tablename__ = "grid_cell"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(15), unique=True)
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    geom: Mapped[WKBElement] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True))
    area_m2: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    workers: Mapped[list[User]] = relationship(secondary="grid_cell_worker", viewonly=True)

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_15_digits"),
        CheckConstraint("substr(code, 1, 12) = community_code", name="code_in_community"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
    )


class Team(Base):
    """An enforcement team (城管执法中队 / 街道执法队) with its jurisdiction."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="enforcement")
    jurisdiction: Mapped[list[TeamJurisdiction]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )


class TeamJurisdiction(Base):
    """One admin area (subdistrict or community, by current code) a team answers for."""

    __tablename__ = "team_jurisdiction"

    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    team: Mapped[Team] = relationship(back_populates="jurisdiction")


class User(Base):
    """A person or machine client. Names and phones are personal data: never exported or published."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    community_code: Mapped[str | None] = mapped_column(String(12))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    team: Mapped[Team | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "role IN ('grid_worker','officer','supervisor','planner','admin','unit_manager','community_staff')",
            name="role_known",
        ),
    )


class ApiKey(Base):
    """A per-user key for machine clients; only its hash is stored, the key is shown once."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GridCellWorker(Base):
    """Which grid workers patrol which cell (by cell code, so a rebuilt grid keeps assignments)."""

    __tablename__ = "grid_cell_worker"

    cell_code: Mapped[str] = mapped_column(
        String(15), ForeignKey("grid_cell.code", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
