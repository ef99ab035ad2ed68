"""Each case's evaluation facts (``incident_fact``): the per-case part of the indicators, kept on write.

The indicators (``gis.evaluation.indicators``) need, per case, what its events say as of the moment they
report on: its status then, whether it was registered and dispatched, when it was first dispatched, last
handled and last closed, how often it was handled, sent back and extended, the deadline in force, how long
each on-site check took in working hours. :func:`per_case_sql` is the one select that computes these from the
events before a moment; the indicator statement runs it as of ``min(to, now)`` for the cases whose history
goes on past that moment, and :func:`refresh` runs it as of *infinity* and stores the result, so the
indicators read one narrow row for every other case (all of them, for a report on the current period).

Every path that writes a case or one of its events calls :func:`refresh` (or :func:`refresh_for_ids`) in
the same transaction: ``service.create``, ``fast_create.report_by_id``, ``workflow.transition``, the bulk
import's COPY, the seed (through ``transition``). Escalations are not facts (the indicators skip them), so
``escalate_overdue`` needs none. ``tests/gis/evaluation/test_facts.py`` holds the facts equal to the events
after a mixed workload through every path; :func:`rebuild` (``wangge evaluation rebuild-facts``) recomputes
them all for a database written otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.evaluation.working_clock import WorkingClock
from gis.incidents.work_calendar import WorkCalendar, default_calendar
from gis.models.incidents import Status
from gis.progress import ProgressReporter, no_progress

# A report found invalid (有效上报 excludes it).
INVALID = frozenset({Status.rejected, Status.void, Status.duplicate})
_NOT_VALID = ", ".join(f"'{s.value}'" for s in sorted(INVALID))
# The columns :func:`per_case_sql` gives per case (besides ``incident_id``), as incident_fact stores them.
CASE_COLUMNS = (
    "status", "registered", "dispatched", "first_dispatch_at", "last_handle_at", "last_close_at", "handles",
    "reworks", "extensions", "deadline_at", "checks_made", "check_delays", "pending_check_at", "handling_hours",
    "last_event_at",
)
# Copies of the case's own columns, so that the indicators group and filter without the incident table.
CASE_KEYS = ("version", "reported_at", "category_code", "cell_code", "community_code", "subdistrict_code", "team_id",
             "reporter_id")
REFRESH_CHUNK = 50_000  # cases per statement when rebuilding


def per_case_sql(w: Callable[[str], str], as_of: str) -> str:
    """SQL text of two CTEs, ``steps`` and ``cases``, reading a CTE ``cohort (id, status, deadline_at)`` of the
    cases wanted: one ``cases`` row per cohort case with :data:`CASE_COLUMNS` from its events before ``as_of``
    (an SQL expression of ours). ``w`` is a working clock's :meth:`WorkingClock.sql`.

    A case without events (an old import) stands as its row says (status, deadline). Escalations are not
    steps. A check is the step after a handling when it is a verification or a send-back; its delay is in
    working hours (``check_delays``: shortest first, so that ``width_bucket(limit, check_delays)`` counts those
    within a limit); a handling with no step after it is a check still pending (due once its time runs out)."""
    checked = "s.action = 'handle' AND s.next_action IN ('verify', 'rework')"
    last_handle = "max(s.at) FILTER (WHERE s.action = 'handle')"
    first_dispatch = "min(s.at) FILTER (WHERE s.action = 'dispatch')"
    return f"""
steps AS (
    SELECT e.incident_id, e.id, e.at, e.action, e.to_status, e.data,
           lead(e.action) OVER w AS next_action, lead(e.at) OVER w AS next_at
    FROM incident_event e JOIN cohort c ON c.id = e.incident_id
    WHERE e.at < {as_of} AND e.action <> 'escalate'
    WINDOW w AS (PARTITION BY e.incident_id ORDER BY e.at, e.id)
),
cases AS (
    SELECT c.id AS incident_id,
        coalesce((array_agg(s.to_status ORDER BY s.at DESC, s.id DESC))[1], min(c.status)) AS status,
        coalesce(bool_or(s.action = 'register'), min(c.status) NOT IN ('reported', {_NOT_VALID})) AS registered,
        coalesce(bool_or(s.action = 'dispatch'), false) AS dispatched,
        {first_dispatch} AS first_dispatch_at,
        {last_handle} AS last_handle_at,
        max(s.at) FILTER (WHERE s.action = 'close') AS last_close_at,
        count(*) FILTER (WHERE s.action = 'handle') AS handles,
        count(*) FILTER (WHERE s.action = 'rework') AS reworks,
        count(*) FILTER (WHERE s.action = 'extend') AS extensions,
        CASE WHEN count(s.id) = 0 THEN min(c.deadline_at)
             ELSE CAST((array_agg(s.data ->> 'deadline_at' ORDER BY s.at DESC, s.id DESC)
                        FILTER (WHERE s.action IN ('dispatch', 'extend', 'reopen')))[1] AS timestamptz)
        END AS deadline_at,
        count(*) FILTER (WHERE {checked}) AS checks_made,
        CAST(array_agg({w('s.next_at')} - {w('s.at')} ORDER BY {w('s.next_at')} - {w('s.at')})
             FILTER (WHERE {checked}) AS float8[]) AS check_delays,
        max(s.at) FILTER (WHERE s.action = 'handle' AND s.next_action IS NULL) AS pending_check_at,
        CAST({w(last_handle)} - {w(first_dispatch)} AS float8) AS handling_hours,
        max(s.at) AS last_event_at
    FROM cohort c LEFT JOIN steps s ON s.incident_id = c.id
    GROUP BY c.id
)"""


def _upsert_sql(clock: WorkingClock, where: str) -> str:
    keys = ", ".join(CASE_KEYS)
    columns = ", ".join(CASE_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*CASE_KEYS, *CASE_COLUMNS))
    return f"""
