"""Incident services: report a case (located in the same transaction), find it, find its duplicates.

The state machine is ``gis.incidents.workflow``, lists and GeoJSON are ``gis.incidents.query``, bulk loading is
``gis.incidents.bulk_import``, photos are ``gis.incidents.photos``. Services flush, never commit.

Public ids read ``JS-2026-000123``: prefix, year of the report (Beijing time), then the internal id padded to
six digits. People quote them on the 12345 hotline and write them on paper, which a UUID defeats; they are
not secrets (who may read a case is decided by jurisdiction, not by guessing ids). The number runs across
years, so ``JS-2027-000124`` may follow ``JS-2026-000123``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import ColumnElement, cast, func, literal, select, text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound
from gis.evaluation import facts
from gis.incidents.categories import usable_category
from gis.incidents.location import (
    resolve_location,
)
from gis.incidents.photos import DEFAULT_MAX_BYTES, MAX_PHOTOS_PER_INCIDENT, CheckedPhoto, check_photo, store_photo
from gis.incidents.workflow import transition
from gis.models import (
    SRID,
    IdempotencyKey,
    Incident,
    IncidentEvent,
    PhotoKind,
    Source,
    Status,
    User,
)
from gis.models.incidents import FINAL_STATUSES, MAX_DESCRIPTION
from gis.models.limits import INT4_MAX
from gis.people.permissions import Action, require
from gis.settings import Settings, get_settings
from gis.spatial.crs import InputDatum, degrees_for_metres

MAX_ADDRESS = 200
MAX_IDEMPOTENCY_KEY = 128
# Reports from a phone whose clock runs a little fast are fine; a report dated tomorrow is a mistake.
FUTURE_TOLERANCE = timedelta(minutes=10)
EARLIEST_REPORT = datetime(2000, 1, 1, tzinfo=UTC)
"""No case is older: digital city management (数字城管) began in 2004, and a year-1 date is a client's zero value
(its public id would read JS-1-…)."""


def public_id(incident_id: int, reported_at: datetime, settings: Settings | None = None) -> str:
    """``JS-2026-000123``: the settings' case prefix, the year of the report in the city's time zone, the id."""
    return f"{case_number_head(reported_at, settings)}{incident_id:06d}"


def case_number_head(reported_at: datetime, settings: Settings | None = None) -> str:
    """``JS-2026-``: a case number up to its id. The year is the report's in the city's own time zone
    (``Settings.timezone``), so a New York case of 31 December 23:30 is of that year, not of the next one in
    Beijing. A case number always ends in its id (``gis.incidents.bulk_copy`` writes the same, vectorised)."""
    settings = settings or get_settings()
    return f"{settings.case_prefix}-{reported_at.astimezone(settings.zone).year}-"


# -- checking input -------------------------------------------------------------------------------------
def check_text(value: str | None, field_name: str, limit: int) -> str:
    """Text as given (HTML and all: it is stored and returned as plain text, never interpreted)."""
    text_value = "" if value is None else str(value)
    if len(text_value) > limit:
        raise InvalidInput(f"{field_name}: {len(text_value)} characters is more than {limit}")
    if "\x00" in text_value:
        raise InvalidInput(f"{field_name}: contains a NUL character")
    return text_value


def parse_source(value: Source | str) -> Source:
    try:
        return Source(value)
    except ValueError:
        raise InvalidInput(f"source: unknown source {value!r}; one of {', '.join(Source)}") from None


# -- creating -------------------------------------------------------------------------------------------
class Nearby(NamedTuple):
    """An open case near a point or another case, and how far, in metres on the ellipsoid: the one shape of a
    possible duplicate, whether a report's answer, ``/duplicates`` or ``/nearby`` names it."""

    incident: Incident
    distance_m: float


