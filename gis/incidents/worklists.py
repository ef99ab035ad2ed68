"""Each role's work in hand, as the role pages list it: a grid worker's day, an officer team's queue.

These are views over the same rules as every list (``Incident.is_overdue``, through ``overdue_clause``, for
overdue; the workflow's statuses for what waits on whom); each list is bounded (``limit``) and sorted the way its
user works through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gis.incidents.workflow import overdue_clause
from gis.models import Incident, Status, User
from gis.models.incidents import CLOCK_STOPPED
from gis.people import users

DUE_SOON = timedelta(hours=24)
"""A running case whose deadline is nearer than this is "due soon" (临期) on the officer's queue."""


@dataclass(frozen=True)
class WorkerDay:
    """What a grid worker opens the page on: their own reports, cases in their cells handled by a team and
    waiting for their on-site check (核查), and cases in their cells past their deadline."""

    reported: list[Incident]
    to_check: list[Incident]
    overdue: list[Incident]


@dataclass(frozen=True)
class TeamQueue:
    """An officer team's cases: to take (dispatched), in progress, due soon, overdue — each by deadline."""

    to_take: list[Incident]
    in_progress: list[Incident]
    due_soon: list[Incident]
    overdue: list[Incident]


def _by_deadline(query: Select[Incident]) -> Select[Incident]:
    return query.order_by(Incident.deadline_at.asc().nulls_last(), Incident.id)


def worker_day(session: Session, user: User, *, now: datetime, limit: int = 50) -> WorkerDay:
    cells = users.user_cell_codes(session, user)
    mine = select(Incident).where(Incident.reporter_id == user.id).order_by(Incident.reported_at.desc(), Incident.id)
    in_cells = Incident.cell_code.in_(cells)
    to_check = _by_deadline(select(Incident).where(in_cells, Incident.status == Status.handled.value))
    overdue = _by_deadline(select(Incident).where(in_cells, overdue_clause(now)))
    return WorkerDay(
        reported=list(session.scalars(mine.limit(limit))),
        to_check=list(session.scalars(to_check.limit(limit))) if cells else [],
        overdue=list(session.scalars(overdue.limit(limit))) if cells else [],
    )


def team_queue(session: Session, team_id: int, *, now: datetime, limit: int = 100) -> TeamQueue:
    """The queue of ``team_id``. A case is in one of to take / in progress, and also in due soon or overdue
    when its clock says so."""
    ours = select(Incident).where(Incident.team_id == team_id)
    running = ours.where(Incident.status.not_in([s.value for s in CLOCK_STOPPED]))
    return TeamQueue(
        to_take=list(session.scalars(
            _by_deadline(ours.where(Incident.status == Status.dispatched.value)).limit(limit))),
        in_progress=list(session.scalars(
            _by_deadline(ours.where(Incident.status == Status.in_progress.value)).limit(limit))),
        due_soon=list(session.scalars(_by_deadline(running.where(
            Incident.deadline_at >= now, Incident.deadline_at < now + DUE_SOON)).limit(limit))),
        overdue=list(session.scalars(_by_deadline(running.where(overdue_clause(now))).limit(limit))),
    )


def overdue_board(session: Session, *, now: datetime, communities: Sequence[str] | None = None,
                  limit: int = 100) -> list[Incident]:
    """Running cases past their deadline, the longest overdue first (the supervision centre's board)."""
    query = select(Incident).where(overdue_clause(now))
    if communities is not None:
        query = query.where(Incident.community_code.in_(list(communities)))
    return list(session.scalars(_by_deadline(query).limit(limit)))
