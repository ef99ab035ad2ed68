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

from gis.evaluation import facts
from gis.evaluation.facts import CASE_COLUMNS, INVALID, per_case_sql
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
# A case neither due nor overdue when parked or invalid (INVALID: not a valid report, gis.evaluation.facts).
NOT_DUE = INVALID | {Status.shelved}


def _sql_list(statuses: frozenset[Status]) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(statuses))


_STOPPED, _NOT_VALID, _NOT_DUE = _sql_list(CLOCK_STOPPED), _sql_list(INVALID), _sql_list(NOT_DUE)


_IN_SCOPE = """i.reported_at >= :t_from AND i.reported_at < :as_of
      AND (CAST(:communities AS text[]) IS NULL OR i.community_code = ANY(CAST(:communities AS text[])))
      AND (CAST(:cells AS text[]) IS NULL OR i.cell_code = ANY(CAST(:cells AS text[])))"""


def _statement(by: Grouping, clock: WorkingClock, *, use_facts: bool) -> str:
    """The counts' SQL: per case (:data:`facts.CASE_COLUMNS` and the group ``code``), then per group.

    With ``use_facts``, a case whose last event precedes ``as_of`` is read from its ``incident_fact`` row,
    and only the others (a past period's cases whose history goes on after it) from their events, by the
    same per-case select (``facts.per_case_sql``); without, every case from its events (the reference).
    The counts are one hashed (parallel) aggregate per group, the total their sum; the P90 is its own sorted
    aggregate over the closed cases' handling hours alone, so that the counts need no sort."""
    w = clock.sql
    join, name, extra = GROUP_NAME[by]
    key = GROUP_KEY[by]
    columns = ", ".join(f"k.{c}" for c in CASE_COLUMNS)
    if use_facts:
        cohort = f"""SELECT i.incident_id AS id, n.status, n.deadline_at, {key} AS code
    FROM incident_fact i JOIN incident n ON n.id = i.incident_id
    WHERE {_IN_SCOPE} AND i.last_event_at >= :as_of"""

        def settled(wanted: str, where: str = "") -> str:
            return (f"SELECT {key} AS code, {wanted} FROM incident_fact i WHERE {_IN_SCOPE}"
                    f" AND (i.last_event_at < :as_of OR i.last_event_at IS NULL){where} UNION ALL ")
    else:
        cohort = f"SELECT i.id, i.status, i.deadline_at, {key} AS code FROM incident i WHERE {_IN_SCOPE}"

        def settled(wanted: str, where: str = "") -> str:
            return ""
    sums = ", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in _SUMMED)

    def counts(source: str) -> str:
        # Written out once per source, so that the facts' part is a plain (parallel) scan of one table.
        return f"""SELECT f.code,
        count(*) AS reported,
        count(*) FILTER (WHERE f.status NOT IN ({_NOT_VALID})) AS valid,
        count(*) FILTER (WHERE f.registered) AS registered,
        count(*) FILTER (WHERE f.dispatched) AS dispatched,
        count(*) FILTER (WHERE f.registered AND f.status NOT IN ({_NOT_DUE})
            AND (f.status = 'closed' OR f.deadline_at < :as_of)) AS due,
        count(*) FILTER (WHERE f.status = 'closed') AS closed,
        count(*) FILTER (WHERE f.status = 'closed' AND (f.deadline_at IS NULL
            OR coalesce(f.last_handle_at, f.last_close_at) <= f.deadline_at)) AS closed_on_time,
        count(*) FILTER (WHERE f.deadline_at < :as_of AND f.status NOT IN ({_STOPPED})) AS overdue,
        count(*) FILTER (WHERE f.handles > 0) AS handled,
        count(*) FILTER (WHERE f.reworks > 0) AS rework,
        count(*) FILTER (WHERE f.extensions > 0) AS extended,
        count(*) FILTER (WHERE f.status = 'shelved') AS shelved,
        sum(f.checks_made) + count(*) FILTER (WHERE f.pending_check_at IS NOT NULL
            AND {w(':as_of')} - {w('f.pending_check_at')} > :check_hours) AS checks_due,
        coalesce(sum(width_bucket(CAST(:check_hours AS float8), f.check_delays)), 0) AS checks_on_time,
        sum(f.handling_hours) FILTER (WHERE f.status = 'closed') AS hours_sum,
        count(f.handling_hours) FILTER (WHERE f.status = 'closed') AS hours_n
    FROM ({source}) f
    GROUP BY f.code"""
    parts = [counts("SELECT * FROM fresh")]
    if use_facts:
        parts.insert(0, counts(settled(columns.replace("k.", "i.")).removesuffix(" UNION ALL ")))
    return f"""
WITH cohort AS ({cohort}),
{per_case_sql(w, ":as_of")},
fresh AS (SELECT c.code, {columns} FROM cohort c JOIN cases k ON k.incident_id = c.id),
parts AS ({" UNION ALL ".join(parts)}),
per_group AS (SELECT code, 0 AS is_total, {sums} FROM parts GROUP BY code),
g AS (
    SELECT * FROM per_group
    UNION ALL
    SELECT NULL, 1, {sums} FROM per_group
),
p90 AS (
    SELECT h.code, GROUPING(h.code) AS is_total,
        percentile_cont(0.9) WITHIN GROUP (ORDER BY h.handling_hours) AS handling_hours_p90
    FROM ({settled("i.handling_hours", " AND i.status = 'closed'")}
          SELECT code, handling_hours FROM fresh WHERE status = 'closed') h
    GROUP BY GROUPING SETS ((h.code), ())
)
SELECT g.*, g.hours_sum / nullif(g.hours_n, 0) AS handling_hours_mean, p90.handling_hours_p90,
       {name} AS name {extra}
FROM g LEFT JOIN p90 ON p90.is_total = g.is_total AND (g.is_total = 1 OR p90.code IS NOT DISTINCT FROM g.code)
    {join}
ORDER BY g.is_total DESC, g.code NULLS LAST
LIMIT :row_limit
"""