@dataclass(frozen=True)
class Created:
    """The outcome of a report: the case, open cases of its category nearby, and whether it was replayed."""

    incident: Incident
    duplicates: list[Nearby] = field(default_factory=list)
    replayed: bool = False  # True: the Idempotency-Key was seen before; ``incident`` is the first result


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key sent again with a different request (422)."""


def request_fingerprint(*, photos: Sequence[bytes] = (), **fields: object) -> str:
    """SHA-256 of a create's fields and photos as sent, to tell a retry from another request under one key."""
    digest = hashlib.sha256()
    for name in sorted(fields):
        value = fields[name]
        text = value.isoformat() if isinstance(value, datetime) else repr(value)  # repr: 1 and "1" differ
        digest.update(f"{name}={text}\n".encode("utf-8", "surrogatepass"))
    for photo in photos:
        digest.update(hashlib.sha256(photo).digest())
    return digest.hexdigest()


def create(
    session: Session,
    *,
    category_code: str,
    lon: object = None,
    lat: object = None,
    datum: InputDatum | str = InputDatum.wgs84,
    description: str | None = "",
    address: str | None = None,
    source: Source | str = Source.patrol,
    reporter: User | None = None,
    reported_at: datetime | None = None,
    idempotency_key: str | None = None,
    photos: Sequence[bytes] = (),
    photo_dir: Path | None = None,
    max_photo_bytes: int = DEFAULT_MAX_BYTES,
    duplicate_radius_m: float | None = None,
    edge_tolerance_m: float | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Created:
    """Report a case: check everything, locate it, store it with a ``report`` event and its photos; flush.

    Without ``lon``/``lat`` the position comes from the first photo with EXIF GPS (WGS84). ``photos`` are
    raw bytes of 'before' photos (at most six), stored under ``photo_dir`` (default: settings.photo_dir).
    With ``idempotency_key`` and a ``reporter``, a repeated call returns the first result (``replayed``)
    and creates nothing; concurrent repeats wait for each other. The same key with a different request (any
    field or photo) raises IdempotencyKeyReused: a client reusing a key by mistake must not get another case.
    ``duplicates`` lists the nearest open cases of the same category within ``duplicate_radius_m`` metres
    (:data:`MAX_DUPLICATES` at most), nearest first: the caller may merge them (:func:`mark_duplicate`).
    A point within ``edge_tolerance_m`` metres of a community counts as in it.
    Raises InvalidInput naming the field for any bad input; nothing is written.
    """
    settings = settings or get_settings()  # the app's own when it passes them; the process's otherwise
    duplicate_radius_m = settings.duplicate_radius_m if duplicate_radius_m is None else duplicate_radius_m
    edge_tolerance_m = settings.snap_tolerance_m if edge_tolerance_m is None else edge_tolerance_m
    now = now or datetime.now(UTC)
    if reporter is not None:
        require(reporter, Action.incident_create)
    if idempotency_key is not None:
        key = check_text(idempotency_key.strip(), "Idempotency-Key", MAX_IDEMPOTENCY_KEY)
        if reporter is None:
            raise InvalidInput("Idempotency-Key: needs a signed-in reporter (keys are kept per user)")
        # Two requests with one key: the second waits here until the first commits, then finds its row.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"{reporter.id}:{key}", 0))))
        seen = session.get(IdempotencyKey, (reporter.id, key))
        fingerprint = request_fingerprint(category_code=category_code, lon=lon, lat=lat, datum=datum,
                                          description=description, address=address, source=source,
                                          reported_at=reported_at, photos=photos)
        if seen is not None:
            if seen.fingerprint is not None and seen.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "Idempotency-Key: already used for a different request; send a new key for a new report")
            first = get_or_raise(session, seen.incident_id)
            return Created(first, duplicates_with_distance(session, first, radius_m=duplicate_radius_m),
                           replayed=True)

    category = usable_category(session, category_code)
    text_value = check_text(description, "description", MAX_DESCRIPTION)
    address_value = check_text(address, "address", MAX_ADDRESS).strip() or None
    source_value = parse_source(source)
    reported = reported_at or now
    if reported.tzinfo is None:
        raise InvalidInput("reported_at: give a time zone (e.g. 2026-03-02T09:30:00+08:00)")
    if reported > now + FUTURE_TOLERANCE:
        raise InvalidInput(f"reported_at: {reported.isoformat()} is in the future")
    if reported < EARLIEST_REPORT:
        raise InvalidInput(f"reported_at: {reported.isoformat()} is before {EARLIEST_REPORT.year}; give the real date")
    if len(photos) > MAX_PHOTOS_PER_INCIDENT:
        raise InvalidInput(f"photos: {len(photos)} photos; at most {MAX_PHOTOS_PER_INCIDENT} per incident")
    checked = [check_photo(p, max_bytes=max_photo_bytes, name=f"photos[{i}]") for i, p in enumerate(photos)]
    if lon is None and lat is None:
        lon, lat, datum = *_position_from(checked), InputDatum.wgs84
    elif lon is None or lat is None:
        raise InvalidInput(f"{'lon' if lon is None else 'lat'}: required with {'lat' if lon is None else 'lon'}")
    wx, wy, where = resolve_location(session, lon, lat, datum, edge_tolerance_m=edge_tolerance_m)

    incident_id = int(session.execute(text("SELECT nextval(pg_get_serial_sequence('incident', 'id'))")).scalar_one())
    incident = Incident(
        id=incident_id, public_id=public_id(incident_id, reported, settings), category=category,
        description=text_value,
        location=from_shape(Point(wx, wy), srid=SRID), address=address_value,
        source=source_value.value, reporter_id=reporter.id if reporter else None, cell_code=where.cell_code,
        community_code=where.community_code, subdistrict_code=where.subdistrict_code, team_id=where.team_id,
        status=Status.reported.value, reported_at=reported,
    )
    event = IncidentEvent(
        incident=incident, actor_id=incident.reporter_id, at=now, action="report", from_status=None,
        to_status=Status.reported.value, data={"source": source_value.value, "datum": str(datum)},
    )
    session.add_all([incident, event])
    session.flush()
    facts.refresh(session, incident_id, events_at=(now, now))  # the evaluation's copy, in this transaction
    if idempotency_key is not None and reporter is not None:
        session.add(IdempotencyKey(user_id=reporter.id, key=key, incident_id=incident_id, fingerprint=fingerprint))
    for photo in checked:
        store_photo(session, incident=incident, photo=photo, photo_dir=photo_dir or _default_photo_dir(),
                    kind=PhotoKind.before, uploader=reporter, event=event)
    session.flush()
    return Created(incident, duplicates_with_distance(session, incident, radius_m=duplicate_radius_m))


