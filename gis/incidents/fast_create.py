"""The common report in one statement: the HTTP create's fast path.

A valid point inside a community, a usable category, no photos, no Idempotency-Key, a caller known by id:
one statement checks the reporter (still active, in a role that may report), locates the point, inserts the
case and its 'report' event, and finds its possible duplicates: one round trip instead of about ten. It
writes nothing when any of that fails; the caller then takes :func:`gis.incidents.service.create`, which words the
refusal (or accepts a point a few metres outside a community).

It runs on the driver's connection, prepared, and its row becomes plain model objects without the ORM's
result machinery: on a 2-core machine the ORM path cost 1.7–2.0 ms of Python per create and this one
0.5–0.6 ms (``bench/bench_incidents.py``); PostgreSQL's part is its cached plan (see ``gis.db.make_engine``).

:func:`gis.incidents.service.create` itself stays on the ORM's insert: its case is then the session's own new object,
which a later failed flush in the same session takes out of the session with its values intact (SQLAlchemy's
rule for objects it inserted); a case read back from a statement would be expired instead, and reading it
after such a failure would need the database. The HTTP create route, whose session does nothing else, takes
:func:`report_by_id`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from geoalchemy2 import WKBElement
from sqlalchemy import func, inspect, literal_column
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapper, Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.instrumentation import manager_of_class

from gis.db import driver_connection
from gis.errors import InvalidInput
from gis.evaluation import facts
from gis.incidents.location import check_coordinate, in_range, location_select, to_wgs84
from gis.incidents.service import (
    EARLIEST_REPORT,
    FUTURE_TOLERANCE,
    MAX_ADDRESS,
    MAX_DUPLICATES,
    Created,
    Nearby,
    case_number_head,
    check_text,
    parse_source,
)
from gis.models import SRID, Category, Incident, Source, Status, User
from gis.models.incidents import FINAL_STATUSES, MAX_DESCRIPTION
from gis.people.permissions import PERMISSIONS, Action
from gis.settings import Settings, get_settings
from gis.spatial.crs import InputDatum, degrees_for_metres

T = TypeVar("T")

_FINAL_SQL = ", ".join(f"'{s.value}'" for s in sorted(FINAL_STATUSES))  # our constants, not user input
REPORTER_ROLES = sorted(role.value for role in PERMISSIONS[Action.incident_create])


def _columns(model: type, alias: str) -> str:
    return ", ".join(f"ST_AsEWKB({alias}.{c.name}) AS {c.name}" if c.name == "location" else f"{alias}.{c.name}"
                     for c in model.__table__.c)  # type: ignore[attr-defined]


# Every value is a bound parameter (psycopg's %(name)s); the column lists come from the models. Possible
# duplicates are the MAX_DUPLICATES nearest open cases of the category (``near`` is MATERIALIZED and ordered by
# ``<->`` so that the location index walks the cases nearest first and stops after that many: neither the
# category index nor the number of cases at the point sets the cost). The result: the case (rank 0), then its
# possible duplicates nearest first, each row with the category and the caller.
def _located_sql() -> str:
    """The location rule (``gis.incidents.location.location_select``) as SQL text for this statement, on the
    statement's own ``%(lon)s``/``%(lat)s`` parameters: the fast path locates exactly as :func:`locate` does."""
    point = func.ST_SetSRID(func.ST_MakePoint(literal_column("%(lon)s"), literal_column("%(lat)s")), SRID)
    # "named" paramstyle: percent signs pass through unescaped, so the placeholders stay psycopg's.
    compiled = location_select(point).compile(dialect=postgresql.dialect(paramstyle="named"),  # type: ignore[no-untyped-call]
                                              compile_kwargs={"literal_binds": True})
    sql = str(compiled)
    if sql.count("%") != sql.count("%(lon)s") + sql.count("%(lat)s"):
        raise RuntimeError("the location rule's SQL holds a % that psycopg would read as a placeholder")
    return sql


_LOCATED = _located_sql()
STATEMENT = f"""
WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {SRID}) AS g),
caller AS (SELECT * FROM app_user WHERE id = %(reporter)s AND is_active AND role = ANY(%(roles)s)),
cat AS (SELECT * FROM category WHERE code = %(category)s AND active),
located AS ({_LOCATED}),
drawn AS (SELECT nextval(pg_get_serial_sequence('incident', 'id')) AS id FROM caller, located, cat),
ins AS (
    INSERT INTO incident (id, public_id, category_code, description, location, address, source, reporter_id,
                          cell_code, community_code, subdistrict_code, team_id, status, version, reported_at)
    SELECT drawn.id, %(prefix)s || lpad(drawn.id::text, greatest(6, length(drawn.id::text)), '0'), %(category)s,
           %(description)s, pt.g, %(address)s, %(source)s, %(reporter)s,
           located.cell_code, located.community_code, located.subdistrict_code, located.team_id,
           '{Status.reported.value}', 1, %(reported_at)s
    FROM drawn, located, pt
    RETURNING *),
event AS (
    INSERT INTO incident_event (incident_id, actor_id, at, action, from_status, to_status, data)
    SELECT ins.id, %(reporter)s, %(now)s, 'report', NULL, '{Status.reported.value}', CAST(%(event_data)s AS jsonb)
    FROM ins),
near AS MATERIALIZED (
    SELECT i.* FROM incident i, pt
    WHERE %(radius)s > 0 AND ST_DWithin(i.location, pt.g, %(margin)s) AND i.category_code = %(category)s
      AND i.status NOT IN ({_FINAL_SQL}) AND ST_DWithin(i.location::geography, pt.g::geography, %(radius)s)
    ORDER BY i.location <-> pt.g, i.id LIMIT %(most)s),
found AS (
    SELECT 0 AS rank, 0.0 AS metres, ins.* FROM ins
    UNION ALL
    SELECT 1, ST_Distance(near.location::geography, pt.g::geography), near.* FROM near, pt
    WHERE EXISTS (SELECT FROM ins))
SELECT {_columns(Incident, "found")}, {_columns(Category, "cat")}, {_columns(User, "caller")}, found.metres
FROM found, cat, caller
ORDER BY found.rank, found.metres, found.id
"""


