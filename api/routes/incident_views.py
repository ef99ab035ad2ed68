"""The response documents of an incident, built for one caller.

Who sees what is ``gis.incidents.visibility`` (the one rule REST, Open311, OGC, tiles and exports share);
this module only shapes what that rule lets through, for the REST routes and the Open311 facade alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from api.schemas.incidents import IncidentRead, IncidentSummary, PhotoRead, ReporterRead
from gis.errors import InvalidInput, NotFound, OutsideJurisdiction
from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.photos import DEFAULT_MAX_BYTES
from gis.incidents.service import Nearby
from gis.incidents.visibility import full_view, reporter_of, require_incident_reader
from gis.models import Incident, IncidentPhoto, Status, User

GEOJSON = "application/geo+json"
# Headers whose value changes what a read shows (the view depends on who asks).
VARY = "Authorization, X-API-Key"


def load_incident(session: Session, ref: str) -> Incident:
    return incidents.get_or_raise(session, ref)


def visible_incident(session: Session, user: User, ref: str) -> tuple[Incident, bool]:
    """The case ``ref`` and whether ``user`` reads it whole (``full_view``), checked rights first: a role that
    reads no incidents is refused (403) before the case is looked for, and a case outside the caller's read
    scope is the very same 404 as a case that does not exist, so that neither its existence, version nor
    status leaks to a caller who may not see it."""
    require_incident_reader(user)
    incident = incidents.find(session, ref)
    if incident is not None:
        try:
            return incident, full_view(session, user, incident)
        except OutsideJurisdiction:
            pass
    raise NotFound(f"no incident {str(ref).strip()} that you may read")


# -- building responses ---------------------------------------------------------------------------------------
def photo_url(incident: Incident, photo: IncidentPhoto) -> str:
    return f"/api/v1/incidents/{incident.id}/photos/{photo.id}"


def incident_read(
    incident: Incident,
    user: User,
    *,
    full: bool,
    now: datetime,
    photos: Sequence[IncidentPhoto] | None = None,
    reporter: User | None = None,
) -> IncidentRead:
    """``incident`` as ``user`` may see it (``full``: see :func:`full_view`). ``reporter`` is shown when given
    (see :func:`reporter_of`); ``photos`` may be passed pre-loaded (lists), else they are loaded."""
    point = to_shape(incident.location)
    shown_photos = (incident.photos if photos is None else photos) if full else []
    original = incident.original.public_id if incident.duplicate_of is not None and incident.original else None
    return IncidentRead(
        id=incident.id,
        public_id=incident.public_id,
        version=incident.version,
        category_code=incident.category_code,
        category_name=incident.category.name_zh,
        category_name_en=incident.category.name_en,
        status=incident.status,
        status_label=Status(incident.status).label_zh,
        overdue=incident.is_overdue(now),
        lon=point.x,
        lat=point.y,
        description=incident.description if full else None,
        address=incident.address if full else None,
        source=incident.source,
        reporter=ReporterRead(id=reporter.id, username=reporter.username, display_name=reporter.display_name,
                              phone=reporter.phone) if full and reporter is not None else None,
        cell_code=incident.cell_code,
        community_code=incident.community_code,
        subdistrict_code=incident.subdistrict_code,
        team_id=incident.team_id,
        duplicate_of=original,
        reported_at=incident.reported_at,
        updated_at=incident.updated_at,
        dispatched_at=incident.dispatched_at,
        deadline_at=incident.deadline_at,
        escalated_at=incident.escalated_at,
        closed_at=incident.closed_at,
        photos=[photo_read(incident, p) for p in shown_photos],
        moves=sorted({m.action for m in workflow.moves_from(incident.status, user.role)}) if full else [],
    )


def read_for(session: Session, user: User, incident: Incident, *, full: bool) -> IncidentRead:
    """One case for one caller, now: :func:`incident_read` with the reporter looked up as allowed."""
    reporter = reporter_of(session, user, incident)
    return incident_read(incident, user, full=full, now=datetime.now(UTC), reporter=reporter)


def photo_read(incident: Incident, photo: IncidentPhoto) -> PhotoRead:
    return PhotoRead(id=photo.id, kind=photo.kind, content_type=photo.content_type, bytes=photo.bytes,
                     created_at=photo.created_at, url=photo_url(incident, photo))


def summary(incident: Incident, distance_m: float | None = None) -> IncidentSummary:
    point = to_shape(incident.location)
    return IncidentSummary(id=incident.id, public_id=incident.public_id, category_code=incident.category_code,
                           status=incident.status, lon=point.x, lat=point.y, distance_m=distance_m,
                           reported_at=incident.reported_at)


def nearby_summaries(found: Iterable[Nearby]) -> list[IncidentSummary]:
    """Possible duplicates as every answer names them (a report's ``possible_duplicates``, ``/duplicates``,
    ``/nearby``): the summary and the distance in metres, to 0.1 m."""
    return [summary(near.incident, distance_m=round(near.distance_m, 1)) for near in found]


def etag(incident: Incident) -> str:
    return f'"{incident.version}"'


def versioned(response: Response, incident: Incident) -> None:
    response.headers["ETag"] = etag(incident)
    response.headers["Vary"] = VARY


def expected_version(if_match: str | None, body_version: int | None) -> int:
    """The version an update was made from: ``If-Match`` (an ETag we sent) or the body's ``version``."""
    from_header: int | None = None
    if if_match is not None:
        tag = if_match.strip()
        tag = tag[2:] if tag.startswith("W/") else tag
        tag = tag.strip('"')
        if not tag.isdigit():
            raise InvalidInput(f"If-Match: {if_match!r} is not an ETag of this service; send the ETag you read")
        from_header = int(tag)
    if from_header is not None and body_version is not None and from_header != body_version:
        raise InvalidInput(f"version: If-Match says {from_header} but the body says {body_version}; send one")
    version = from_header if from_header is not None else body_version
    if version is None:
        # RFC 6585: the server requires the request to be conditional (no blind overwrites).
        raise HTTPException(status.HTTP_428_PRECONDITION_REQUIRED,
                            "version: send the version you read, as If-Match: \"<version>\" or a 'version' field")
    return version


def max_photo_bytes(request: Request) -> int:
    """The size limit of one photo (``WANGGE_PHOTO_MAX_BYTES`` when the settings have it)."""
    return int(getattr(request.app.state.settings, "photo_max_bytes", DEFAULT_MAX_BYTES))


def body_error(name: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("body", name), "msg": message, "input": None}])