def _position_from(photos: Sequence[CheckedPhoto]) -> tuple[float, float]:
    for photo in photos:
        if photo.location is not None:
            return photo.location
    raise InvalidInput("lon/lat: required (or send a photo that carries its GPS position)")


def _default_photo_dir() -> Path:
    from gis.settings import get_settings

    return get_settings().photo_dir


# -- finding --------------------------------------------------------------------------------------------
def get(session: Session, incident_id: int) -> Incident | None:
    return session.get(Incident, incident_id)


def get_or_raise(session: Session, ref: int | str) -> Incident:
    """The incident with internal id ``ref`` (int or digits) or public id ``ref`` (JS-2026-000123);
    NotFound otherwise."""
    incident = find(session, ref)
    if incident is None:
        raise NotFound(f"no incident {str(ref).strip()}")
    return incident


_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def find(session: Session, ref: int | str) -> Incident | None:
    """The incident named by ``ref`` (see :func:`get_or_raise`), or None. Only ASCII digits make an id
    (``str.isdigit`` also takes ``²`` and ``١٢``), and an id beyond the column's range names no case."""
    if isinstance(ref, int):
        return session.get(Incident, ref) if 1 <= ref <= INT4_MAX else None
    text = str(ref).strip()
    if _ASCII_DIGITS.fullmatch(text):
        number = int(text)
        return session.get(Incident, number) if 1 <= number <= INT4_MAX else None
    if not text or "\x00" in text or len(text) > 64:
        return None
    return session.scalar(select(Incident).where(Incident.public_id == text.upper()))


MAX_DUPLICATES = 10
"""Possible duplicates named at most (by a create, ``/duplicates``, Open311, the report form): the nearest. A
hotline export geocoded to one centroid can put 150,000 open cases on one point; listing them all made one
report answer 26 MB in 15-40 s."""


