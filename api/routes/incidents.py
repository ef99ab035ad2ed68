"""Incidents over HTTP: read, list (JSON or GeoJSON), move through the handling cycle, history, duplicates and
overdue cases. Reporting one (the hot path) is ``api.routes.incident_create``, photos and bulk import are
``api.routes.incident_files``, what each caller may see is ``api.routes.incident_views``.

Updates quote the version they read, in ``If-Match`` (the ``ETag`` of a read) or a ``version`` field; a stale
one is 409 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import AwareDatetime
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import BBoxDep, CurrentUser, IdQuery, IncidentRef, PageDep, SessionDep, SettingsDep, forbid_extra_query
from api.routes import incident_files
from api.routes.incident_views import (
    GEOJSON,
    VARY,
    etag,
    expected_version,
    incident_read,
    nearby_summaries,
    read_for,
    summary,
    versioned,
    visible_incident,
)
from api.schemas.incidents import (
    DuplicatesRead,
    EventRead,
    IncidentList,
    IncidentRead,
    IncidentSummary,
    IncidentTransition,
    MarkDuplicate,
)
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.geojson import incidents_geojson
from gis.incidents.query import IncidentFilter, list_incidents
from gis.incidents.visibility import list_scope, sees_reporter
from gis.incidents.work_calendar import default_calendar
from gis.models import Incident, IncidentEvent, IncidentPhoto, Status, User
from gis.people import permissions
from gis.people.permissions import Action

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], dependencies=[Depends(forbid_extra_query)])


# -- lists ------------------------------------------------------------------------------------------------------
def _codes(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated query values, flattened (``?status=a,b&status=c``)."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


OPEN_STATUSES = [s.value for s in Status if not s.is_final]


def _statuses(values: Iterable[str] | None) -> list[str]:
    """Statuses, with ``open`` standing for every status whose case is not finished (the map's default)."""
    codes = _codes(values)
    return list(dict.fromkeys(s for code in codes for s in (OPEN_STATUSES if code == "open" else [code])))


# async: it does no I/O, and FastAPI runs a plain def dependency on a worker thread, a hop measured at ~0.25 ms
# of each list request.
async def list_filter(
    bbox: BBoxDep,
    category: Annotated[list[str] | None, Query(description="Category codes (repeat or comma-separate)")] = None,
    status_: Annotated[
        list[str] | None, Query(alias="status", description="Statuses (repeat or comma-separate); open = unfinished")
    ]
    = None,
    subdistrict: Annotated[str | None, Query(max_length=12, description="Subdistrict code")] = None,
    community: Annotated[str | None, Query(max_length=12, description="Community code")] = None,
    cell: Annotated[str | None, Query(max_length=15, description="Unit grid cell code")] = None,
    team_id: IdQuery = None,
    reported_from: Annotated[AwareDatetime | None, Query(description="Reported at or after (ISO 8601, with zone)")]
    = None,
    reported_to: Annotated[AwareDatetime | None, Query(description="Reported before")] = None,
    updated_from: Annotated[AwareDatetime | None, Query(description="Updated at or after")] = None,
    updated_to: Annotated[AwareDatetime | None, Query(description="Updated before")] = None,
    overdue: Annotated[bool | None, Query(description="Only overdue (true) or only not overdue (false)")] = None,
) -> IncidentFilter:
    return IncidentFilter(
        bbox=bbox, categories=_codes(category), statuses=_statuses(status_),
        subdistrict_code=subdistrict, community_code=community, cell_code=cell, team_id=team_id,
        reported_from=reported_from, reported_to=reported_to, updated_from=updated_from, updated_to=updated_to,
        overdue=overdue,
    )


FilterDep = Annotated[IncidentFilter, Depends(list_filter)]
Sort = Literal["reported_at", "-reported_at", "updated_at", "-updated_at", "id", "-id"]
Format = Literal["json", "geojson"]


def _scoped(user_filter: IncidentFilter, scope: IncidentFilter) -> IncidentFilter:
    return user_filter.limited_by(scope)


def _list(
    request: Request, session: Session, user: User, filters: IncidentFilter, *, sort: str, limit: int,
    offset: int, cursor: str | None, fmt: str | None,
) -> Response | IncidentList:
    scope, full = list_scope(session, user)
    filters = _scoped(filters, scope)
    wants_geojson = fmt == "geojson" or (fmt is None and GEOJSON in request.headers.get("accept", ""))
    now = datetime.now(UTC)
    if wants_geojson:
        page = incidents_geojson(session, filters, public=not full, sort=sort, limit=limit, offset=offset,
                                 cursor=cursor, now=now)
        headers = {"X-Returned": str(page.returned), "Vary": VARY}
        if page.next_cursor:
            headers["X-Next-Cursor"] = page.next_cursor
        return Response(page.geojson, media_type=GEOJSON, headers=headers)
    result = list_incidents(session, filters, sort=sort, limit=limit, offset=offset, cursor=cursor, now=now)
    items = result.items
    photos = _photos_of(session, items) if full else {}
    reporters = _reporters_of(session, user, items) if full else {}
    return IncidentList(
        items=[incident_read(i, user, full=full, now=now, photos=photos.get(i.id, []),
                             reporter=reporters.get(i.reporter_id or 0)) for i in items],
        limit=limit, offset=offset, returned=len(items), next_cursor=result.next_cursor,
    )


def _photos_of(session: Session, items: Sequence[Incident]) -> dict[int, list[IncidentPhoto]]:
    by_incident: dict[int, list[IncidentPhoto]] = {i.id: [] for i in items}
    if items:
        query = select(IncidentPhoto).where(IncidentPhoto.incident_id.in_(list(by_incident))).order_by(IncidentPhoto.id)
        for photo in session.scalars(query):
            by_incident[photo.incident_id].append(photo)
    return by_incident


def _reporters_of(session: Session, user: User, items: Sequence[Incident]) -> dict[int, User]:
    ids = {i.reporter_id for i in items if i.reporter_id is not None and sees_reporter(user, i)}
    if not ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}


_LIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {"description": "RFC 7946 FeatureCollection (format=geojson)"}}},
}


@router.get("", operation_id="list_incidents", summary="List incidents (JSON or GeoJSON), filtered and paged",
            response_model=IncidentList, responses=_LIST_RESPONSES)
def list_all(
    request: Request, session: SessionDep, user: CurrentUser, filters: FilterDep, page: PageDep,
    sort: Sort = "-reported_at",
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
    format: Annotated[Format | None, Query(description="json (default) or geojson")] = None,
) -> Any:
    return _list(request, session, user, filters, sort=sort, limit=page.limit, offset=page.offset, cursor=cursor,
                 fmt=format)


@router.get("/overdue", operation_id="list_overdue_incidents", summary="Cases past their deadline, clock running",
            response_model=IncidentList, responses=_LIST_RESPONSES)
def list_overdue(
    request: Request, session: SessionDep, user: CurrentUser, bbox: BBoxDep, page: PageDep,
    team_id: IdQuery = None,
    subdistrict: Annotated[str | None, Query(max_length=12)] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    sort: Sort = "reported_at",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    format: Annotated[Format | None, Query()] = None,
) -> Any:
    filters = IncidentFilter(bbox=bbox, overdue=True, team_id=team_id,
                             subdistrict_code=subdistrict, community_code=community)
    return _list(request, session, user, filters, sort=sort, limit=page.limit, offset=page.offset, cursor=cursor,
                 fmt=format)


@router.get("/nearby", operation_id="nearby_incidents",
            summary="Open cases of one category within the duplicate radius of a point: shown before reporting")
def nearby(
    session: SessionDep, user: CurrentUser, settings: SettingsDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude, WGS84")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude, WGS84")],
    category: Annotated[str, Query(pattern=r"^[0-9]{5}$", description="5-digit category code")],
) -> list[IncidentSummary]:
    """Nearest first, at most 50, each with its distance in metres; the same rule as the duplicates a report
    answers with (``settings.duplicate_radius_m``). Summaries only: no text, no reporter."""
    permissions.require(user, Action.incident_create)
    found = incidents.open_cases_near(session, lon=lon, lat=lat, category_code=category,
                                      radius_m=settings.duplicate_radius_m)
    return nearby_summaries(found)


# -- one incident ---------------------------------------------------------------------------------------------
@router.get("/{ref}", operation_id="get_incident", summary="One incident by id or public id (JS-2026-000123)",
            response_model=IncidentRead, responses={304: {"description": "Not modified (If-None-Match)"}})
def get_incident(
    ref: IncidentRef, response: Response, session: SessionDep, user: CurrentUser,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Any:
    incident, full = visible_incident(session, user, ref)
    if if_none_match is not None and etag(incident) in (t.strip() for t in if_none_match.split(",")):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(incident), "Vary": VARY})
    versioned(response, incident)
    return read_for(session, user, incident, full=full)


