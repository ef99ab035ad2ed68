"""The patrol log over HTTP: a grid worker starts a patrol, the page sends positions while it is open, then
stops it; ``/patrols/day`` says what a day covered (the worker's own, or any worker's for the centre)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import CurrentUser, Id, SessionDep, forbid_extra_query
from api.schemas.common import Finite
from api.schemas.incidents import Body
from gis.people import patrols, permissions, users
from gis.people.permissions import Action

router = APIRouter(prefix="/api/v1/patrols", tags=["patrols"], dependencies=[Depends(forbid_extra_query)])


class PointIn(Body):
    lon: Finite = Field(ge=-180, le=180)
    lat: Finite = Field(ge=-90, le=90)
    at: AwareDatetime
    accuracy_m: Finite | None = Field(default=None, ge=0)


class PointsIn(Body):
    points: list[PointIn] = Field(max_length=patrols.MAX_POINTS)


class PatrolRead(BaseModel):
    id: int
    started_at: datetime
    ended_at: datetime | None


class DayRead(BaseModel):
    patrols: int
    open_patrol_id: int | None
    points: int
    distance_m: float
    cells: list[str]


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="start_patrol", summary="Start a patrol")
def start(session: SessionDep, user: CurrentUser) -> PatrolRead:
    permissions.require(user, Action.incident_create)
    patrol = patrols.start(session, user=user, now=datetime.now(UTC))
    return PatrolRead(id=patrol.id, started_at=patrol.started_at, ended_at=None)


@router.post("/{patrol_id}/points", operation_id="add_patrol_points", summary="Positions of an open patrol",
             responses={409: {"description": "The patrol was stopped: start a new one"}})
def add_points(patrol_id: Id, body: PointsIn, session: SessionDep, user: CurrentUser) -> dict[str, int]:
    patrol = patrols.own_patrol(session, user=user, patrol_id=patrol_id)
    added = patrols.add_points(session, patrol=patrol, now=datetime.now(UTC), positions=[
        patrols.Position(p.lon, p.lat, p.at, p.accuracy_m) for p in body.points])
    return {"added": added}


@router.post("/{patrol_id}/stop", operation_id="stop_patrol", summary="Stop a patrol")
def stop(patrol_id: Id, session: SessionDep, user: CurrentUser) -> PatrolRead:
    patrol = patrols.stop(session, patrol=patrols.own_patrol(session, user=user, patrol_id=patrol_id),
                          now=datetime.now(UTC))
    return PatrolRead(id=patrol.id, started_at=patrol.started_at, ended_at=patrol.ended_at)


@router.get("/day", operation_id="patrol_day", summary="What a day of patrolling covered (Beijing time)",
            responses={404: {"description": "No user of that name"}})
def day(
    session: SessionDep, user: CurrentUser,
    date: Annotated[AwareDatetime | None, Query(description="Any moment of the day; default: now")] = None,
    username: Annotated[str | None, Query(max_length=150, description="Another worker (supervision centre)")]
    = None,
) -> DayRead:
    whose = user
    if username is not None and username != user.username:
        permissions.require(user, Action.incident_read_all)  # where a named person walked: the centre only
        whose = users.get_user(session, username)
    found = patrols.day(session, user=whose, on=date or datetime.now(UTC))
    return DayRead(patrols=found.patrols, open_patrol_id=found.open_patrol_id, points=found.points,
                   distance_m=found.distance_m, cells=found.cells)
