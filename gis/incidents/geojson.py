"""The map's list: a page of incidents as a GeoJSON FeatureCollection (RFC 7946), built by PostgreSQL in one
statement, the page and filters as in ``gis.incidents.query``.

It comes in two cuts. ``public=True`` (planners, exports, public maps) carries the ids, category, status, place
codes and dates only: no reporter, no description, no address — free text written in the field can hold names
and phone numbers. ``public=False`` (the supervision centre and teams, behind the API's checks) adds
description, address, source, team, version and the reporter's user id; never a name or a phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import ClauseElement, ColumnElement, Integer, Select, Text, bindparam, cast, func, literal, select, true
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from gis.db import driver_connection
from gis.incidents.query import (
    MOMENT,
    SORTS,
    IncidentFilter,
    encode_cursor,
    ordering,
    page_conditions,
    paged,
    parse_sort,
)
from gis.models import Category, Incident

DECIMALS = 7  # about 1 cm: more than any phone's GPS can tell


@dataclass(frozen=True)
class GeoJsonPage:
    geojson: bytes  # an RFC 7946 FeatureCollection
    returned: int
    next_cursor: str | None


def incidents_geojson(
    session: Session,
    filters: IncidentFilter | None = None,
    *,
    public: bool = True,
    sort: str = "-reported_at",
    limit: int = 1000,
    offset: int = 0,
    cursor: str | None = None,
    now: datetime | None = None,
) -> GeoJsonPage:
    """The same page as ``gis.incidents.query.list_incidents``, as a GeoJSON FeatureCollection built by
    PostgreSQL in the one statement of :func:`geojson_select`: no per-feature Python.

    The map's hot path: the statement comes compiled from :func:`geojson_query` and runs on the driver's cursor
    of the session's connection (see :func:`fetch_geojson`)."""
    now = now or datetime.now(UTC)
    sql, params = geojson_query(session.get_bind().dialect, filters, public=public, sort=sort, limit=limit,
                                offset=offset, cursor=cursor, now=now)
    body, returned, fetched, last_key, last_id = fetch_geojson(driver_connection(session), sql, params)
    next_cursor = encode_cursor(sort, last_key, last_id) if fetched > limit else None
    return GeoJsonPage(body, int(returned), next_cursor)


def geojson_query(
    dialect: Dialect,
    filters: IncidentFilter | None,
    *,
    public: bool,
    sort: str,
    limit: int,
    offset: int,
    cursor: str | None,
    now: datetime,
) -> tuple[str, dict[str, Any]]:
    """The driver's SQL of :func:`geojson_select` and its parameters, the statement built and compiled once per
    shape (the cut, the sort, which filters are set) and each call's values bound to it.

    Measured on 2 cores for 1,000 features, before: building the statement took ~2 ms of each call, and
    SQLAlchemy's cache key and parameters for it ~2.4 ms."""
    key, descending = parse_sort(sort)
    values = page_conditions(filters, key, descending, limit, offset, cursor, now)[1]
    values.update(last=offset + limit, now=now)
    shape = (dialect.name, dialect.driver, public, key, descending, filters and filters.overdue, *sorted(values))
    compiled = _COMPILED.get(shape)
    if compiled is None:
        statement = geojson_select(filters, public=public, sort=sort, limit=limit, offset=offset, cursor=cursor,
                                   now=now)
        compiled = _compile(statement, dialect, values)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[shape] = compiled
    sql, constants = compiled
    return sql, {**constants, **values}


