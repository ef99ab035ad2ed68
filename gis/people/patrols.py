"""The patrol log (巡查记录): start and stop a patrol, the positions the phone sends while the page is open,
and what a day of patrolling covered (distance walked, cells visited).

Only the worker writes their own patrol; the worker and the supervision centre read it (``today``). A
position is a WGS84 point with its time: bad ones are refused whole (InvalidInput naming the field), and
one call takes at most ``MAX_POINTS`` of them. Distances are measured on the ellipsoid (geography).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2 import Geography
from sqlalchemy import cast, func, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.incidents.work_calendar import SHANGHAI
from gis.models import SRID, GridCell, Patrol, PatrolPoint, User

MAX_POINTS = 500
"""Positions per call: a phone sending one every 10 s for over an hour in one go."""
CLOCK_SKEW = timedelta(minutes=10)  # a phone's clock may run a little ahead


@dataclass(frozen=True)
class Position:
    lon: float
    lat: float
    at: datetime
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Day:
    """A worker's patrolling on one day (Beijing time)."""

    patrols: int
    open_patrol_id: int | None
    points: int
    distance_m: float
    cells: list[str]


def start(session: Session, *, user: User, now: datetime) -> Patrol:
    """Start a patrol; a patrol left open (the phone died) is stopped at its last position first."""
    for left in session.scalars(select(Patrol).where(Patrol.user_id == user.id, Patrol.ended_at.is_(None))):
        last = session.scalar(select(func.max(PatrolPoint.at)).where(PatrolPoint.patrol_id == left.id))
        left.ended_at = max(last or left.started_at, left.started_at)
    patrol = Patrol(user_id=user.id, started_at=now)
    session.add(patrol)
    session.flush()
    return patrol


def own_patrol(session: Session, *, user: User, patrol_id: int) -> Patrol:
    patrol = session.get(Patrol, patrol_id)
    if patrol is None:
        raise NotFound(f"no patrol {patrol_id}")
    if patrol.user_id != user.id:
        raise Forbidden(f"patrol {patrol_id} is another user's")
    return patrol


def add_points(session: Session, *, patrol: Patrol, positions: Sequence[Position], now: datetime) -> int:
    """Record ``positions`` of an open patrol; returns how many. Nothing is written when one is bad."""
    if patrol.ended_at is not None:
        raise Conflict(f"patrol {patrol.id} was stopped at {patrol.ended_at:%H:%M}; start a new one")
    if len(positions) > MAX_POINTS:
        raise InvalidInput(f"points: at most {MAX_POINTS} per call, got {len(positions)}")
    for i, p in enumerate(positions):
        if not (math.isfinite(p.lon) and -180 <= p.lon <= 180):
            raise InvalidInput(f"points[{i}].lon: {p.lon} is not a longitude")
        if not (math.isfinite(p.lat) and -90 <= p.lat <= 90):
            raise InvalidInput(f"points[{i}].lat: {p.lat} is not a latitude")
        if p.at.tzinfo is None:
            raise InvalidInput(f"points[{i}].at: give a time zone")
        if p.at < patrol.started_at - CLOCK_SKEW or p.at > now + CLOCK_SKEW:
            raise InvalidInput(f"points[{i}].at: {p.at.isoformat()} is outside the patrol")
        if p.accuracy_m is not None and not (math.isfinite(p.accuracy_m) and p.accuracy_m >= 0):
            raise InvalidInput(f"points[{i}].accuracy_m: must be a distance in metres")
    session.add_all(
        PatrolPoint(patrol_id=patrol.id, at=p.at, accuracy_m=p.accuracy_m,
                    geom=func.ST_SetSRID(func.ST_MakePoint(p.lon, p.lat), SRID))
        for p in positions
    )
    session.flush()
    return len(positions)


def stop(session: Session, *, patrol: Patrol, now: datetime) -> Patrol:
    if patrol.ended_at is None:
        session.execute(update(Patrol).where(Patrol.id == patrol.id).values(ended_at=max(now, patrol.started_at)))
        session.refresh(patrol)
    return patrol


def day(session: Session, *, user: User, on: datetime) -> Day:
    """The patrols ``user`` started on the Beijing day of ``on``: how many, points, metres, cells visited."""
    local = on.astimezone(SHANGHAI)
    lo = datetime(local.year, local.month, local.day, tzinfo=SHANGHAI)
    hi = lo + timedelta(days=1)
    # The day's patrols stay in SQL (a subquery), never a list in memory: a worker who starts and stops all
    # day costs this answer no more than one who patrols once.
    todays = (Patrol.user_id == user.id, Patrol.started_at >= lo, Patrol.started_at < hi)
    count, still_open = session.execute(select(
        func.count(), func.max(Patrol.id).filter(Patrol.ended_at.is_(None))).where(*todays)).one()
    if not count:
        return Day(0, None, 0, 0.0, [])
    ids = select(Patrol.id).where(*todays).scalar_subquery()
    points = session.scalar(select(func.count()).where(PatrolPoint.patrol_id.in_(ids))) or 0
    lines = (select(func.ST_MakeLine(aggregate_order_by(PatrolPoint.geom, PatrolPoint.at)).label("line"))
             .where(PatrolPoint.patrol_id.in_(ids)).group_by(PatrolPoint.patrol_id).subquery())
    metres = session.scalar(select(func.coalesce(func.sum(func.ST_Length(cast(lines.c.line, Geography))), 0.0)))
    visited = select(PatrolPoint.geom).where(PatrolPoint.patrol_id.in_(ids)).subquery()
    cells = list(session.scalars(
        select(GridCell.code).join(visited, func.ST_Intersects(GridCell.geom, visited.c.geom))
        .group_by(GridCell.code).order_by(GridCell.code).limit(1000)))
    return Day(int(count), still_open, int(points), round(float(metres or 0.0), 1), cells)
