"""The evaluation indicators (考核指标) of CJ/T 292 for a period and a grouping, in one PostgreSQL statement.

The cohort is the cases reported in ``[from, to)`` within the caller's scope. Every fact about a case is
read from its events *as of* ``as_of = min(to, now)``: its status then (the target of its last event before
``as_of``), whether it was registered, dispatched, handled, sent back, extended, and the deadline in force
(the one recorded by its last dispatch, extension or reopening). So a report on a past week gives the same
figures whenever it is run, and ``closed`` counts the cohort's cases closed before ``to`` (and not
reopened before it). Counts are computed by PostgreSQL (one statement: a window over the cohort's events,
one aggregate per case, one per group with ``GROUPING SETS`` for the total); rates, the composite score and
the de-personalisation of rows are derived here from those counts. The README section "Evaluation
(考核评价)" gives every formula and where it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Numeric, RowMapping, cast, func, text
from sqlalchemy.orm import Session

from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope
from gis.evaluation.working_clock import WorkingClock
from gis.incidents.work_calendar import WorkCalendar, default_calendar
from gis.models.incidents import CLOCK_STOPPED, Status
from gis.settings import Settings

MAX_ROWS = 20_000  # more groups than the city has cells is a mistake


@dataclass(frozen=True)
class Weights:
    """Weights of the composite score (综合指标值); see ``Settings.evaluation_weight_*``."""

    closure: float = 0.3
    on_time: float = 0.4
    rework: float = 0.15  # applied to (1 − rework rate)
    check: float = 0.15

    @classmethod
    def from_settings(cls, settings: Settings) -> Weights:
        return cls(closure=settings.evaluation_weight_closure, on_time=settings.evaluation_weight_on_time,
                   rework=settings.evaluation_weight_rework, check=settings.evaluation_weight_check)


@dataclass(frozen=True)
class Counts:
    """The counted indicators of one group (names follow the issue's contract)."""

    reported: int  # 上报数
    valid: int  # 有效上报数
    registered: int  # 立案数
    dispatched: int  # 派遣数
    due: int  # 应结案数
    closed: int  # 结案数
    closed_on_time: int  # 按期结案数
    overdue: int  # 超期数 (as of min(to, now))
    handled: int  # 处置数 (cases handled at least once)
    rework: int  # 返工数 (cases sent back at least once)
    extended: int  # 延期数 (cases extended at least once)
    shelved: int  # 挂账数
    checks_due: int  # 应核查数 (handlings whose check was made or whose check time ran out)
    checks_on_time: int  # 按时核查数
    handling_hours_mean: float | None  # 平均处置用时 (working hours, closed cases)
    handling_hours_p90: float | None  # 处置用时 P90


@dataclass(frozen=True)
class Rates:
    valid_rate: float | None  # 有效上报率 = valid / reported
    registration_rate: float | None  # 立案率 = registered / valid
    closure_rate: float | None  # 结案率 = closed / due
    on_time_rate: float | None  # 按期结案率 = closed_on_time / due
    rework_rate: float | None  # 返工率 = rework / handled
    extension_rate: float | None  # 延期率 = extended / dispatched
    check_rate: float | None  # 核查及时率 = checks_on_time / checks_due
    score: float | None  # 综合指标值, 0–100


@dataclass(frozen=True)
class Row:
    """One group: its ``code`` and ``name`` (None for a de-personalised worker), counts and rates."""

    code: str | None
    name: str | None
    counts: Counts
    rates: Rates
    extra: Mapping[str, str | None] = field(default_factory=dict)  # major_code/major_name for categories

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, **self.extra, **asdict(self.counts), **asdict(self.rates)}


@dataclass(frozen=True)
class Evaluation:
    by: Grouping
    period: Period
    as_of: datetime
    rows: list[Row]
    total: Row
    truncated: bool


