"""Reporting an incident over HTTP: ``POST /api/v1/incidents``, JSON or a multipart form with up to six photos.

A create is the hot path: phones in the field and the 12345 hotline's imports send many at once, so it is
kept apart from the reads and moves of ``api.routes.incidents`` and built to spend as little per request as
it can. All of its database work, from looking up the caller to the commit, and the serialising of its
answer, happen in one worker-thread hop, with at most :data:`CREATE_THREADS` hops at a time per process.

Inside the hop there are two paths. The common report (a caller known by id, no photos, no Idempotency-Key)
takes the one-statement fast path of ``gis.incidents.fast_create`` on the app's autocommit report engine
(``app.state.report_sessions``, sized by :data:`CREATE_THREADS` in ``api.main``): one round trip that checks
the reporter, locates the point, inserts the case and finds its possible duplicates, and writes nothing when
any of that is off. Everything else, and every fast-path refusal, goes the detailed path,
:func:`gis.incidents.service.create` in an ordinary transaction, whose checks word every refusal, so a caller is told
the same thing whichever path they took.

Errors come in the order they have on every other route: credentials (401), reading the body (415/422), the
Idempotency-Key header (422), the role (403), then the report itself (422).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError, WithJsonSchema
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile

from api.deps import Credentials, RequiredCredentials, forbid_extra_query, user_for
from api.routes.incident_views import VARY, body_error, etag, incident_read, max_photo_bytes, nearby_summaries
from api.schemas.incidents import MAX_PHOTOS, IncidentCreate, IncidentCreated
from gis.errors import InvalidInput
from gis.incidents import fast_create
from gis.incidents import service as incidents
from gis.models import IncidentPhoto, User
from gis.people import permissions
from gis.people.permissions import Action
from gis.settings import Settings

# The same prefix, tags and checks as api.routes.incidents; api.main includes this router first, so that the
# routes are matched in the order they had when they were one module.
router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"], dependencies=[Depends(forbid_extra_query)])


# -- reading the request --------------------------------------------------------------------------------------
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


# -- the route ------------------------------------------------------------------------------------------------
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
        _create, state.sessions, state.report_sessions, given, payload, idempotency_key, state.settings,
        max_photo_bytes(request), limiter=_create_threads(state),
    )
    return Response(content, status_code=status.HTTP_201_CREATED, media_type="application/json", headers=headers)


def _create(
    sessions: sessionmaker[Session], report_sessions: sessionmaker[Session], given: Credentials,
    payload: CreateRequest, idempotency_key: str | None, settings: Settings, max_bytes: int,
) -> tuple[bytes, dict[str, str]]:
    """Everything a create does with the database, committed before the answer goes out: who is calling
    (looked up now: a user disabled a moment ago is refused), the report, the response."""
    body = payload.body
    if given.user_id is not None and body is not None and idempotency_key is None and not payload.photos:
        # The common case in one atomic statement (on the app's autocommit connections), which also checks
        # that the user is active and may report; it writes nothing when anything is off.
        with report_sessions() as session, session.begin():
            reported = fast_create.report_by_id(
                session, user_id=given.user_id, category_code=body.category_code, lon=body.lon, lat=body.lat,
                datum=body.wgs_datum, description=body.description, address=body.address, source=body.source,
                reported_at=body.reported_at, settings=settings,
            )
            if reported is not None:
                return _created_answer(*reported, new_photos=False)
    with sessions() as session, session.begin():  # the detailed path, whose checks word every refusal
        user, created = _create_checked(session, given, payload, idempotency_key, settings, max_bytes)
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
        **read.__dict__, possible_duplicates=nearby_summaries(created.duplicates), replayed=created.replayed
    )
    return answer.model_dump_json().encode(), headers


def _create_checked(
    session: Session, given: Credentials, payload: CreateRequest, idempotency_key: str | None, settings: Settings,
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
        photo_dir=settings.photo_dir,
        max_photo_bytes=max_bytes,
        settings=settings,
    )
    return user, created


def _check_idempotency_key(value: str) -> None:
    try:
        _IDEMPOTENCY_KEY.validate_python(value)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("header", "Idempotency-Key")} for error in exc.errors(include_url=False)]
        ) from None
