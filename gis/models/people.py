"""People and teams: users with roles, enforcement teams with jurisdictions, API keys, cell assignments.

Names and phones are personal data: they never leave through exports or public layers.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import Base
from gis.models.areas import AREA_CODE_LENGTH, CELL_CODE_LENGTH


class Role(enum.StrEnum):
    grid_worker = "grid_worker"  # 网格员
    officer = "officer"  # 执法队员 (member of a team)
    supervisor = "supervisor"  # 监督中心
    planner = "planner"  # 规划/分析人员
    admin = "admin"
    unit_manager = "unit_manager"  # 共建单位管理员 (shared facilities)
    community_staff = "community_staff"  # 社区工作人员 (books facilities)


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
    area_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), primary_key=True)
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
    community_code: Mapped[str | None] = mapped_column(String(AREA_CODE_LENGTH))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    team: Mapped[Team | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "role IN ('grid_worker', 'officer', 'supervisor', 'planner', 'admin', "
            "'unit_manager', 'community_staff')",
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
        String(CELL_CODE_LENGTH), ForeignKey("grid_cell.code", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