def ratio(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` rounded to 4 places, None when the denominator is 0."""
    return round(numerator / denominator, 4) if denominator else None


def composite(rates: Mapping[str, float | None], weights: Weights) -> float | None:
    """Σ wᵢ·xᵢ / Σ wᵢ × 100 over the components that are defined (x: closure rate, on-time rate,
    1 − rework rate, check rate); None when none is."""
    parts = [
        (weights.closure, rates["closure_rate"]),
        (weights.on_time, rates["on_time_rate"]),
        (weights.rework, None if rates["rework_rate"] is None else 1 - rates["rework_rate"]),
        (weights.check, rates["check_rate"]),
    ]
    defined = [(w, x) for w, x in parts if x is not None and w > 0]
    total = sum(w for w, _ in defined)
    if not total:
        return None
    return round(100 * sum(w * x for w, x in defined) / total, 2)


def rates_of(c: Counts, weights: Weights) -> Rates:
    values: dict[str, float | None] = {
        "valid_rate": ratio(c.valid, c.reported),
        "registration_rate": ratio(c.registered, c.valid),
        "closure_rate": ratio(c.closed, c.due),
        "on_time_rate": ratio(c.closed_on_time, c.due),
        "rework_rate": ratio(c.rework, c.handled),
        "extension_rate": ratio(c.extended, c.dispatched),
        "check_rate": ratio(c.checks_on_time, c.checks_due),
    }
    return Rates(**values, score=composite(values, weights))


# -- the statement ---------------------------------------------------------------------------------------
# Group keys and name look-ups, per grouping: SQL fragments of ours (never user input).
GROUP_KEY = {
    Grouping.city: "(SELECT min(code) FROM admin_area WHERE level = 'city' AND valid_to IS NULL)",
    Grouping.subdistrict: "i.subdistrict_code",
    Grouping.community: "i.community_code",
    Grouping.cell: "i.cell_code",
    Grouping.team: "CAST(i.team_id AS text)",
    Grouping.worker: "CAST(i.reporter_id AS text)",
    Grouping.category: "i.category_code",
    Grouping.major: "(SELECT c.major_code FROM category c WHERE c.code = i.category_code)",
}
GROUP_NAME = {
    Grouping.city: ("LEFT JOIN admin_area n ON n.code = g.code AND n.valid_to IS NULL", "n.name", ""),
    Grouping.subdistrict: ("LEFT JOIN admin_area n ON n.code = g.code AND n.valid_to IS NULL", "n.name", ""),
    Grouping.community: ("LEFT JOIN admin_area n ON n.code = g.code AND n.valid_to IS NULL", "n.name", ""),
    Grouping.cell: (
        "LEFT JOIN admin_area n ON n.code = substr(g.code, 1, 12) AND n.valid_to IS NULL",
        "n.name || ' ' || right(g.code, 3)", "",
    ),
    Grouping.team: ("LEFT JOIN team n ON CAST(n.id AS text) = g.code", "n.name", ""),
    Grouping.worker: ("LEFT JOIN app_user n ON CAST(n.id AS text) = g.code", "n.display_name", ""),
    Grouping.category: (
        "LEFT JOIN category n ON n.code = g.code", "n.name_zh",
        ", n.major_code AS major_code, n.major_name AS major_name",
    ),
    Grouping.major: (
        "LEFT JOIN (SELECT major_code, min(major_name) AS major_name FROM category GROUP BY major_code) n "
        "ON n.major_code = g.code", "n.major_name", "",
    ),
}
# A report found invalid (有效上报 excludes it); a case neither due nor overdue when parked or invalid.
INVALID = frozenset({Status.rejected, Status.void, Status.duplicate})
NOT_DUE = INVALID | {Status.shelved}


def _sql_list(statuses: frozenset[Status]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(statuses))


_STOPPED, _NOT_VALID, _NOT_DUE = _sql_list(CLOCK_STOPPED), _sql_list(INVALID), _sql_list(NOT_DUE)


def _statement(by: Grouping, clock: WorkingClock) -> str:
    w = clock.sql
    join, name, extra = GROUP_NAME[by]
    return f"""
WITH cohort AS (
    SELECT i.id, i.status, {GROUP_KEY[by]} AS code
    FROM incident i
    WHERE i.reported_at >= :t_from AND i.reported_at < :as_of
      AND (CAST(:communities AS text[]) IS NULL OR i.community_code = ANY(CAST(:communities AS text[])))
      AND (CAST(:cells AS text[]) IS NULL OR i.cell_code = ANY(CAST(:cells AS text[])))
),
steps AS (
    SELECT e.incident_id, e.id, e.at, e.action, e.to_status, e.data,
           lead(e.action) OVER w AS next_action, lead(e.at) OVER w AS next_at
    FROM incident_event e JOIN cohort c ON c.id = e.incident_id
    WHERE e.at < :as_of AND e.action <> 'escalate'
    WINDOW w AS (PARTITION BY e.incident_id ORDER BY e.at, e.id)
),
cases AS (
    SELECT c.id AS incident_id,
        -- a case without events (written by an old import) stands as it stands now
        coalesce((array_agg(s.to_status ORDER BY s.at DESC, s.id DESC))[1], min(c.status)) AS status,
        coalesce(bool_or(s.action = 'register'), false) AS registered,
        coalesce(bool_or(s.action = 'dispatch'), false) AS dispatched,
        min(s.at) FILTER (WHERE s.action = 'dispatch') AS first_dispatch_at,
        max(s.at) FILTER (WHERE s.action = 'handle') AS last_handle_at,
        max(s.at) FILTER (WHERE s.action = 'close') AS last_close_at,
        count(*) FILTER (WHERE s.action = 'handle') AS handles,
        count(*) FILTER (WHERE s.action = 'rework') AS reworks,
        count(*) FILTER (WHERE s.action = 'extend') AS extensions,
        CAST((array_agg(s.data ->> 'deadline_at' ORDER BY s.at DESC, s.id DESC)
              FILTER (WHERE s.action IN ('dispatch', 'extend', 'reopen')))[1] AS timestamptz) AS deadline_at,
        count(*) FILTER (WHERE s.action = 'handle' AND (
            s.next_action IN ('verify', 'rework')
            OR (s.next_action IS NULL AND {w(':as_of')} - {w('s.at')} > :check_hours))) AS checks_due,
        count(*) FILTER (WHERE s.action = 'handle' AND s.next_action IN ('verify', 'rework')
            AND {w('s.next_at')} - {w('s.at')} <= :check_hours) AS checks_on_time
    FROM cohort c LEFT JOIN steps s ON s.incident_id = c.id
    GROUP BY c.id
),
facts AS (
    SELECT c.code, k.*,
        k.status = 'closed' AS closed,
        k.registered AND k.status NOT IN ({_NOT_DUE})
            AND (k.status = 'closed' OR k.deadline_at < :as_of) AS due,
        k.status = 'closed' AND (k.deadline_at IS NULL
            OR coalesce(k.last_handle_at, k.last_close_at) <= k.deadline_at) AS on_time,
        {w('k.last_handle_at')} - {w('k.first_dispatch_at')} AS handling_hours
    FROM cohort c JOIN cases k ON k.incident_id = c.id
),
g AS (
    SELECT f.code, GROUPING(f.code) AS is_total,
        count(*) AS reported,
        count(*) FILTER (WHERE f.status NOT IN ({_NOT_VALID})) AS valid,
        count(*) FILTER (WHERE f.registered) AS registered,
        count(*) FILTER (WHERE f.dispatched) AS dispatched,
        count(*) FILTER (WHERE f.due) AS due,
        count(*) FILTER (WHERE f.closed) AS closed,
        count(*) FILTER (WHERE f.closed AND f.on_time) AS closed_on_time,
        count(*) FILTER (WHERE f.deadline_at < :as_of AND f.status NOT IN ({_STOPPED})) AS overdue,
        count(*) FILTER (WHERE f.handles > 0) AS handled,
        count(*) FILTER (WHERE f.reworks > 0) AS rework,
        count(*) FILTER (WHERE f.extensions > 0) AS extended,
        count(*) FILTER (WHERE f.status = 'shelved') AS shelved,
        coalesce(sum(f.checks_due), 0) AS checks_due,
        coalesce(sum(f.checks_on_time), 0) AS checks_on_time,
        avg(f.handling_hours) FILTER (WHERE f.closed) AS handling_hours_mean,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY f.handling_hours) FILTER (WHERE f.closed)
            AS handling_hours_p90
    FROM facts f
    GROUP BY GROUPING SETS ((f.code), ())
)
SELECT g.*, {name} AS name {extra}
FROM g {join}
ORDER BY g.is_total DESC, g.code NULLS LAST
LIMIT :row_limit
"""


_COUNT_FIELDS = tuple(Counts.__dataclass_fields__)


def statement(
    *,
    period: Period,
    by: Grouping,
    scope: EvaluationScope,
    check_hours: float = 2.0,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    limit: int = MAX_ROWS,
) -> tuple[str, dict[str, Any], datetime]:
    """The SQL text of the counts (one row per group, at most ``limit``, and the total row ``is_total = 1``),
    its bound parameters, and the ``as_of`` moment it reads the cases at. For :func:`evaluate` and for
    layers that wrap the counts in their own select."""
    as_of = min(period.end_at, now or datetime.now(UTC))
    cal = calendar or default_calendar()
    local_as_of = as_of.astimezone(cal.tz).date()
    clock = WorkingClock.over(cal, period.start, max(local_as_of, period.start) + timedelta(days=1))
    params: dict[str, Any] = {
        "t_from": period.start_at, "as_of": as_of, "check_hours": check_hours,
        "communities": None if scope.communities is None else sorted(scope.communities),
        "cells": None if scope.cells is None else sorted(scope.cells),
        "row_limit": limit + 1,  # and the total
        **clock.params(),
    }
    return _statement(by, clock), params, as_of


def evaluate(
    session: Session,
    *,
    period: Period,
    by: Grouping,
    scope: EvaluationScope,
    weights: Weights | None = None,
    check_hours: float = 2.0,
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
    limit: int = MAX_ROWS,
) -> Evaluation:
    """The indicators of the cases reported in ``period`` within ``scope``, one row per group of ``by``
    (at most ``limit``; ``truncated`` says when more exist) and a total over the whole scope.

    ``check_hours`` is the on-site check limit (核查时限) in working hours after a handling is reported.
    Working hours follow ``calendar`` (default: the shipped one)."""
    weights = weights or Weights()
    sql, params, as_of = statement(period=period, by=by, scope=scope, check_hours=check_hours, now=now,
                                   calendar=calendar, limit=limit + 1)  # one more: to know there are more
    result = session.execute(text(sql), params).mappings().all()
    total_rows = [r for r in result if r["is_total"]]
    groups = [r for r in result if not r["is_total"]]
    truncated = len(groups) > limit
    rows = [_row(r, by, scope, weights) for r in groups[:limit]]
    if by is Grouping.worker and not scope.names_people:
        rows = _depersonalised(rows)
    total = _row(total_rows[0], by, scope, weights) if total_rows else _empty(weights)
    total = Row(code=None, name="合计", counts=total.counts, rates=total.rates)
    return Evaluation(by=by, period=period, as_of=as_of, rows=rows, total=total, truncated=truncated)


def _row(r: RowMapping, by: Grouping, scope: EvaluationScope, weights: Weights) -> Row:
    values = {name: r[name] for name in _COUNT_FIELDS}
    for name in ("handling_hours_mean", "handling_hours_p90"):
        values[name] = None if values[name] is None else round(float(values[name]), 2)
    counts = Counts(**{k: v if k.startswith("handling") else int(v) for k, v in values.items()})
    extra = {"major_code": r["major_code"], "major_name": r["major_name"]} if by is Grouping.category else {}
    return Row(code=r["code"], name=r["name"], counts=counts, rates=rates_of(counts, weights), extra=extra)


def _empty(weights: Weights) -> Row:
    zeros: dict[str, Any] = {name: None if name.startswith("handling") else 0 for name in _COUNT_FIELDS}
    counts = Counts(**zeros)
    return Row(code=None, name=None, counts=counts, rates=rates_of(counts, weights))


def _depersonalised(rows: Sequence[Row]) -> list[Row]:
    """Worker rows without user ids or names: numbered in order of reports (most first), so a planner
    sees the spread of workloads but not whose."""
    ordered = sorted(rows, key=lambda row: (-row.counts.reported, row.code or ""))
    return [
        Row(code=None, name=f"网格员 {n}" if row.code is not None else "（无上报人）", counts=row.counts,
            rates=row.rates)
        for n, row in enumerate(ordered, start=1)
    ]



def sql_ratio(numerator: Any, denominator: Any) -> Any:
    """:func:`ratio` as an SQL expression (for layers): rounded to 4 places, NULL when the denominator is 0."""
    return func.round(cast(numerator, Numeric) / func.nullif(denominator, 0), 4)