def find_duplicates(session: Session, incident: Incident, *, radius_m: float | None = None,
                    limit: int = MAX_DUPLICATES) -> list[Incident]:
    """The ``limit`` nearest open cases (not final) of the same category within ``radius_m`` metres of
    ``incident``, nearest first, the case itself and its own merged duplicates excluded. ``radius_m``: the
    settings' by default."""
    return [case for case, _ in duplicates_with_distance(session, incident, radius_m=radius_m, limit=limit)]


def duplicates_with_distance(
    session: Session, incident: Incident, *, radius_m: float | None = None, limit: int = MAX_DUPLICATES
) -> list[Nearby]:
    """:func:`find_duplicates` with each case's distance from ``incident`` in metres (on the ellipsoid)."""
    point = select(Incident.location).where(Incident.id == incident.id).scalar_subquery()
    lat = session.scalar(select(func.ST_Y(point))) or 0.0
    return _open_cases_near(session, point, lat, incident.category_code, radius_m, exclude_id=incident.id,
                            limit=limit)


def open_cases_near(
    session: Session, *, lon: float, lat: float, category_code: str, radius_m: float | None = None,
    limit: int = MAX_DUPLICATES,
) -> list[Nearby]:
    """Open cases of ``category_code`` within ``radius_m`` metres of a WGS84 point, nearest first, with
    their distance in metres: what a grid worker is shown *before* sending a report (the same rule as
    :func:`find_duplicates`, which the server applies after)."""
    point = func.ST_SetSRID(func.ST_MakePoint(literal(lon), literal(lat)), SRID)
    return _open_cases_near(session, point, lat, category_code, radius_m, exclude_id=None, limit=limit)


def _open_cases_near(
    session: Session, point: ColumnElement[Any], lat: float, category_code: str, radius_m: float | None, *,
    exclude_id: int | None, limit: int,
) -> list[Nearby]:
    """The rule behind the three above. The location index walks the cases nearest first (``<->``) and stops
    after ``limit`` matches, so the cost does not grow with the number of cases at the point; the few found
    are then ordered by metres."""
    radius_m = get_settings().duplicate_radius_m if radius_m is None else radius_m
    if radius_m <= 0 or limit <= 0:
        return []
    margin_deg = degrees_for_metres(radius_m, lat)
    metres = func.ST_Distance(cast(Incident.location, Geography), cast(point, Geography))
    conditions = [
        Incident.category_code == category_code,
        Incident.status.not_in([s.value for s in FINAL_STATUSES]),
        func.ST_DWithin(Incident.location, point, margin_deg),
        func.ST_DWithin(cast(Incident.location, Geography), cast(point, Geography), radius_m),
    ]
    if exclude_id is not None:
        conditions.append(Incident.id != exclude_id)
    nearest = (
        select(Incident.id).where(*conditions)
        .order_by(Incident.location.op("<->")(point), Incident.id)
        .limit(limit)
    )
    query = (select(Incident, metres.label("metres")).where(Incident.id.in_(nearest.scalar_subquery()))
             .order_by(metres, Incident.id))
    return [Nearby(case, float(distance)) for case, distance in session.execute(query)]


def mark_duplicate(
    session: Session,
    *,
    incident: Incident,
    of: Incident,
    actor: User,
    expected_version: int,
    note: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Merge ``incident`` into ``of`` (or into the case ``of`` was itself merged into): ``incident`` becomes
    'duplicate' with ``duplicate_of`` set, and ``of.duplicates`` lists it. Later updates of the duplicate go
    to the original (``Incident.canonical``; ``workflow.transition`` refuses with IsDuplicate). Returns the
    original. Same checks as :func:`gis.incidents.workflow.transition`; InvalidInput when merging a case into itself.
    """
    original = of.canonical
    if original.id == incident.id:
        raise InvalidInput(f"of: {incident.public_id} cannot be a duplicate of itself")
    transition(
        session, incident=incident, to="mark_duplicate", actor=actor, note=note, expected_version=expected_version,
        data={"original_id": original.id, "original": original.public_id}, now=now,
    )
    session.refresh(original, ["duplicates"])
    return original
