"""Incidents over HTTP: report, read, list (JSON or GeoJSON), move through the handling cycle, history,
duplicates and overdue cases; photos and bulk import are ``api.routes.incident_files``, what each caller may
see is ``api.routes.incident_views``.

Updates quote the version they read, in ``If-Match`` (the ``ETag`` of a read) or a ``version`` field; a stale
one is 409 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import (
    BBoxDep,
    Credentials,
    CurrentUser,
    PageDep,
    RequiredCredentials,
    SessionDep,
    forbid_extra_query,
    user_for,
)
from api.routes import incident_files
from api.routes.incident_views import (
    GEOJSON,
    VARY,
    body_error,
    etag,
    expected_version,
    full_view,
    incident_read,
    list_scope,
    load_incident,
    max_photo_bytes,
    read_for,
    sees_reporter,
    summary,
    versioned,
)
from api.schemas.incidents import (
    MAX_PHOTOS,
    DuplicatesRead,
    EventRead,
    IncidentCreate,
    IncidentCreated,
    IncidentList,
    IncidentRead,
    IncidentTransition,
    MarkDuplicate,
)
from gis import incident_report, incidents, permissions, workflow
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.incident_query import STAFF_PROPERTIES, IncidentFilter, incidents_geojson, list_incidents
from gis.models import Incident, IncidentEvent, IncidentPhoto, Status, User
from gis.permissions import Action

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], dependencies=[Depends(forbid_extra_query)])


# -- create ---------------------------------------------------------------------------------------------------
# A create is the hot path (phones in the field, 12345 imports): its database work, from looking up the caller
# to the commit, runs in one worker-thread hop, and its response is serialised once, there. Errors keep the
# order they have on every other route: credentials (401), reading the body (415/422), the Idempotency-Key
# header (422), the role (403), then the report itself (422).
class CreateRequest:
    """A create as it arrived: the checked fields and the raw bytes of its photos, or why it could not be read
    (raised only once the caller is known to be an active user, as when the user was a dependency)."""

    def __init__(self, body: IncidentCreate | None, photos: list[bytes], error: Exception | None = None) -> None:
        self.body = body
        self.photos = photos
        self.error = error


async def create_request(request: Request) -> CreateRequest:
    """Read a create from JSON or from a multipart form (fields plus up to six ``photos`` files)."""
    try:
        return await _read_create(request)
    except Exception as exc:  # any reason, re-raised by create_incident after the caller's check
        return CreateRequest(None, [], exc)


async def _read_create(request: Request) -> CreateRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        limit = max_photo_bytes(request)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_PHOTOS * limit + 1_000_000:
            raise InvalidInput(f"photos: the request is larger than {MAX_PHOTOS} photos of {limit:,} bytes")
        form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=32)
        fields: dict[str, Any] = {}
        photos: list[bytes] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in ("photos", "file"):
                    raise body_error(name, "only 'photos' may carry files")
                if len(photos) >= MAX_PHOTOS:
                    raise InvalidInput(f"photos: at most {MAX_PHOTOS} per incident")
                # Read one byte past the limit: enough to refuse an oversized photo without holding it all.
                data = await value.read(limit + 1)
                photos.append(data)
            elif name in fields:
                raise body_error(name, "given twice")
            else:
                fields[name] = value if value != "" else None
        body = _validated(lambda: IncidentCreate.model_validate({k: v for k, v in fields.items() if v is not None}))
        return CreateRequest(body, photos)
    if content_type not in ("application/json", ""):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"Content-Type: send application/json or multipart/form-data, not {content_type!r}")
    raw = await request.body()
    return CreateRequest(_validated(lambda: IncidentCreate.model_validate_json(raw or b"null")), [])


def _validated(parse: Any) -> IncidentCreate:
    try:
        result: IncidentCreate = parse()
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None
    return result


_CREATE_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": IncidentCreate.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    **IncidentCreate.model_json_schema()["properties"],
                    "photos": {"type": "array", "maxItems": MAX_PHOTOS,
                               "items": {"type": "string", "format": "binary"}},
                },
                "required": ["category_code"],
            }
        },
    },
}
# Documented with its limit, checked in _create (after the caller, as a validated header would be).
IdempotencyKeyText = Annotated[str, WithJsonSchema({"type": "string", "maxLength": incidents.MAX_IDEMPOTENCY_KEY})]
_IDEMPOTENCY_KEY = TypeAdapter(Annotated[str, Field(max_length=incidents.MAX_IDEMPOTENCY_KEY)])


# Worker threads per process that may run creates at once. Each spends about half its time waiting for
# PostgreSQL, so two keep a process busy; more only queue on the GIL (measured on two cores, 32 clients: two
# threads 750–840 creates/s, p99 65–85 ms; three 700/s, p99 103 ms; ten 380/s, p99 340 ms, the pool then also
# opening and closing overflow connections). Requests beyond that wait here, on the event loop.
CREATE_THREADS = 2


def _create_threads(state: Any) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(state, "create_threads", None)
    if limiter is None:
        limiter = state.create_threads = anyio.CapacityLimiter(CREATE_THREADS)
    return limiter


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_incident",
    summary="Report an incident (JSON, or multipart with up to 6 photos)",
    response_model=IncidentCreated,
    openapi_extra={"requestBody": _CREATE_BODY},
    responses={201: {"description": "Created (or, with a repeated Idempotency-Key, the first result)"},
               422: {"description": "Bad input: the message names the field and the fix"}},
)
async def create_incident(
    request: Request,
    given: RequiredCredentials,
    payload: Annotated[CreateRequest, Depends(create_request)],
    idempotency_key: Annotated[
        IdempotencyKeyText | None, Header(alias="Idempotency-Key", description="Repeat-safe retries")
    ] = None,
) -> Response:
    state = request.app.state
    content, headers = await anyio.to_thread.run_sync(
        _create, state.sessions, state.report_sessions, given, payload, idempotency_key, state.settings.photo_dir,
        max_photo_bytes(request), limiter=_create_threads(state),
    )
    return Response(content, status_code=status.HTTP_201_CREATED, media_type="application/json", headers=headers)


def _create(
    sessions: sessionmaker[Session], report_sessions: sessionmaker[Session], given: Credentials,
    payload: CreateRequest, idempotency_key: str | None, photo_dir: Path, max_bytes: int,
) -> tuple[bytes, dict[str, str]]:
    """Everything a create does with the database, committed before the answer goes out: who is calling
    (looked up now: a user disabled a moment ago is refused), the report, the response."""
    body = payload.body
    if given.user_id is not None and body is not None and idempotency_key is None and not payload.photos:
        # The common case in one atomic statement (on the app's autocommit connections), which also checks
        # that the user is active and may report; it writes nothing when anything is off.
        with report_sessions() as session, session.begin():
            reported = incident_report.report_as(
                session, user_id=given.user_id, category_code=body.category_code, lon=body.lon, lat=body.lat,
                datum=body.wgs_datum, description=body.description, address=body.address, source=body.source,
                reported_at=body.reported_at,
            )
            if reported is not None:
                return _created_answer(*reported, new_photos=False)
    with sessions() as session, session.begin():  # the detailed path, whose checks word every refusal
        user, created = _create_checked(session, given, payload, idempotency_key, photo_dir, max_bytes)
        return _created_answer(user, created, new_photos=bool(payload.photos))


def _created_answer(user: User, created: incidents.Created, *, new_photos: bool) -> tuple[bytes, dict[str, str]]:
    """The 201 body and headers of a create, serialised once (inside the session: nothing is loaded later)."""
    incident = created.incident
    headers = {"ETag": etag(incident), "Vary": VARY, "Location": f"/api/v1/incidents/{incident.id}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    # A new case's photos are the ones just sent: none means none, without asking the database.
    photos: list[IncidentPhoto] | None = None if created.replayed or new_photos else []
    read = incident_read(incident, user, full=True, now=datetime.now(UTC), reporter=user, photos=photos)
    # Built from fields already validated: constructed, not validated again.
    answer = IncidentCreated.model_construct(
        **read.__dict__, possible_duplicates=[summary(d) for d in created.duplicates], replayed=created.replayed
    )
    return answer.model_dump_json().encode(), headers


def _create_checked(
    session: Session, given: Credentials, payload: CreateRequest, idempotency_key: str | None, photo_dir: Path,
    max_bytes: int,
) -> tuple[User, incidents.Created]:
    user = user_for(session, given)
    assert user is not None  # credentials were given; a bad one raised Unauthenticated
    if payload.error is not None:
        raise payload.error
    assert payload.body is not None
    if idempotency_key is not None:
        _check_idempotency_key(idempotency_key)
    permissions.require(user, Action.incident_create)
    body = payload.body
    created = incidents.create(
        session,
        category_code=body.category_code,
        lon=body.lon,
        lat=body.lat,
        datum=body.wgs_datum,
        description=body.description,
        address=body.address,
        source=body.source,
        reporter=user,
        reported_at=body.reported_at,
        idempotency_key=idempotency_key,
        photos=payload.photos,
        photo_dir=photo_dir,
        max_photo_bytes=max_bytes,
    )
    return user, created


def _check_idempotency_key(value: str) -> None:
    try:
        _IDEMPOTENCY_KEY.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("header", "Idempotency-Key")} for error in exc.errors(include_url=False)]
        ) from None


# -- lists ------------------------------------------------------------------------------------------------------
def _codes(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated query values, flattened (``?status=a,b&status=c``)."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


OPEN_STATUSES = [s.value for s in Status if not s.is_final]


def _statuses(values: Iterable[str] | None) -> list[str]:
    """Statuses, with ``open`` standing for every status whose case is not finished (the map's default)."""
    codes = _codes(values)
    return list(dict.fromkeys(s for code in codes for s in (OPEN_STATUSES if code == "open" else [code])))


def list_filter(
    bbox: BBoxDep,
    category: Annotated[list[str] | None, Query(description="Category codes (repeat or comma-separate)")] = None,
    status_: Annotated[
        list[str] | None, Query(alias="status", description="Statuses (repeat or comma-separate); open = unfinished")
    ]
    = None,
    subdistrict: Annotated[str | None, Query(max_length=12, description="Subdistrict code")] = None,
    community: Annotated[str | None, Query(max_length=12, description="Community code")] = None,
    cell: Annotated[str | None, Query(max_length=15, description="Unit grid cell code")] = None,
    team_id: Annotated[int | None, Query(ge=1)] = None,
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
        return Response(with_ids(page.geojson), media_type=GEOJSON, headers=headers)
    result = list_incidents(session, filters, sort=sort, limit=limit, offset=offset, cursor=cursor, now=now)
    items = result.items
    photos = _photos_of(session, items) if full else {}
    reporters = _reporters_of(session, user, items) if full else {}
    return IncidentList(
        items=[incident_read(i, user, full=full, now=now, photos=photos.get(i.id, []),
                             reporter=reporters.get(i.reporter_id or 0)) for i in items],
        limit=limit, offset=offset, returned=len(items), next_cursor=result.next_cursor,
    )


def with_ids(geojson: bytes) -> bytes:
    """Give each feature an ``id`` property, the internal id that ``/api/v1/incidents/{id}`` takes (the map page
    reads properties only). The feature's own ``id`` is the public id, which ends in the internal id."""
    if "id" in STAFF_PROPERTIES:
        return geojson
    collection = orjson.loads(geojson)
    for feature in collection["features"]:
        feature["properties"]["id"] = int(str(feature["id"]).rsplit("-", 1)[-1])
    return orjson.dumps(collection)


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
    team_id: Annotated[int | None, Query(ge=1)] = None,
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


# -- one incident ---------------------------------------------------------------------------------------------
@router.get("/{ref}", operation_id="get_incident", summary="One incident by id or public id (JS-2026-000123)",
            response_model=IncidentRead, responses={304: {"description": "Not modified (If-None-Match)"}})
def get_incident(
    ref: str, response: Response, session: SessionDep, user: CurrentUser,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Any:
    incident = load_incident(session, ref)
    full = full_view(session, user, incident)
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
    ref: str, body: IncidentTransition, response: Response, session: SessionDep, user: CurrentUser,
    if_match: Annotated[str | None, Header(alias="If-Match", description="The ETag you read")] = None,
) -> IncidentRead:
    incident = load_incident(session, ref)
    version = expected_version(if_match, body.version)
    photos = _own_photos(session, incident, body.photo_ids)
    workflow.transition(session, incident=incident, to=body.to, actor=user, note=body.note,
                        expected_version=version, data=body.data(), photos=photos)
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
def history(ref: str, session: SessionDep, user: CurrentUser) -> list[EventRead]:
    incident = load_incident(session, ref)
    full = full_view(session, user, incident)
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                             .order_by(IncidentEvent.id)).all()
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
@router.get("/{ref}/duplicates", operation_id="incident_duplicates",
            summary="Open cases of the same category nearby, and cases already merged into this one")
def duplicates(ref: str, session: SessionDep, user: CurrentUser) -> DuplicatesRead:
    incident = load_incident(session, ref)
    if not full_view(session, user, incident):
        raise Forbidden(f"role {user.role} may not read duplicates (reporters' texts) of incidents")
    return DuplicatesRead(possible=[summary(i) for i in incidents.find_duplicates(session, incident)],
                          merged=[summary(i) for i in incident.duplicates])


@router.post("/{ref}/duplicate-of", operation_id="mark_incident_duplicate",
             summary="Merge this case into another one (作废为重复案件)")
def mark_duplicate(
    ref: str, body: MarkDuplicate, response: Response, session: SessionDep, user: CurrentUser,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> IncidentRead:
    incident = load_incident(session, ref)
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
