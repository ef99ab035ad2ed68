"""Weekly trends per group: the cases reported each ISO week, and the change against the previous period and
the same period a year before.

For a period ``[from, to)`` and a grouping (the groups of ``gis.evaluation.indicators``, the same scope),
every group gets its weekly counts of reports (weeks Monday to Sunday, local time; the first and last week
may be cut by the period) and three totals: ``current`` (reports in the period), ``previous`` (in the period
of the same length just before) and ``last_year`` (in the same dates a year before; ISO weeks: the same week
numbers). ``change = (current − previous) / previous`` and ``change_yoy = (current − last_year) / last_year``,
rounded to 4 places, null when the base is 0. Invalid reports (rejected, void, duplicate) are not counted, as
in the hotspots. One statement: PostgreSQL groups by (group, week) with the three ranges as filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation.facts import INVALID
from gis.evaluation.indicators import GROUP_KEY, GROUP_NAME, MAX_ROWS, ratio
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope

MAX_TREND_DAYS = 3 * 366  # a weekly series of at most about 157 weeks


@dataclass(frozen=True)
class Series:
    code: str | None
    name: str | None
    weekly: list[int]  # one count per week of ``Trend.weeks``
    current: int
    previous: int
    last_year: int

    @property
    def change(self) -> float | None:
        return None if not self.previous else ratio(self.current - self.previous, self.previous)

    @property
    def change_yoy(self) -> float | None:
        return None if not self.last_year else ratio(self.current - self.last_year, self.last_year)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "weekly": self.weekly, "current": self.current,
                "previous": self.previous, "last_year": self.last_year, "change": self.change,
                "change_yoy": self.change_yoy}


@dataclass(frozen=True)
class Trend:
    by: Grouping
    period: Period
    previous: Period
    last_year: Period
    weeks: list[date]  # the Monday of each week
    series: list[Series]
    truncated: bool


def _mondays(period: Period) -> list[date]:
    first = period.start - timedelta(days=period.start.weekday())
    return [first + timedelta(weeks=k) for k in range(-(-(period.end - first).days // 7))]


def _statement(by: Grouping) -> str:
    join, name, _ = GROUP_NAME[by]
    invalid = ", ".join(f"'{s.value}'" for s in sorted(INVALID))
    return f"""
WITH counted AS (
    SELECT {GROUP_KEY[by]} AS code, i.reported_at,
        CAST(date_trunc('week', i.reported_at AT TIME ZONE CAST(:tz AS text)) AS date) AS week
    FROM incident i
    WHERE i.status NOT IN ({invalid})
      AND ((i.reported_at >= :cur_from AND i.reported_at < :cur_to)
        OR (i.reported_at >= :prev_from AND i.reported_at < :prev_to)
        OR (i.reported_at >= :ly_from AND i.reported_at < :ly_to))
      AND (CAST(:communities AS text[]) IS NULL OR i.community_code = ANY(CAST(:communities AS text[])))
      AND (CAST(:cells AS text[]) IS NULL OR i.cell_code = ANY(CAST(:cells AS text[])))
),
g AS (
    SELECT code,
        count(*) FILTER (WHERE reported_at >= :cur_from AND reported_at < :cur_to) AS current,
        count(*) FILTER (WHERE reported_at >= :prev_from AND reported_at < :prev_to) AS previous,
        count(*) FILTER (WHERE reported_at >= :ly_from AND reported_at < :ly_to) AS last_year,
        coalesce(jsonb_object_agg(week, n) FILTER (WHERE week IS NOT NULL), '{{}}') AS weekly
    FROM (
        SELECT code, reported_at, NULL::date AS week, 0 AS n FROM counted
        UNION ALL
        SELECT code, NULL, week, count(*) FROM counted
        WHERE reported_at >= :cur_from AND reported_at < :cur_to GROUP BY code, week
    ) rows
    GROUP BY code
)
SELECT g.*, {name} AS name
FROM g {join}
ORDER BY g.current DESC, g.code NULLS LAST
LIMIT :row_limit
"""


def trend(
    session: Session, *, period: Period, by: Grouping, scope: EvaluationScope, limit: int = MAX_ROWS
) -> Trend:
    """The weekly series and period changes of every group of ``by`` within ``scope`` (most reports first,
    at most ``limit`` groups)."""
    if period.days > MAX_TREND_DAYS:
        raise InvalidInput(f"to: a weekly trend covers at most {MAX_TREND_DAYS} days (got {period.days})")
    previous, last_year = period.previous(), period.year_before()
    params: dict[str, Any] = {
        "tz": period.tz.key,
        "cur_from": period.start_at, "cur_to": period.end_at,
        "prev_from": previous.start_at, "prev_to": previous.end_at,
        "ly_from": last_year.start_at, "ly_to": last_year.end_at,
        "communities": None if scope.communities is None else sorted(scope.communities),
        "cells": None if scope.cells is None else sorted(scope.cells),
        "row_limit": limit + 1,
    }
    rows = session.execute(text(_statement(by)), params).mappings().all()
    weeks = _mondays(period)
    series = [
        Series(code=r["code"], name=r["name"], weekly=[int(r["weekly"].get(w.isoformat(), 0)) for w in weeks],
               current=int(r["current"]), previous=int(r["previous"]), last_year=int(r["last_year"]))
        for r in rows[:limit]
    ]
    if by is Grouping.worker and not scope.names_people:
        series = [Series(None, f"网格员 {n}" if s.code is not None else "（无上报人）", s.weekly, s.current,
                         s.previous, s.last_year) for n, s in enumerate(series, start=1)]
    return Trend(by=by, period=period, previous=previous, last_year=last_year, weeks=weeks, series=series,
                 truncated=len(rows) > limit)
