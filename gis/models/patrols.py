"""Patrols (巡查记录): a grid worker's walk from "start" to "stop", as the positions the phone sent.

A patrol is personal data (where a named person was, when): it is read by the worker and the supervision
centre only, and never published as a layer or export. The route is the points in time order; the cells
covered are the cells those points fall in (``gis.people.patrols``).
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import Base
from gis.models.areas import SRID


class Patrol(Base):
    __tablename__ = "patrol"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    points: Mapped[list[PatrolPoint]] = relationship(
        back_populates="patrol", order_by="PatrolPoint.at", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ended_after_started"),
        Index("ix_patrol_user_id_started_at", "user_id", "started_at"),
    )


class PatrolPoint(Base):
    """One position the phone sent: where (WGS84), when, and how sure the phone was (metres)."""

    __tablename__ = "patrol_point"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    patrol_id: Mapped[int] = mapped_column(ForeignKey("patrol.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))
    accuracy_m: Mapped[float | None] = mapped_column(Float)

    patrol: Mapped[Patrol] = relationship(back_populates="points")

    __table_args__ = (Index("ix_patrol_point_patrol_id_at", "patrol_id", "at"),)
