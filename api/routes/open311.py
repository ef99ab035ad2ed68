"""Open311 GeoReport v2 at ``/open311/v2/``: existing 311 apps and clients file and follow cases here.

Resources, each as ``.json`` or ``.xml``: ``discovery``, ``services`` (one per active category; the
``service_code`` is the category's national GB/T 47678.5 code), ``services/{code}`` (no extra attributes),
``requests`` (GET a list, POST a new one with an ``api_key``), ``requests/{id}`` (the public case number,
JS-2026-000123). Errors come in GeoReport's own shape, ``[{"code": 404, "description": "…"}]`` (XML:
``<errors><error>…``), for every failure: bad input, unknown ids, missing or wrong keys.

Mapping: a case is ``closed`` once its handling is over (closed, rejected, voided, merged as a duplicate) and
``open`` otherwise; ``status_notes`` gives the Chinese status and, for callers who may read the case, the
last step's note; ``expected_datetime`` is the deadline; ``agency_responsible`` the responsible team.

Who sees what: without an ``api_key`` the GETs answer the public, de-personalised view (no description,
address or photos: free text can hold names and phone numbers); with one, the key owner's view by the same
rules as ``/api/v1/incidents``. A POST needs a key whose owner may report; the report's source is
``resident``. Contact fields (email, names, phone, device_id, account_id) are not stored — the model keeps no
citizen identity — and ``media_url`` is not fetched (this server reaches no outside network); photos may come
as multipart ``media`` files. Unknown parameters are ignored, as clients of the spec expect.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from geoalchemy2.shape import to_shape
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from api.deps import OptionalUser, SessionDep, SettingsDep
from api.errors import status_for
from api.routes.incident_views import max_photo_bytes
from api.schemas.open311 import (
    FILING_BODY,
    Discovery,
    Endpoint,
    Error,
    RequestCreated,
    Service,
    ServiceDefinition,
    ServiceRequest,
)
from gis.errors import InvalidInput, NotFound, Unauthenticated, WanggeError
from gis.incidents import service as incidents
from gis.incidents.categories import get_category, list_categories
from gis.incidents.query import IncidentFilter, list_incidents
from gis.incidents.visibility import full_view, list_scope
from gis.models import Incident, IncidentEvent, IncidentPhoto, Source, Status, Team, User
from gis.models.incidents import FINAL_STATUSES
from gis.people import users

CHANGESET = "2026-03-01T00:00:00+08:00"  # when this endpoint's behaviour last changed
DEFAULT_SPAN = timedelta(days=90)  # the spec's default window for GET requests
MAX_PAGE_SIZE = 1000  # and its default cap
MAX_IDS = 100  # service_request_id values in one GET
MAX_PHOTOS = 6
CLOSED = frozenset(s.value for s in FINAL_STATUSES)
OPEN = frozenset(s.value for s in Status) - CLOSED
# Spec fields (and the common page/page_size extension) that GET requests reads; others are ignored.
XML_ITEM = {"endpoints": "endpoint", "formats": "format", "services": "service", "attributes": "attribute",
            "values": "value", "service_requests": "request", "errors": "error"}
Format = Literal["json", "xml"]


# -- rendering ------------------------------------------------------------------------------------------------
def render(document: BaseModel | Sequence[BaseModel], fmt: str, *, root: str, status_code: int = 200) -> Response:
    """``document`` as GeoReport JSON or XML; ``root`` names the XML root (``services``, ``discovery``…)."""
    data = [d.model_dump() for d in document] if isinstance(document, Sequence) else document.model_dump()
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, root, data)
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8",
                                                                         xml_declaration=False)
        return Response(body, status_code=status_code, media_type="text/xml; charset=utf-8")
    return Response(orjson.dumps(data), status_code=status_code, media_type="application/json; charset=utf-8")


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, list):
        item = XML_ITEM.get(name, "item")
        for entry in value:
            _fill(ET.SubElement(element, item), item, entry)
    elif isinstance(value, dict):
        for key, entry in value.items():
            _fill(ET.SubElement(element, key), key, entry)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)  # ElementTree escapes <, & and quotes: text stays text


def error_response(request: Request, status_code: int, description: str) -> Response:
    fmt = "xml" if request.url.path.endswith(".xml") else "json"
    return render([Error(code=status_code, description=description)], fmt, root="errors", status_code=status_code)


class Open311Route(APIRoute):
    """Every failure of an Open311 route answers in GeoReport's error format, never FastAPI's.

    The exception has passed through the request's session dependency before it reaches here, so the
    transaction is already rolled back: an error never leaves half a report behind."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except WanggeError as exc:
                code = status_for(exc)
                return error_response(request, 400 if code == 422 else code, str(exc))
            except RequestValidationError as exc:
                messages = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors())
                return error_response(request, 400, messages)
            except HTTPException as exc:
                return error_response(request, exc.status_code, str(exc.detail))

        return handle


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)


