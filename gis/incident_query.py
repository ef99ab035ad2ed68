"""Listing incidents: one filter for lists, counts and maps; pages by offset or keyset cursor; GeoJSON built
by PostgreSQL.

The GeoJSON comes in two cuts. ``public=True`` (planners, exports, public maps) carries the ids, category,
status, place codes and dates only: no reporter, no description, no address — free text written in the field
can hold names and phone numbers. ``public=False`` (the supervision centre and teams, behind the API's checks)
adds description, address, source, team, version and the reporter's user id; never a name or a phone.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import (
    ARRAY,
    BindParameter,
    ClauseElement,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.layers.base import BBox, check_bbox
from gis.models import Category, Incident, Status
from gis.workflow import overdue_clause

MAX_LIMIT = 10_000
SORTS: dict[str, Any] = {"reported_at": Incident.reported_at, "updated_at": Incident.updated_at, "id": Incident.id}
DECIMALS = 7  # about 1 cm: more than any phone's GPS can tell


@dataclass(frozen=True)
class IncidentFilter:
    """What to list. Empty sequences and None mean "any". ``within_communities`` restricts to a
    jurisdiction and ``within_cells`` to a grid worker's cells (None: anywhere; empty: nothing), both
    widened to the cases ``also_reported_by`` reported."""

    bbox: BBox | None = None
    categories: Sequence[str] = ()
    statuses: Sequence[str] = ()
    subdistrict_code: str | None = None
    community_code: str | None = None
    cell_code: str | None = None
    team_id: int | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    overdue: bool | None = None
    within_communities: Collection[str] | None = None
    within_cells: Collection[str] | None = None
    also_reported_by: int | None = None

    def limited_by(self, scope: IncidentFilter) -> IncidentFilter:
        """This filter within the restriction of ``scope`` (what a caller's role lets them read)."""
        return replace(self, within_communities=scope.within_communities, within_cells=scope.within_cells,
                       also_reported_by=scope.also_reported_by)

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        """SQL conditions on ``Incident``; InvalidInput (naming the field) for values that cannot match."""
        return self.bound_conditions(now)[0]

    def bound_conditions(self, now: datetime) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
        """The conditions, and their values by the names they are bound to.

        Every value is a parameter named for its field, and lists are bound whole (``= ANY(array)``), so the SQL
        depends only on which fields are set (the names of the values) and on ``overdue``, true or false.
        :func:`incidents_geojson` keeps its compiled statement by those and binds each call's values to it."""
        bind = _Binder()
        where: list[ColumnElement[bool]] = []
        if self.bbox is not None:
            check_bbox(self.bbox)
            names = ("xmin", "ymin", "xmax", "ymax")
            corners = [bind(name, float(v)) for name, v in zip(names, self.bbox, strict=True)]
            where.append(func.ST_Intersects(Incident.location, func.ST_MakeEnvelope(*corners, 4326)))
        if self.categories:
            where.append(Incident.category_code == any_(bind("categories", list(self.categories), _CODES)))
        if self.statuses:
            unknown = sorted(set(self.statuses) - {s.value for s in Status})
            if unknown:
                raise InvalidInput(f"status: unknown {', '.join(unknown)}; one of {', '.join(Status)}")
            where.append(Incident.status == any_(bind("statuses", list(self.statuses), _CODES)))
        equals: list[tuple[Any, str, object]] = [
            (Incident.subdistrict_code, "subdistrict_code", self.subdistrict_code),
            (Incident.community_code, "community_code", self.community_code),
            (Incident.cell_code, "cell_code", self.cell_code), (Incident.team_id, "team_id", self.team_id),
        ]
        for column, name, value in equals:
            if value is not None:
                where.append(column == bind(name, value))
        windows: list[tuple[str, Any, datetime | None, datetime | None]] = [
            ("reported", Incident.reported_at, self.reported_from, self.reported_to),
            ("updated", Incident.updated_at, self.updated_from, self.updated_to),
        ]
        for name, column, low, high in windows:
            if low is not None:
                where.append(column >= bind(f"{name}_from", _aware(low, f"{name}_from")))
            if high is not None:
                where.append(column < bind(f"{name}_to", _aware(high, f"{name}_to")))
        if self.overdue is not None:
            late = overdue_clause(bind("now", now, _MOMENT))
            where.append(late if self.overdue else ~late)
        for column, name, allowed in ((Incident.community_code, "within_communities", self.within_communities),
                                      (Incident.cell_code, "within_cells", self.within_cells)):
            if allowed is None:
                continue
            # An empty list matches nothing: = ANY of an empty array is false.
            inside: ColumnElement[bool] = column == any_(bind(name, sorted(allowed), _CODES))
            if self.also_reported_by is not None:
                inside = or_(inside, Incident.reporter_id == bind("also_reported_by", self.also_reported_by))
            where.append(inside)
        return where, bind.values


class _Binder:
    """Named bind parameters, with a record of their values."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = {} if values is None else values

    def __call__(self, name: str, value: Any, type_: Any = None) -> BindParameter[Any]:
        self.values[name] = value
        return bindparam(name, value, type_=type_)


_CODES = ARRAY(String)
_MOMENT = DateTime(timezone=True)


@dataclass(frozen=True)
class IncidentPage:
    items: list[Incident]
    next_cursor: str | None  # pass back as ``cursor`` for the next page; None on the last page


@dataclass(frozen=True)
class GeoJsonPage:
    geojson: bytes  # an RFC 7946 FeatureCollection
    returned: int
    next_cursor: str | None


def list_incidents(
    session: Session,
    filters: IncidentFilter | None = None,
    *,
    sort: str = "-reported_at",
    limit: int = 100,
    offset: int = 0,
    cursor: str | None = None,
    now: datetime | None = None,
) -> IncidentPage:
    """A page of incidents as ORM rows. ``sort`` is reported_at, updated_at or id, ``-`` for descending
    (ties broken by id). Page with ``offset`` or, faster and stable under inserts, with the ``cursor``
    of the previous page (the same ``sort``)."""
    key, descending = _sort(sort)
    statement, _ = _page(filters, key, descending, limit, offset, cursor, now, select(Incident))
    rows = list(session.scalars(statement))
    items = rows[:limit]
    return IncidentPage(items, _cursor(sort, items[-1]) if len(rows) > limit else None)


def count_incidents(session: Session, filters: IncidentFilter | None = None, *, now: datetime | None = None) -> int:
    where = (filters or IncidentFilter()).conditions(now or datetime.now(UTC))
    return int(session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0)


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
    """The same page as :func:`list_incidents`, as a GeoJSON FeatureCollection built by PostgreSQL in the one
    statement of :func:`geojson_select`: no per-feature Python.

    The map's hot path: the statement comes compiled from :func:`geojson_query` and runs on the driver's cursor
    of the session's connection (see :func:`fetch_geojson`)."""
    now = now or datetime.now(UTC)
    sql, params = geojson_query(session.get_bind().dialect, filters, public=public, sort=sort, limit=limit,
                                offset=offset, cursor=cursor, now=now)
    driver = session.connection().connection.driver_connection
    if driver is None:  # a connection the session has checked out always has one
        raise RuntimeError("the session's connection has no driver connection")
    body, returned, fetched, last_key, last_id = fetch_geojson(driver, sql, params)
    next_cursor = _encode_cursor(sort, last_key, last_id) if fetched > limit else None
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
    key, descending = _sort(sort)
    # The checks and the values of the page; the small statement it is built on here is not used.
    values = _page(filters, key, descending, limit, offset, cursor, now, select(Incident.id))[1]
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
    that changes from call to call is a parameter named as :func:`_page` names it, or ``last`` (the page's last
    row number) and ``now``.

    Measured on 2 cores for 1,000 features of 20,000 (bench/RESULTS.md): 11–22 ms of PostgreSQL execution
    from run to run, of which 4–6 ms find and sort the rows and the rest writes their JSON, ~0.5 ms per
    property. Tried and no faster: JSON built in Python from binary rows; concatenating ``to_json`` of each
    column; properties kept ready as JSON text in the row (saved ~3 ms of a read, cost every write)."""
    key, descending = _sort(sort)
    moment = bindparam("now", now, _MOMENT)
    base = select(*_properties(public, moment), Incident.location.label("location"),
                  SORTS[key].label("sort_key"), Incident.id.label("internal_id"))
    base = base.join(Category, Category.code == Incident.category_code)
    ordering = _ordering(key, descending)
    page, _ = _page(filters, key, descending, limit, offset, cursor, now, base)
    rows = page.add_columns(func.row_number().over(order_by=ordering).label("rn")).subquery("t")
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


# -- internals ------------------------------------------------------------------------------------------
def _properties(public: bool, now: datetime | ColumnElement[datetime]) -> list[Any]:
    columns: list[Any] = [
        # The internal id, which ``/api/v1/incidents/{id}`` takes and the public id ends in: map pages read
        # properties only, so it is a property too.
        Incident.id.label("id"),
        Incident.public_id.label("public_id"),
        Incident.category_code.label("category_code"),
        Category.name_zh.label("category_name"),
        Incident.status.label("status"),
        overdue_clause(now).label("overdue"),
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


def _sort(sort: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    key = sort.lstrip("-+ ")
    if key not in SORTS:
        raise InvalidInput(f"sort: unknown {sort!r}; one of {', '.join(SORTS)} (prefix - for descending)")
    return key, descending


def _ordering(key: str, descending: bool) -> list[Any]:
    column = SORTS[key]
    if key == "id":
        return [column.desc() if descending else column.asc()]
    return [column.desc(), Incident.id.desc()] if descending else [column.asc(), Incident.id.asc()]


def _page(
    filters: IncidentFilter | None, key: str, descending: bool, limit: int, offset: int, cursor: str | None,
    now: datetime | None, stmt: Select[Any],
) -> tuple[Select[Any], dict[str, Any]]:
    """``stmt`` filtered, ordered and cut to one page plus one row (to know whether another page follows), and
    the values it binds by name (see :meth:`IncidentFilter.bound_conditions`)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset: must not be negative")
    if cursor is not None and offset:
        raise InvalidInput("cursor: page with a cursor or with an offset, not both")
    where, values = (filters or IncidentFilter()).bound_conditions(now or datetime.now(UTC))
    bind = _Binder(values)
    if cursor is not None:
        where.append(_after(cursor, key, descending, bind))
    stmt = stmt.where(*where).order_by(*_ordering(key, descending)).limit(bind("fetch", limit + 1, Integer))
    if offset:
        stmt = stmt.offset(bind("offset", offset, Integer))
    return stmt, bind.values


def _after(cursor: str, key: str, descending: bool, bind: _Binder) -> ColumnElement[bool]:
    """Rows after the cursor's row in the page order (row comparison: the (key, id) index serves it)."""
    sort, value, last_id = _decode_cursor(cursor)
    if _sort(sort) != (key, descending):
        raise InvalidInput(f"cursor: it was made for sort {sort!r}; ask again from the first page")
    column = SORTS[key]
    if key == "id":
        after_id = bind("after_id", last_id, Integer)
        return column < after_id if descending else column > after_id
    bound = datetime.fromisoformat(value) if isinstance(value, str) else value
    pair = tuple_(column, Incident.id)
    after = tuple_(bind("after_key", bound, _MOMENT), bind("after_id", last_id, Integer))
    return pair < after if descending else pair > after


def _cursor(sort: str, incident: Incident) -> str:
    key, _ = _sort(sort)
    return _encode_cursor(sort, getattr(incident, key), incident.id)


def _encode_cursor(sort: str, value: datetime | int, last_id: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(orjson.dumps([sort, raw, last_id])).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str | int, int]:
    try:
        sort, value, last_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(sort, str) and isinstance(value, str | int) and isinstance(last_id, int)):
            raise ValueError
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidInput("cursor: not a cursor this service made; ask again from the first page") from None
    return sort, value, last_id


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{name}: give a time zone (e.g. 2026-03-02T00:00:00+08:00)")
    return moment