def _attribute_keys(model: type) -> list[str]:
    """The mapped attribute of each table column, in the table's (the statement's) column order."""
    mapper: Mapper[Any] = inspect(model)
    return [mapper.get_property_by_column(c).key for c in model.__table__.c]  # type: ignore[attr-defined]


# Building objects by hand needs the mappers set up, which the ORM otherwise does on its first query: in a
# fresh server process the first create may come before any.
configure_mappers()
_INCIDENT_KEYS, _CATEGORY_KEYS, _USER_KEYS = (_attribute_keys(m) for m in (Incident, Category, User))
_LOCATION = _INCIDENT_KEYS.index("location")
_ID = _INCIDENT_KEYS.index("id")


def _loaded(model: type[T], keys: Sequence[str], values: Sequence[Any], **related: object) -> T:
    """A ``model`` object for a row already in the database, detached, as if loaded by a session since
    closed: its columns read without a session, and added to a session it is the stored row (an update, never
    an insert). Built as the ORM's loader builds objects (a new instance, the values into its dict), without
    the loader's per-column machinery."""
    instance: T = manager_of_class(model).new_instance()
    instance.__dict__.update(zip(keys, values, strict=True), **related)
    make_transient_to_detached(instance)
    return instance


def report_by_id(
    session: Session,
    *,
    user_id: int,
    category_code: str,
    lon: object,
    lat: object,
    datum: InputDatum | str = InputDatum.wgs84,
    description: str | None = "",
    address: str | None = None,
    source: Source | str = Source.patrol,
    reported_at: datetime | None = None,
    duplicate_radius_m: float | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[User, Created] | None:
    """The common report by a signed-in user known so far only by id (a verified token's subject): the
    user and the report, from one statement that also checks, now, that the user is active and in a role
    that may report. Same meaning of every argument as :func:`gis.incidents.service.create`; no photos, no
    Idempotency-Key. Runs in ``session``'s transaction (or, on an autocommit engine, commits on its own).

    The objects returned are detached (not in ``session``), as if loaded and the session closed.
    None, with nothing written, whenever anything is off (the user, the category, the point, any field):
    the caller then looks the user up and calls :func:`gis.incidents.service.create`, which raises the precise error."""
    settings = settings or get_settings()
    duplicate_radius_m = settings.duplicate_radius_m if duplicate_radius_m is None else duplicate_radius_m
    now = now or datetime.now(UTC)
    reported = reported_at or now
    try:
        code = str(category_code).strip() if category_code is not None else ""
        text_value = check_text(description, "description", MAX_DESCRIPTION)
        address_value = check_text(address, "address", MAX_ADDRESS).strip() or None
        source_value = parse_source(source)
        x, y = check_coordinate(lon, "lon"), check_coordinate(lat, "lat")
        if not code or not in_range(x, y) or reported.tzinfo is None or reported > now + FUTURE_TOLERANCE \
                or reported < EARLIEST_REPORT:
            return None
        wx, wy = (x, y) if datum == InputDatum.wgs84 else to_wgs84(x, y, datum)
    except InvalidInput:
        return None
    margin_deg = degrees_for_metres(duplicate_radius_m, wy)
    rows = driver_connection(session).execute(STATEMENT, {
        "lon": wx, "lat": wy, "category": code,
        "prefix": case_number_head(reported, settings),
        "description": text_value, "address": address_value, "source": source_value.value, "reporter": user_id,
        "roles": REPORTER_ROLES, "reported_at": reported, "now": now,
        "event_data": json.dumps({"source": source_value.value, "datum": str(datum)}),
        "radius": duplicate_radius_m, "margin": margin_deg, "most": MAX_DUPLICATES,
    }, prepare=True).fetchall()
    if not rows:
        return None
    # The evaluation's copy of the case, in the same transaction; its one event is the report, at ``now``.
    facts.refresh(session, int(rows[0][_ID]), events_at=(now, now))
    n_incident, n_category = len(_INCIDENT_KEYS), len(_CATEGORY_KEYS)
    first = rows[0]
    category = _loaded(Category, _CATEGORY_KEYS, first[n_incident : n_incident + n_category])
    user = _loaded(User, _USER_KEYS, first[n_incident + n_category : -1])  # the last column: metres
    found = [
        _loaded(Incident, _INCIDENT_KEYS, row[:n_incident],
                location=WKBElement(row[_LOCATION], srid=SRID, extended=True),  # as the ORM gives it
                category=category)  # it came in the same row: no lazy load when a reader asks for it
        for row in rows
    ]
    # The caller's own time, as create returns it (the database's copy is the same instant).
    found[0].__dict__["reported_at"] = reported
    return user, Created(found[0], [Nearby(case, float(row[-1])) for case, row in zip(found[1:], rows[1:],
                                                                                       strict=True)])