_SUMMED = ("reported", "valid", "registered", "dispatched", "due", "closed", "closed_on_time", "overdue", "handled",
           "rework", "extended", "shelved", "checks_due", "checks_on_time", "hours_sum", "hours_n")


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
    from_events: bool = False,
) -> tuple[str, dict[str, Any], datetime]:
    """The SQL text of the counts (one row per group, at most ``limit``, and the total row ``is_total = 1``),
    its bound parameters, and the ``as_of`` moment it reads the cases at. For :func:`evaluate` and for
    layers that wrap the counts in their own select.

    The cases are read from their stored facts (``incident_fact``, kept in the shipped calendar's working
    hours) and from their events only where those go on past ``as_of``; ``from_events`` (and any other
    ``calendar``) reads every case from its events: the reference the facts are tested against."""
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
    use_facts = not from_events and (calendar is None or calendar == default_calendar())
    return _statement(by, clock, use_facts=use_facts), params, as_of


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
    from_events: bool = False,
) -> Evaluation:
    """The indicators of the cases reported in ``period`` within ``scope``, one row per group of ``by``
    (at most ``limit``; ``truncated`` says when more exist) and a total over the whole scope.

    ``check_hours`` is the on-site check limit (核查时限) in working hours after a handling is reported.
    Working hours follow ``calendar`` (default: the shipped one). ``from_events``: see :func:`statement`."""
    weights = weights or Weights()
    sql, params, as_of = statement(period=period, by=by, scope=scope, check_hours=check_hours, now=now,
                                   calendar=calendar, limit=limit + 1,  # one more: to know there are more
                                   from_events=from_events)
    facts.no_jit(session)
    result = session.execute(text(sql), params).mappings().all()
    total_rows = [r for r in result if r["is_total"]]
    groups = [r for r in result if not r["is_total"]]
    truncated = len(groups) > limit
    rows = [_row(r, by, weights) for r in groups[:limit]]
    if by is Grouping.worker and not scope.names_people:
        rows = _depersonalised(rows)
    total = _row(total_rows[0], by, weights) if total_rows else _empty(weights)
    total = Row(code=None, name="合计", counts=total.counts, rates=total.rates)
    return Evaluation(by=by, period=period, as_of=as_of, rows=rows, total=total, truncated=truncated)


def _row(r: RowMapping, by: Grouping, weights: Weights) -> Row:
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
