"""Listing incidents: one filter for lists, counts and maps (``gis.incidents.geojson``); pages by offset or
keyset cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ARRAY,
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.models import Incident, Status
from gis.spatial.bbox import BBox, check_bbox

MAX_LIMIT = 10_000
SORTS: dict[str, Any] = {"reported_at": Incident.reported_at, "updated_at": Incident.updated_at, "id": Incident.id}


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
        ``gis.incidents.geojson`` keeps its compiled statement by those and binds each call's values to it."""
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
            late = Incident.overdue_clause(bind("now", now, MOMENT))
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
MOMENT = DateTime(timezone=True)  # a bound timestamp with its zone


@dataclass(frozen=True)
class IncidentPage:
    items: list[Incident]
    next_cursor: str | None  # pass back as ``cursor`` for the next page; None on the last page


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
    key, descending = parse_sort(sort)
    statement, _ = paged(filters, key, descending, limit, offset, cursor, now, select(Incident))
    rows = list(session.scalars(statement))
    items = rows[:limit]
    return IncidentPage(items, _cursor(sort, items[-1]) if len(rows) > limit else None)


def count_incidents(session: Session, filters: IncidentFilter | None = None, *, now: datetime | None = None) -> int:
    where = (filters or IncidentFilter()).conditions(now or datetime.now(UTC))
    return int(session.scalar(select(func.count()).select_from(Incident).where(*where)) or 0)


# -- paging, shared with gis.incidents.geojson ----------------------------------------------------------------
def parse_sort(sort: str) -> tuple[str, bool]:
    """``-reported_at`` → (``reported_at``, descending); InvalidInput naming the sorts there are."""
    descending = sort.startswith("-")
    key = sort.lstrip("-+ ")
    if key not in SORTS:
        raise InvalidInput(f"sort: unknown {sort!r}; one of {', '.join(SORTS)} (prefix - for descending)")
    return key, descending


def ordering(key: str, descending: bool) -> list[Any]:
    """ORDER BY for a sort, ties broken by id, so that pages and cursors are stable."""
    column = SORTS[key]
    if key == "id":
        return [column.desc() if descending else column.asc()]
    return [column.desc(), Incident.id.desc()] if descending else [column.asc(), Incident.id.asc()]


def paged(
    filters: IncidentFilter | None, key: str, descending: bool, limit: int, offset: int, cursor: str | None,
    now: datetime | None, stmt: Select[Any],
) -> tuple[Select[Any], dict[str, Any]]:
    """``stmt`` filtered, ordered and cut to one page plus one row (to know whether another page follows), and
    the values it binds by name (see :func:`page_conditions`)."""
    where, values = page_conditions(filters, key, descending, limit, offset, cursor, now)
    stmt = stmt.where(*where).order_by(*ordering(key, descending))
    stmt = stmt.limit(bindparam("fetch", values["fetch"], Integer))
    if "offset" in values:
        stmt = stmt.offset(bindparam("offset", values["offset"], Integer))
    return stmt, values


def page_conditions(
    filters: IncidentFilter | None, key: str, descending: bool, limit: int, offset: int, cursor: str | None,
    now: datetime | None,
) -> tuple[list[ColumnElement[bool]], dict[str, Any]]:
    """The page's conditions (the filter's and the cursor's) and every value :func:`paged` binds, by name: those
    of :meth:`IncidentFilter.bound_conditions`, ``fetch`` (the LIMIT) and ``offset`` when there is one."""
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
    values["fetch"] = limit + 1
    if offset:
        values["offset"] = offset
    return where, values


def _after(cursor: str, key: str, descending: bool, bind: _Binder) -> ColumnElement[bool]:
    """Rows after the cursor's row in the page order (row comparison: the (key, id) index serves it)."""
    sort, value, last_id = _decode_cursor(cursor)
    if parse_sort(sort) != (key, descending):
        raise InvalidInput(f"cursor: it was made for sort {sort!r}; ask again from the first page")
    column = SORTS[key]
    if key == "id":
        after_id = bind("after_id", last_id, Integer)
        moved: ColumnElement[bool] = column < after_id if descending else column > after_id
        return moved
    bound = datetime.fromisoformat(value) if isinstance(value, str) else value
    pair = tuple_(column, Incident.id)
    after = tuple_(bind("after_key", bound, MOMENT), bind("after_id", last_id, Integer))
    return pair < after if descending else pair > after


def _cursor(sort: str, incident: Incident) -> str:
    key, _ = parse_sort(sort)
    return encode_cursor(sort, getattr(incident, key), incident.id)


def encode_cursor(sort: str, value: datetime | int, last_id: int) -> str:
    """The opaque ``next_cursor`` after the row with this sort key and id."""
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