def w3c(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """A W3C date-time with the city's own offset (``Settings.zone``), as a 311 client shows it."""
    return None if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# -- discovery and services -----------------------------------------------------------------------------------
@router.get("/discovery.{fmt}", operation_id="open311_discovery", summary="GeoReport service discovery")
def discovery(request: Request, fmt: Format, settings: SettingsDep) -> Response:
    document = Discovery(
        changeset=CHANGESET,
        contact=settings.open311_contact,
        key_service="API keys are issued by the supervision centre (`wangge keys create USERNAME`)",
        endpoints=[Endpoint(url=f"{base_url(request)}/open311/v2", changeset=CHANGESET)],
    )
    return render(document, fmt, root="discovery")


@router.get("/services.{fmt}", operation_id="open311_services", summary="Service types: the incident categories")
def services(fmt: Format, session: SessionDep) -> Response:
    listed = [
        Service(service_code=c.code, service_name=c.name_zh, description=f"{c.major_name}：{c.name_zh} ({c.name_en})",
                keywords=c.name_en, group=c.major_name)
        for c in list_categories(session)
    ]
    return render(listed, fmt, root="services")


@router.get("/services/{service_code}.{fmt}", operation_id="open311_service_definition",
            summary="A service's definition (no extra attributes)")
def service_definition(service_code: str, fmt: Format, session: SessionDep) -> Response:
    category = get_category(session, service_code)
    if not category.active:
        raise NotFound(f"service_code {service_code} is no longer in use")
    return render(ServiceDefinition(service_code=category.code), fmt, root="service_definition")


# -- reading requests -----------------------------------------------------------------------------------------
def service_request(incident: Incident, *, full: bool, teams: dict[int, str], note: str | None,
                    media_url: str | None, zone: ZoneInfo) -> ServiceRequest:
    point = to_shape(incident.location)
    status = Status(incident.status)
    notes = f"{status.label_zh} ({status.value})" + (f"：{note}" if full and note else "")
    return ServiceRequest(
        service_request_id=incident.public_id,
        status="closed" if incident.status in CLOSED else "open",
        status_notes=notes,
        service_name=incident.category.name_zh,
        service_code=incident.category_code,
        description=incident.description if full else None,
        agency_responsible=teams.get(incident.team_id) if incident.team_id is not None else None,
        requested_datetime=w3c(incident.reported_at, zone) or "",
        updated_datetime=w3c(incident.updated_at, zone) or "",
        expected_datetime=w3c(incident.deadline_at, zone),
        address=incident.address if full else None,
        lat=point.y,
        long=point.x,
        media_url=media_url if full else None,
    )


def _documents(
    request: Request, session: Session, items: Sequence[Incident], full: dict[int, bool]
) -> list[ServiceRequest]:
    """GeoReport documents of ``items`` with the team names, last notes and first photos of the page, each
    looked up once for the page."""
    if not items:
        return []
    ids = [i.id for i in items]
    teams = {t.id: t.name for t in session.scalars(select(Team).where(Team.id.in_({i.team_id for i in items})))}
    last = (select(IncidentEvent.incident_id, IncidentEvent.note).where(IncidentEvent.incident_id.in_(ids))
            .order_by(IncidentEvent.incident_id, IncidentEvent.id.desc()).ext(distinct_on(IncidentEvent.incident_id)))
    notes: dict[int, str | None] = {row[0]: row[1] for row in session.execute(last)}
    first_photo: dict[int, int] = {}
    for incident_id, photo_id in session.execute(
        select(IncidentPhoto.incident_id, IncidentPhoto.id).where(IncidentPhoto.incident_id.in_(ids))
        .order_by(IncidentPhoto.id)
    ):
        first_photo.setdefault(incident_id, photo_id)
    root = base_url(request)
    zone = request.app.state.settings.zone
    return [
        service_request(
            i, full=full[i.id], teams=teams, note=notes.get(i.id), zone=zone,
            media_url=f"{root}/api/v1/incidents/{i.id}/photos/{first_photo[i.id]}" if i.id in first_photo else None,
        )
        for i in items
    ]


def _when(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name}: not a W3C date-time, e.g. 2026-03-01T00:00:00+08:00 ({value!r})") from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{name}: give a time zone (Z or +08:00)")
    return moment


