"""Evaluation figures (考核评价): ``GET /api/v1/evaluation?by=…&from=…&to=…&format=json|csv|xlsx``.

One row per group (community, team, grid worker…) with the indicators of ``gis.evaluation.indicators`` for
the cases reported in ``[from, to)`` (or a named ``period``: ``2026-W47``, ``2026-11``…), scoped to the
caller's rights (``gis.evaluation.scope``). Bad input is a 422 naming the field.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import CurrentUser, SessionDep, SettingsDep, forbid_extra_query
from gis.evaluation import periods
from gis.evaluation.indicators import MAX_ROWS, Evaluation, Weights, evaluate
from gis.evaluation.scope import evaluation_scope
from gis.evaluation.tables import records, to_csv, to_xlsx
from gis.evaluation.trend import trend

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation"], dependencies=[Depends(forbid_extra_query)])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TableFormat(enum.StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


def as_json(evaluation: Evaluation) -> dict[str, Any]:
    rows = records(evaluation)
    return {
        "by": evaluation.by.value,
        "from": evaluation.period.start.isoformat(),
        "to": evaluation.period.end.isoformat(),
        "as_of": evaluation.as_of.isoformat(),
        "rows": rows[:-1],
        "total": rows[-1],
        "truncated": evaluation.truncated,
    }


@router.get("", operation_id="evaluation", summary="Evaluation indicators per group for a period",
            responses={200: {"content": {"application/json": {}, "text/csv": {}, XLSX: {}}}})
def evaluation(
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    by: Annotated[str, Query(description="city, subdistrict, community, cell, team, worker, category, major")],
    start: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (local)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Day after the last, YYYY-MM-DD")] = None,
    period: Annotated[str | None, Query(description="Instead of from/to: 2026-11-20, 2026-W47, 2026-11, "
                                                    "2026-Q4 or 2026")] = None,
    format: Annotated[TableFormat, Query(description="json (default), csv or xlsx")] = TableFormat.json,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="At most this many groups")] = MAX_ROWS,
) -> Any:
    scope = evaluation_scope(session, user)  # rights first: a 403 before anything about the data
    grouping = periods.parse_grouping(by)
    result = evaluate(session, period=periods.resolve(start, end, period), by=grouping, scope=scope,
                      weights=Weights.from_settings(settings), check_hours=settings.evaluation_check_hours, limit=limit)
    name = f"evaluation_{grouping.value}_{result.period.start}_{result.period.end}"
    if format is TableFormat.csv:
        return Response(to_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format is TableFormat.xlsx:
        return Response(to_xlsx(result), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return as_json(result)


@router.get("/trend", operation_id="evaluation_trend",
            summary="Weekly reports per group, with the change against the previous period and last year")
def evaluation_trend(
    session: SessionDep,
    user: CurrentUser,
    by: Annotated[str, Query(description="city, subdistrict, community, cell, team, worker, category, major")],
    start: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (local)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Day after the last, YYYY-MM-DD")] = None,
    period: Annotated[str | None, Query(description="Instead of from/to: 2026-W47, 2026-11, 2026-Q4…")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="At most this many groups")] = 100,
) -> dict[str, Any]:
    scope = evaluation_scope(session, user)
    result = trend(session, period=periods.resolve(start, end, period), by=periods.parse_grouping(by),
                   scope=scope, limit=limit)
    return {
        "by": result.by.value,
        "from": result.period.start.isoformat(), "to": result.period.end.isoformat(),
        "previous": {"from": result.previous.start.isoformat(), "to": result.previous.end.isoformat()},
        "last_year": {"from": result.last_year.start.isoformat(), "to": result.last_year.end.isoformat()},
        "weeks": [w.isoformat() for w in result.weeks],
        "series": [s.as_dict() for s in result.series],
        "truncated": result.truncated,
    }