WITH cohort AS (SELECT i.id, i.status, i.deadline_at FROM incident i WHERE {where}),
{per_case_sql(clock.sql, "CAST('infinity' AS timestamptz)")}
INSERT INTO incident_fact (incident_id, {keys}, {columns})
SELECT i.id, {", ".join(f"i.{k}" for k in CASE_KEYS)}, {", ".join(f"k.{c}" for c in CASE_COLUMNS)}
FROM cases k JOIN incident i ON i.id = k.incident_id
ON CONFLICT (incident_id) DO UPDATE SET {updates}
WHERE incident_fact.version <= EXCLUDED.version
"""


def _clock(session: Session, where: str, params: dict[str, object], cal: WorkCalendar,
           events_at: tuple[datetime, datetime] | None = None) -> WorkingClock:
    """A working clock over the local dates of the selected cases' events (today when they have none)."""
    low, high = events_at or session.execute(text(
        f"SELECT min(e.at), max(e.at) FROM incident_event e JOIN incident i ON i.id = e.incident_id WHERE {where}"
    ), params).one()
    today = datetime.now(UTC).astimezone(cal.tz).date()
    first: date = low.astimezone(cal.tz).date() if low else today
    last: date = high.astimezone(cal.tz).date() if high else today
    return WorkingClock.over(cal, first, last)


def no_jit(session: Session) -> None:
    """Turn PostgreSQL's JIT compiler off for the rest of the transaction, and give sorts 64 MB: on these
    statements (dozens of expressions over a million rows) compiling costs seconds and saves less (EXPLAIN
    ANALYZE at 1,000,000 cases: 2.9 s of JIT in a 10 s run), and the P90's sort spilled to disk."""
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))  # the P90's sort of a year's closed cases, in memory


def _refresh(session: Session, where: str, params: dict[str, object], calendar: WorkCalendar | None,
             events_at: tuple[datetime, datetime] | None = None) -> int:
    clock = _clock(session, where, params, calendar or default_calendar(), events_at)
    if "BETWEEN" in where:  # a set of cases: large enough for JIT to cost more than it saves
        no_jit(session)
    result = session.execute(text(_upsert_sql(clock, where)), {**params, **clock.params()})
    return int(result.rowcount)  # type: ignore[attr-defined]


def refresh(session: Session, incident_id: int, *, events_at: tuple[datetime, datetime] | None = None,
            calendar: WorkCalendar | None = None) -> None:
    """Recompute one case's facts from its events (after a create or a transition, in its transaction).
    ``events_at``: the first and last moment of its events when the caller knows them (a create: its report),
    which spares looking them up."""
    _refresh(session, "i.id = :id", {"id": incident_id}, calendar, events_at)


def refresh_for_ids(session: Session, ids: Sequence[int] | NDArray[np.int64], *,
                    calendar: WorkCalendar | None = None) -> int:
    """Recompute the facts of the cases ``ids`` (a bulk import's, after its COPY); returns the rows written.
    A contiguous run of ids is sent as a range."""
    if not len(ids):
        return 0
    low, high = int(min(ids)), int(max(ids))
    if high - low + 1 == len(ids):
        return _refresh(session, "i.id BETWEEN :lo AND :hi", {"lo": low, "hi": high}, calendar)
    return _refresh(session, "i.id = ANY(CAST(:ids AS int[]))", {"ids": [int(i) for i in ids]}, calendar)


def rebuild(session: Session, *, progress: ProgressReporter = no_progress, chunk: int = REFRESH_CHUNK,
            calendar: WorkCalendar | None = None) -> int:
    """Recompute every case's facts, ``chunk`` ids a statement; returns the cases written. For a database
    written by other means (an old dump, a script's SQL) and for the migration that adds the table. Flushes,
    never commits; a concurrent transition keeps its newer row (the version guard)."""
    low, high, total = session.execute(text("SELECT min(id), max(id), count(*) FROM incident")).one()
    written = 0
    progress("incident facts", 0, int(total))
    if low is None:
        return 0
    for start in range(int(low), int(high) + 1, chunk):
        written += _refresh(session, "i.id BETWEEN :lo AND :hi", {"lo": start, "hi": start + chunk - 1}, calendar)
        progress("incident facts", written, int(total))
    return written