def _positive(value: str | None, name: str, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise InvalidInput(f"{name}: a whole number from 1 to {maximum}")
    return int(value)


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/requests.{fmt}", operation_id="open311_requests", summary="Service requests: filtered, newest first")
def get_requests(request: Request, fmt: Format, session: SessionDep, user: OptionalUser) -> Response:
    params = request.query_params
    ids = _list(params.get("service_request_id"))
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"service_request_id: at most {MAX_IDS} at once")
    if ids:  # the spec: ids override every other filter
        found = []
        for ref in ids:
            try:
                found.append(incidents.get_or_raise(session, ref))
            except NotFound:
                continue
        return _answer(request, session, user, found, fmt)
    statuses: set[str] = set()
    for value in _list(params.get("status")):
        if value not in ("open", "closed"):
            raise InvalidInput(f"status: {value!r} is neither open nor closed")
        statuses |= OPEN if value == "open" else CLOSED
    start, end = _when(params.get("start_date"), "start_date"), _when(params.get("end_date"), "end_date")
    if start is None and end is None:
        start = datetime.now(UTC) - DEFAULT_SPAN
    if start is not None and end is not None and start > end:
        raise InvalidInput("start_date: must not be after end_date")
    page = _positive(params.get("page"), "page", 1, 100_000)
    size = _positive(params.get("page_size"), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    scope, _ = list_scope(session, user) if user is not None else (IncidentFilter(), False)
    filters = IncidentFilter(categories=_list(params.get("service_code")), statuses=sorted(statuses),
                             reported_from=start, reported_to=end).limited_by(scope)
    result = list_incidents(session, filters, sort="-reported_at", limit=size, offset=(page - 1) * size)
    return _answer(request, session, user, result.items, fmt)


@router.get("/requests/{service_request_id}.{fmt}", operation_id="open311_request", summary="One service request")
def get_request(request: Request, service_request_id: str, fmt: Format, session: SessionDep,
                user: OptionalUser) -> Response:
    incident = incidents.get_or_raise(session, service_request_id)
    return _answer(request, session, user, [incident], fmt, strict=True)


def _answer(request: Request, session: Session, user: User | None, items: Sequence[Incident], fmt: str,
            strict: bool = False) -> Response:
    """Render ``items`` as ``user`` may see them; cases outside their reach are left out of lists, and asked
    for by id they answer the public view that a caller without a key gets (so a key tells nothing more
    about a case outside its owner's reach, not even that it is outside)."""
    shown: list[Incident] = []
    full: dict[int, bool] = {}
    for incident in items:
        if user is None:
            full[incident.id] = False
        else:
            try:
                full[incident.id] = full_view(session, user, incident)
            except WanggeError:
                if not strict:
                    continue
                full[incident.id] = False
        shown.append(incident)
    return render(_documents(request, session, shown, full), fmt, root="service_requests")


# -- filing a request -----------------------------------------------------------------------------------------
class Filing:
    """A POST as it arrived: its text fields and any ``media`` files."""

    def __init__(self, fields: dict[str, str], media: list[bytes]) -> None:
        self.fields = fields
        self.media = media


async def filing(request: Request) -> Filing:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidInput("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput("the body must be an object of request fields")
        return Filing({str(k): "" if v is None else str(v) for k, v in data.items()}, [])
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise HTTPException(415, "send the request as application/x-www-form-urlencoded or multipart/form-data")
    limit = max_photo_bytes(request)
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=64)
    fields: dict[str, str] = {}
    media: list[bytes] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if len(media) >= MAX_PHOTOS:
                raise InvalidInput(f"media: at most {MAX_PHOTOS} files")
            media.append(await value.read(limit + 1))
        else:
            fields.setdefault(name, value)
    return Filing(fields, media)


@router.post("/requests.{fmt}", operation_id="open311_create_request", summary="File a service request",
             openapi_extra={"requestBody": FILING_BODY})
def post_request(
    request: Request, fmt: Format, session: SessionDep, user: OptionalUser,
    posted: Annotated[Filing, Depends(filing)],
) -> Response:
    fields = posted.fields
    if user is None:
        key = fields.get("api_key", "").strip()
        if not key:
            raise Unauthenticated("api_key: required to file a request")
        user = users.user_for_api_key(session, key)
    code = fields.get("service_code", "").strip()
    if not code:
        raise InvalidInput("service_code: required")
    lat, lon = fields.get("lat", "").strip(), fields.get("long", "").strip()
    if not (lat and lon) and not posted.media:
        raise InvalidInput("lat and long: required (this server does not geocode address_string or address_id)")
    created = incidents.create(
        session,
        category_code=code,
        lon=lon or None,
        lat=lat or None,
        description=fields.get("description", ""),
        address=fields.get("address_string") or None,
        source=Source.resident,
        reporter=user,
        idempotency_key=request.headers.get("Idempotency-Key"),
        photos=posted.media,
        photo_dir=request.app.state.settings.photo_dir,
        max_photo_bytes=max_photo_bytes(request),
        settings=request.app.state.settings,
    )
    incident = created.incident
    notice = f"已受理，案件编号 {incident.public_id}"
    if created.duplicates:
        notice += f"；附近已有同类问题 {', '.join(d.incident.public_id for d in created.duplicates[:3])}，可能重复"
    return render([RequestCreated(service_request_id=incident.public_id, service_notice=notice)], fmt,
                  root="service_requests")