@router.post(
    "/{ref}/transitions",
    operation_id="transition_incident",
    summary="Move a case (register, dispatch, take, handle, verify, rework, close, extend, shelve, reopen, void…)",
    responses={409: {"description": "Stale version, or a move not allowed from the current status"},
               428: {"description": "No version sent"}},
)
def transition_incident(
    ref: IncidentRef, body: IncidentTransition, response: Response, session: SessionDep, user: CurrentUser,
    settings: SettingsDep,
    if_match: Annotated[str | None, Header(alias="If-Match", description="The ETag you read")] = None,
) -> IncidentRead:
    workflow.require_move_role(user, body.to)  # rights first: before the case is even looked for
    incident, _ = visible_incident(session, user, ref)
    version = expected_version(if_match, body.version)
    photos = _own_photos(session, incident, body.photo_ids)
    workflow.transition(session, incident=incident, to=body.to, actor=user, note=body.note,
                        expected_version=version, data=body.data(), photos=photos,
                        calendar=default_calendar(settings))
    session.refresh(incident, ["photos"])
    versioned(response, incident)
    return read_for(session, user, incident, full=True)


def _own_photos(session: Session, incident: Incident, ids: Sequence[int]) -> list[IncidentPhoto]:
    if not ids:
        return []
    found = {p.id: p for p in session.scalars(select(IncidentPhoto).where(IncidentPhoto.id.in_(list(ids))))}
    missing = [i for i in ids if i not in found or found[i].incident_id != incident.id]
    if missing:
        raise InvalidInput(f"photo_ids: no photo {', '.join(map(str, missing))} of incident {incident.public_id}")
    return [found[i] for i in ids]


@router.get("/{ref}/history", operation_id="incident_history", summary="Every step of a case, oldest first")
def history(ref: IncidentRef, session: SessionDep, user: CurrentUser, page: PageDep) -> list[EventRead]:
    incident, full = visible_incident(session, user, ref)
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                             .order_by(IncidentEvent.id).limit(page.limit).offset(page.offset)).all()
    photo_ids: dict[int, list[int]] = {}
    for photo in incident.photos:
        if photo.event_id is not None:
            photo_ids.setdefault(photo.event_id, []).append(photo.id)
    actors = {u.id: u.username for u in session.scalars(
        select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id is not None})))} if full else {}
    return [
        EventRead(id=e.id, at=e.at, action=e.action, from_status=e.from_status, to_status=e.to_status,
                  actor=actors.get(e.actor_id or 0), note=e.note if full else None,
                  data=e.data, photo_ids=photo_ids.get(e.id, []) if full else [])
        for e in events
    ]


# -- duplicates -----------------------------------------------------------------------------------------------
MAX_MERGED_SHOWN = 100  # a hotline can merge thousands of calls into one case; the count says how many


@router.get("/{ref}/duplicates", operation_id="incident_duplicates",
            summary="Open cases of the same category nearby, and cases already merged into this one")
def duplicates(ref: IncidentRef, session: SessionDep, user: CurrentUser) -> DuplicatesRead:
    permissions.require(user, Action.incident_read)  # the de-personalised view has no duplicates
    incident, full = visible_incident(session, user, ref)
    if not full:
        raise Forbidden(f"role {user.role} may not read duplicates (reporters' texts) of incidents")
    nearby = incidents.duplicates_with_distance(session, incident)
    merged = session.scalars(select(Incident).where(Incident.duplicate_of == incident.id)
                             .order_by(Incident.id.desc()).limit(MAX_MERGED_SHOWN)).all()
    total = session.scalar(select(func.count()).where(Incident.duplicate_of == incident.id)) or 0
    return DuplicatesRead(possible=nearby_summaries(nearby),
                          merged=[summary(i) for i in merged], merged_total=total)


@router.post("/{ref}/duplicate-of", operation_id="mark_incident_duplicate",
             summary="Merge this case into another one (作废为重复案件)")
def mark_duplicate(
    ref: IncidentRef, body: MarkDuplicate, response: Response, session: SessionDep, user: CurrentUser,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> IncidentRead:
    workflow.require_move_role(user, "mark_duplicate")
    incident, _ = visible_incident(session, user, ref)
    version = expected_version(if_match, body.version)
    try:
        original = incidents.get_or_raise(session, body.original)
    except NotFound as exc:
        raise InvalidInput(f"original: {exc}") from None
    incidents.mark_duplicate(session, incident=incident, of=original, actor=user, expected_version=version,
                             note=body.note)
    versioned(response, incident)
    return read_for(session, user, incident, full=True)


# Photos and import share the prefix; included last so that /overdue and /import win over /{ref}.
router.include_router(incident_files.router)