def fetch_geojson(connection: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> tuple[Any, ...]:
    """The one row of :func:`geojson_query`'s statement, its text read as the UTF-8 bytes it arrives in:
    decoding the 0.7 MB of 1,000 features into a ``str`` and encoding it again for the answer took ~3 ms."""
    with connection.cursor(binary=True) as cursor:
        cursor.adapters.register_loader("text", _Utf8Bytes)
        row = cursor.execute(sql, params).fetchone()
    if row is None:  # an aggregate without GROUP BY always answers one row
        raise RuntimeError("the GeoJSON statement returned no row")
    return tuple(row)


_COMPILED: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
_COMPILED_MAX = 256  # shapes seen by one process; a real map client uses a handful


def _compile(statement: ClauseElement, dialect: Dialect, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The driver's SQL of ``statement`` and its constant parameters: those not named in ``values`` (the
    JSON text around the features, the statuses whose clock is stopped, the SRID), which every call with
    the same shape shares."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    unbound = sorted(set(values) - set(params))
    if unbound:  # a value the statement does not bind would be silently ignored: a bug here, not bad input
        raise RuntimeError(f"geojson_select binds no parameter named {', '.join(unbound)}")
    return str(compiled), {name: value for name, value in params.items() if name not in values}


class _Utf8Bytes(Loader):
    """``text`` in the binary format, kept as its UTF-8 bytes."""

    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def geojson_select(
    filters: IncidentFilter | None,
    *,
    public: bool,
    sort: str,
    limit: int,
    offset: int,
    cursor: str | None,
    now: datetime,
) -> Select[Any, int, int, Any, Any]:
    """The statement behind :func:`incidents_geojson`, which runs it compiled by :func:`geojson_query`. One row:
    the FeatureCollection, how many features are in the page, how many rows were fetched (one more than the page
    when another page follows), and the sort key and id of the page's last feature (the cursor). Every value
    that changes from call to call is a parameter named as ``gis.incidents.query.page_conditions`` names it, or ``last``
    (the page's last row number) and ``now``.

    Measured on 2 cores for 1,000 features of 20,000 (bench/RESULTS.md): 11–22 ms of PostgreSQL execution
    from run to run, of which 4–6 ms find and sort the rows and the rest writes their JSON, ~0.5 ms per
    property. Tried and no faster: JSON built in Python from binary rows; concatenating ``to_json`` of each
    column; ``format()`` instead of ``row_to_json``. Properties kept ready as JSON text in the row saved
    ~3 ms of a read, not worth a second copy of every case to keep in step on every write."""
    key, descending = parse_sort(sort)
    moment = bindparam("now", now, MOMENT)
    base = select(*_properties(public, moment), Incident.location.label("location"),
                  SORTS[key].label("sort_key"), Incident.id.label("internal_id"))
    base = base.join(Category, Category.code == Incident.category_code)
    order = ordering(key, descending)
    page, _ = paged(filters, key, descending, limit, offset, cursor, now, base)
    rows = page.add_columns(func.row_number().over(order_by=order).label("rn")).subquery("t")
    # The properties as one row, turned into a JSON object by row_to_json: a fifth of the time of
    # json_build_object with a name and a value per property, which looks up each value's type on every row.
    properties = select(*[rows.c[name] for name in _property_names(public)]).correlate(rows).lateral("p")
    # Concatenated as text: ST_AsGeoJSON already is JSON, and casting it to json to nest it would parse it
    # again (a third of the time of a 1,000-feature page).
    feature = (
        literal('{"type":"Feature","id":', Text)
        .concat(cast(func.to_json(rows.c.public_id), Text))
        .concat(literal(',"geometry":', Text))
        .concat(func.ST_AsGeoJSON(rows.c.location, DECIMALS))
        .concat(literal(',"properties":', Text))
        .concat(cast(func.row_to_json(properties.table_valued()), Text))
        .concat(literal("}", Text))
    )
    # row_number() counts before OFFSET: a page at offset 20 numbers its rows from 21.
    last = bindparam("last", offset + limit, Integer)
    in_page, last_of_page = rows.c.rn <= last, rows.c.rn == last
    features = func.coalesce(func.string_agg(feature, aggregate_order_by(literal(","), rows.c.rn)).filter(in_page), "")
    return select(
        literal('{"type":"FeatureCollection","features":[', Text).concat(features).concat(literal("]}", Text)),
        func.count().filter(in_page),
        func.count(),
        func.max(rows.c.sort_key).filter(last_of_page),
        func.max(rows.c.internal_id).filter(last_of_page),
    ).select_from(rows.join(properties, true()))


# -- the properties ---------------------------------------------------------------------------------------
def _properties(public: bool, now: datetime | ColumnElement[datetime]) -> list[Any]:
    columns: list[Any] = [
        # The internal id, which ``/api/v1/incidents/{id}`` takes and the public id ends in: map pages read
        # properties only, so it is a property too.
        Incident.id.label("id"),
        Incident.public_id.label("public_id"),
        Incident.category_code.label("category_code"),
        Category.name_zh.label("category_name"),
        Incident.status.label("status"),
        Incident.overdue_clause(now).label("overdue"),
        Incident.reported_at.label("reported_at"),
        Incident.updated_at.label("updated_at"),
        Incident.deadline_at.label("deadline_at"),
        Incident.closed_at.label("closed_at"),
        Incident.cell_code.label("cell_code"),
        Incident.community_code.label("community_code"),
        Incident.subdistrict_code.label("subdistrict_code"),
    ]
    if not public:
        columns += [
            Category.name_en.label("category_name_en"),
            Incident.description.label("description"),
            Incident.address.label("address"),
            Incident.source.label("source"),
            Incident.team_id.label("team_id"),
            Incident.reporter_id.label("reporter_id"),
            Incident.version.label("version"),
            Incident.escalated_at.label("escalated_at"),
            Incident.duplicate_of.label("duplicate_of"),
        ]
    return columns


_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)
PUBLIC_PROPERTIES = tuple(c.name for c in _properties(True, _ANY_TIME))
STAFF_PROPERTIES = tuple(c.name for c in _properties(False, _ANY_TIME))


def _property_names(public: bool) -> tuple[str, ...]:
    return PUBLIC_PROPERTIES if public else STAFF_PROPERTIES
