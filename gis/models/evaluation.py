"""Evaluation results kept between requests: the last hotspot analysis per grid cell, and each case's facts.

Gi* and the weekly trends are computed in Python (esda, pymannkendall) over every cell at once, so the
``incident_hotspots`` layer reads the last computation from this table rather than recomputing per map tile;
``wangge evaluation hotspots`` (or ``gis.evaluation.hotspots.refresh``) replaces its rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, Float, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gis.db import Base
from gis.models.areas import AREA_CODE_LENGTH, CELL_CODE_LENGTH

HOTSPOT_CLASSES = ("hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99")
EMERGING_CLASSES = ("intensifying", "persistent", "diminishing", "emerging", "none", "no_data")
HOTSPOT_ZH = {
    "hot_99": "热点(99%)", "hot_95": "热点(95%)", "hot_90": "热点(90%)", "not_significant": "不显著",
    "cold_90": "冷点(90%)", "cold_95": "冷点(95%)", "cold_99": "冷点(99%)",
}
# Red (hot) to blue (cold), as maps and reports draw the classes.
HOTSPOT_COLOURS = {
    "hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7", "not_significant": "#f0f0f0",
    "cold_90": "#d1e5f0", "cold_95": "#67a9cf", "cold_99": "#2166ac",
}
EMERGING_ZH = {
    "intensifying": "加剧热点", "persistent": "持续热点", "diminishing": "减弱热点", "emerging": "新兴热点",
    "none": "无", "no_data": "数据不足",
}


class IncidentHotspot(Base):
    """One cell of the last hotspot analysis (by cell code, so a rebuilt grid keeps old results readable)."""

    __tablename__ = "incident_hotspot"

    cell_code: Mapped[str] = mapped_column(String(CELL_CODE_LENGTH), primary_key=True)
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


class IncidentFact(Base):
    """What the evaluation needs of one case, read from its events once instead of at every request.

    The columns are the per-case part of the indicator statement materialised (``gis.evaluation.facts`` holds
    the one select that computes both), over *all* of the case's events; the indicators read this row for
    every case whose ``last_event_at`` precedes the moment they report on, and the events only for the
    others. The place, category, team and reporter are copies of the case's (the evaluation groups by them
    without touching the wide incident table); ``version`` is the case's version the row was computed at,
    so a refresh computed from an older snapshot never overwrites a newer one. Every write path keeps the
    row current in the transaction that writes the case or its event (``wangge evaluation rebuild-facts``
    rebuilds them all)."""

    __tablename__ = "incident_fact"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    category_code: Mapped[str] = mapped_column(String(5))
    cell_code: Mapped[str | None] = mapped_column(String(CELL_CODE_LENGTH))
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH))
    subdistrict_code: Mapped[str | None] = mapped_column(String(AREA_CODE_LENGTH))
    team_id: Mapped[int | None] = mapped_column(Integer)
    reporter_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # the target of the last event
    registered: Mapped[bool] = mapped_column(Boolean)
    dispatched: Mapped[bool] = mapped_column(Boolean)
    first_dispatch_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_handle_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_close_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handles: Mapped[int] = mapped_column(SmallInteger)
    reworks: Mapped[int] = mapped_column(SmallInteger)
    extensions: Mapped[int] = mapped_column(SmallInteger)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the one in force
    checks_made: Mapped[int] = mapped_column(SmallInteger)  # handlings followed by a check (verify or rework)
    check_delays: Mapped[list[float] | None] = mapped_column(ARRAY(Float))  # their working hours, in order
    pending_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # a handling not yet checked
    handling_hours: Mapped[float | None] = mapped_column(Float)  # first dispatch → last handling, working hours
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_incident_fact_reported_at", "reported_at"),
        Index("ix_incident_fact_last_event_at", "last_event_at"),
    )
