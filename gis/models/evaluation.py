"""Evaluation results kept between requests: the last hotspot analysis per grid cell.

Gi* and the weekly trends are computed in Python (esda, pymannkendall) over every cell at once, so the
``incident_hotspots`` layer reads the last computation from this table rather than recomputing per map tile;
``wangge evaluation hotspots`` (or ``gis.evaluation.hotspots.refresh``) replaces its rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gis.db import Base

HOTSPOT_CLASSES = ("hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99")
EMERGING_CLASSES = ("intensifying", "persistent", "diminishing", "emerging", "none", "no_data")
HOTSPOT_ZH = {
    "hot_99": "热点(99%)", "hot_95": "热点(95%)", "hot_90": "热点(90%)", "not_significant": "不显著",
    "cold_90": "冷点(90%)", "cold_95": "冷点(95%)", "cold_99": "冷点(99%)",
}
EMERGING_ZH = {
    "intensifying": "加剧热点", "persistent": "持续热点", "diminishing": "减弱热点", "emerging": "新兴热点",
    "none": "无", "no_data": "数据不足",
}


class IncidentHotspot(Base):
    """One cell of the last hotspot analysis (by cell code, so a rebuilt grid keeps old results readable)."""

    __tablename__ = "incident_hotspot"

    cell_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    incidents: Mapped[int] = mapped_column(Integer)
    gi_z: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    hotspot: Mapped[str] = mapped_column(String(16))
    trend: Mapped[str] = mapped_column(String(16))
    trend_tau: Mapped[float | None] = mapped_column(Float)
    trend_p: Mapped[float | None] = mapped_column(Float)
    emerging: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(f"hotspot IN ({', '.join(repr(c) for c in HOTSPOT_CLASSES)})", name="hotspot_known"),
        CheckConstraint(f"emerging IN ({', '.join(repr(c) for c in EMERGING_CLASSES)})", name="emerging_known"),
    )
