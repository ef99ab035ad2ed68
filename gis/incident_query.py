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
from sqlalchemy import ColumnElement, Select, Text, cast, false, func, literal, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
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
        where: list[ColumnElement[bool]] = []
        if self.bbox is not None:
            check_bbox(self.bbox)
            where.append(func.ST_Intersects(Incident.location, func.ST_MakeEnvelope(*self.bbox, 4326)))
        if self.categories:
            where.append(Incident.category_code.in_(list(self.categories)))
        if self.statuses:
            unknown = sorted(set(self.statuses) - {s.value for s in Status})
            if unknown:
                raise InvalidInput(f"status: unknown {', '.join(unknown)}; one of {', '.join(Status)}")
            where.append(Incident.status.in_(list(self.statuses)))
        equals: list[tuple[Any, object]] = [
            (Incident.subdistrict_code, self.subdistrict_code), (Incident.community_code, self.community_code),
            (Incident.cell_code, self.cell_code), (Incident.team_id, self.team_id),
        ]
        for column, value in equals:
            if value is not None:
                where.append(column == value)
        windows: list[tuple[str, Any, datetime | None, datetime | None]] = [
            ("reported", Incident.reported_at, self.reported_from, self.reported_to),
            ("updated", Incident.updated_at, self.updated_from, self.updated_to),
        ]
        for name, column, low, high in windows:
            if low is not None:
                where.append(column >= _aware(low, f"{name}_from"))
            if high is not None:
                where.append(column < _aware(high, f"{name}_to"))
        if self.overdue is not None:
            where.append(overdue_clause(now) if self.overdue else ~overdue_clause(now))
        for column, allowed in ((Incident.community_code, self.within_communities),
                                (Incident.cell_code, self.within_cells)):
            if allowed is None:
                continue
            inside: ColumnElement[bool] = column.in_(list(allowed)) if allowed else false()
            if self.also_reported_by is not None:
                inside = or_(inside, Incident.reporter_id == self.also_reported_by)
            where.append(inside)
        return where


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
    rows = list(session.scalars(_page(filters, key, descending, limit, offset, cursor, now, select(Incident))))
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
    statement of :func:`geojson_select`: no per-feature Python."""
    now = now or datetime.now(UTC)
    statement = geojson_select(filters, public=public, sort=sort, limit=limit, offset=offset, cursor=cursor, now=now)
    body, returned, fetched, last_key, last_id = session.execute(statement).one()
    next_cursor = _encode_cursor(sort, last_key, last_id) if fetched > limit else None
    geojson = b'{"type":"FeatureCollection","features":[' + body.encode() + b"]}"
    return GeoJsonPage(geojson, int(returned), next_cursor)


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
    """The statement behind :func:`incidents_geojson`, apart so that the benchmark can time PostgreSQL alone
    on it. One row: the features joined by commas, how many are in the page, how many were fetched (one more
    than the page when another page follows), and the sort key and id of the page's last feature (the cursor).

    Measured on 2 cores for 1,000 features of 20,000 (bench/RESULTS.md): 11–18 ms of PostgreSQL execution
    from run to run, of which ~3.5 ms find and sort the rows and the rest writes their JSON; building the JSON
    in Python from binary rows, or by concatenating ``to_json`` of each column, was no faster."""
    key, descending = _sort(sort)
    base = select(*_properties(public, now), Incident.location.label("location"),
                  SORTS[key].label("sort_key"), Incident.id.label("internal_id"))
    base = base.join(Category, Category.code == Incident.category_code)
    ordering = _ordering(key, descending)
    page = _page(filters, key, descending, limit, offset, cursor, now, base)
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
    in_page, last_of_page = rows.c.rn <= limit, rows.c.rn == limit
    return select(
        func.coalesce(func.string_agg(feature, aggregate_order_by(literal(","), rows.c.rn)).filter(in_page), ""),
        func.count().filter(in_page),
        func.count(),
        func.max(rows.c.sort_key).filter(last_of_page),
        func.max(rows.c.internal_id).filter(last_of_page),
    ).select_from(rows.join(properties, true()))


# -- internals ------------------------------------------------------------------------------------------
def _properties(public: bool, now: datetime) -> list[Any]:
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
) -> Select[Any]:
    """``stmt`` filtered, ordered and cut to one page plus one row (to know whether another page follows)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidInput("offset: must not be negative")
    if cursor is not None and offset:
        raise InvalidInput("cursor: page with a cursor or with an offset, not both")
    stmt = stmt.where(*(filters or IncidentFilter()).conditions(now or datetime.now(UTC)))
    if cursor is not None:
        stmt = stmt.where(_after(cursor, key, descending))
    return stmt.order_by(*_ordering(key, descending)).offset(offset or None).limit(limit + 1)


def _after(cursor: str, key: str, descending: bool) -> ColumnElement[bool]:
    """Rows after the cursor's row in the page order (row comparison: the (key, id) index serves it)."""
    sort, value, last_id = _decode_cursor(cursor)
    if _sort(sort) != (key, descending):
        raise InvalidInput(f"cursor: it was made for sort {sort!r}; ask again from the first page")
    column = SORTS[key]
    if key == "id":
        return column < last_id if descending else column > last_id
    bound = datetime.fromisoformat(value) if isinstance(value, str) else value
    pair, after = tuple_(column, Incident.id), tuple_(literal(bound), literal(last_id))
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
