"""Evaluation: all communities' indicators for a year in one statement, and Gi* for every cell, against pandas.

World: a synthetic city (100 communities, ~10,000 cells; quick: 25 and ~2,000) and ``N`` incidents over one
year with workflow histories written straight by SQL (``generate_series``; deterministic with ``setseed``):
every case is reported; 95 % are registered, of which all are dispatched (deadline one day later), taken,
handled; 5 % are sent back once and handled again, 5 % extended; 85 % of the registered are verified and
closed, the rest stay open; 5 % are rejected. About 6.5 events a case.

* **Indicators, by community, one year** — ``gis.evaluation.indicators.evaluate`` (one statement), the p50 of
  its repetitions. Baseline: what a script would do — read the year's incidents and their events into pandas
  (``read_sql``) and group: the counts reported, registered, closed, closed on time, rework, extended per
  community. The two agree on those counts (checked).
* **Gi\\* and Mann–Kendall for every cell, one year** — ``gis.evaluation.hotspots.compute``. No baseline:
  esda is the reference implementation, our part is the weekly counts in SQL and the queen weights.

Goals (issue 13): indicators p50 < 300 ms and Gi* < 2 s at 1,000,000 incidents.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import date

import pandas as pd
import psycopg
from sqlalchemy import delete, text

from bench import BenchContext, Row, benchmark
from bench.synthetic_city import load_city, side_for_cells, synthetic_city
from gis.areas import grid_store
from gis.evaluation import facts, hotspots
from gis.evaluation.indicators import evaluate
from gis.evaluation.periods import Grouping, Period
from gis.evaluation.scope import EvaluationScope
from gis.models import AdminArea, GridCell, Incident, IncidentEvent, Team, User

YEAR = Period(date(2025, 1, 1), date(2026, 1, 1), "2025")
INDICATOR_GOAL_MS, GI_GOAL_S = 300, 2.0

_INCIDENTS = """
INSERT INTO incident (id, public_id, category_code, description, location, source, cell_code, community_code,
                      subdistrict_code, status, version, dispatched_at, deadline_at, reported_at, updated_at, closed_at)
SELECT n, 'JS-B-' || n,
       (CAST(:categories AS text[]))[1 + (CAST(n AS bigint) * 7919) % cardinality(CAST(:categories AS text[]))], '',
       c.point, 'patrol', c.code, c.community_code, c.subdistrict_code,
       CASE WHEN r.fate < 0.05 THEN 'rejected' WHEN r.fate < 0.85 THEN 'closed' ELSE 'in_progress' END, 1,
       CASE WHEN r.fate >= 0.05 THEN r.t + interval '30 minutes' END,
       CASE WHEN r.fate >= 0.05 THEN r.t + interval '1 day' END,
       r.t, r.t, CASE WHEN r.fate >= 0.05 AND r.fate < 0.85 THEN r.t + interval '1 day 4 hours' END
FROM (SELECT n, random() AS fate, random() AS pick,
             CAST(:start AS timestamptz) + random() * interval '365 days' AS t
      FROM generate_series(1, :n) AS n) r
JOIN LATERAL (SELECT * FROM cells WHERE cells.k = 1 + floor(r.pick * :cells)::int) c ON true
"""

# One row per step: (incident, action, from, to, minutes after the report, data); the fates above decide.
_EVENTS = """
INSERT INTO incident_event (incident_id, at, action, from_status, to_status, data)
SELECT i.id, i.reported_at + s.minutes * interval '1 minute', s.action, s.from_status, s.to_status, s.data
FROM incident i
CROSS JOIN LATERAL (
    SELECT (hashint4(i.id) & 1023) / 1024.0 AS x, (hashint4(i.id + 7) & 1023) / 1024.0 AS y
) h
CROSS JOIN LATERAL (VALUES
    ('report', NULL, 'reported', 0, NULL::jsonb, true),
    ('reject', 'reported', 'rejected', 20, NULL, i.status = 'rejected'),
    ('register', 'reported', 'registered', 10, NULL, i.status <> 'rejected'),
    ('dispatch', 'registered', 'dispatched', 30, jsonb_build_object('deadline_at', i.deadline_at),
     i.status <> 'rejected'),
    ('take', 'dispatched', 'in_progress', 60, NULL, i.status <> 'rejected'),
    ('extend', 'in_progress', 'in_progress', 90,
     jsonb_build_object('deadline_at', i.deadline_at + interval '1 day'), i.status <> 'rejected' AND h.y < 0.05),
    ('handle', 'in_progress', 'handled', 120 + (h.x * 2000)::int, NULL, i.status <> 'rejected'),
    ('rework', 'handled', 'in_progress', 125 + (h.x * 2000)::int, NULL, i.status <> 'rejected' AND h.x < 0.05),
    ('handle', 'in_progress', 'handled', 130 + (h.x * 2000)::int, NULL, i.status <> 'rejected' AND h.x < 0.05),
    ('verify', 'handled', 'verified', 1400 + (h.x * 2000)::int, NULL, i.status = 'closed'),
    ('close', 'verified', 'closed', 1440 + (h.x * 2000)::int, NULL, i.status = 'closed')
) AS s(action, from_status, to_status, minutes, data, happens)
WHERE s.happens
"""

_BASELINE_INCIDENTS = """
SELECT id, community_code FROM incident WHERE reported_at >= %(start)s AND reported_at < %(end)s
"""
_BASELINE_EVENTS = """
SELECT e.incident_id, e.id, e.at, e.action, e.to_status, e.data ->> 'deadline_at' AS deadline
FROM incident_event e JOIN incident i ON i.id = e.incident_id
WHERE i.reported_at >= %(start)s AND i.reported_at < %(end)s AND e.at < %(end)s
"""


def _world(ctx: BenchContext, incidents: int) -> int:
    with ctx.sessions.begin() as session:
        for model in (IncidentEvent, Incident, GridCell, User, Team, AdminArea):
            session.execute(delete(model))
    cells = 2_000 if ctx.quick else 10_000
    city = synthetic_city(25 if ctx.quick else 100, side_m=side_for_cells(cells), seed=2024)
    with ctx.sessions.begin() as session:
        load_city(session, city)
    with ctx.sessions.begin() as session:
        grid_store.build_grid(session, settings=ctx.settings)
    with ctx.sessions.begin() as session:
        session.execute(text("SELECT setseed(0.13)"))
        session.execute(text(
            "CREATE TEMP TABLE cells ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY g.code) AS k, g.code, "
            "g.community_code, a.parent_code AS subdistrict_code, ST_PointOnSurface(g.geom) AS point "
            "FROM grid_cell g JOIN admin_area a ON a.code = g.community_code AND a.valid_to IS NULL"))
        count = int(session.execute(text("SELECT count(*) FROM cells")).scalar_one())
        categories = list(session.execute(text("SELECT code FROM category WHERE active ORDER BY code")).scalars())
        session.execute(text(_INCIDENTS), {"categories": categories, "start": YEAR.start_at, "n": incidents,
                                           "cells": count})
        session.execute(text(_EVENTS))
    with ctx.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE incident, incident_event"))
    return count


def _facts(ctx: BenchContext) -> float:
    """The world's cases were written by SQL, not through the write paths: rebuild their facts (timed)."""
    started = time.perf_counter()
    with ctx.sessions.begin() as session:
        facts.rebuild(session)
    elapsed = time.perf_counter() - started
    with ctx.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE incident_fact"))
    return elapsed


def _baseline(ctx: BenchContext) -> pd.DataFrame:
    """The year's cases and events into pandas, grouped by community: the counts a script would compute."""
    params = {"start": YEAR.start_at, "end": YEAR.end_at}
    with psycopg.connect(ctx.psycopg_url) as conn:
        cases = pd.read_sql(_BASELINE_INCIDENTS, conn, params=params)
        events = pd.read_sql(_BASELINE_EVENTS, conn, params=params)
    events = events.sort_values(["incident_id", "at", "id"])
    last = events.groupby("incident_id").last()
    per_case = pd.DataFrame({
        "status": last["to_status"],
        "registered": events[events["action"] == "register"].groupby("incident_id").size() > 0,
        "reworks": events[events["action"] == "rework"].groupby("incident_id").size(),
        "extensions": events[events["action"] == "extend"].groupby("incident_id").size(),
        "last_handle": events[events["action"] == "handle"].groupby("incident_id")["at"].max(),
        "deadline": pd.to_datetime(
            events[events["action"].isin(["dispatch", "extend", "reopen"])].groupby("incident_id")["deadline"].last(),
            utc=True, format="ISO8601"),
    })
    frame = cases.set_index("id").join(per_case)
    frame["closed"] = frame["status"] == "closed"
    frame["on_time"] = frame["closed"] & (frame["last_handle"] <= frame["deadline"])
    return frame.groupby("community_code").agg(
        reported=("status", "size"), registered=("registered", lambda s: int(s.fillna(False).astype(bool).sum())),
        closed=("closed", "sum"), closed_on_time=("on_time", "sum"),
        rework=("reworks", lambda s: int((s.fillna(0) > 0).sum())),
        extended=("extensions", lambda s: int((s.fillna(0) > 0).sum())),
    )


@benchmark("evaluation")
def evaluation_benchmarks(ctx: BenchContext) -> list[Row]:
    # WANGGE_BENCH_EVALUATION_INCIDENTS: another size (a smoke run, or 10,000,000 on a bigger machine).
    incidents = int(os.environ.get("WANGGE_BENCH_EVALUATION_INCIDENTS", 200_000 if ctx.quick else 1_000_000))
    started = time.perf_counter()
    cells = _world(ctx, incidents)
    built = time.perf_counter() - started
    rebuilt = _facts(ctx)
    with ctx.sessions() as session:
        events = int(session.execute(text("SELECT count(*) FROM incident_event")).scalar_one())
        runs = []
        for _ in range(3 if ctx.quick else 7):
            t0 = time.perf_counter()
            result = evaluate(session, period=YEAR, by=Grouping.community, scope=EvaluationScope.everywhere())
            runs.append(time.perf_counter() - t0)
        ours = statistics.median(runs)
        t0 = time.perf_counter()
        reference = evaluate(session, period=YEAR, by=Grouping.community, scope=EvaluationScope.everywhere(),
                             from_events=True)
        from_events = time.perf_counter() - t0
        same = "equal" if (reference.rows, reference.total) == (result.rows, result.total) else "DIFFERENT"
        t0 = time.perf_counter()
        spots = hotspots.compute(session, period=YEAR)
        gi = time.perf_counter() - t0
    base_runs = []
    for _ in range(ctx.repeat):
        t0 = time.perf_counter()
        frame = _baseline(ctx)
        base_runs.append(time.perf_counter() - t0)
    baseline = min(base_runs)
    names = ("reported", "registered", "closed", "closed_on_time", "rework", "extended")
    mine = {row.code: tuple(getattr(row.counts, n) for n in names) for row in result.rows}
    theirs = {code: tuple(int(v) for v in values) for code, values in frame[list(names)].iterrows()}
    agree = "agree" if mine == theirs else f"DISAGREE on {sum(mine.get(k) != v for k, v in theirs.items())} communities"
    goal = "met" if ours * 1000 < INDICATOR_GOAL_MS else "MISSED"
    hot = sum(1 for c in spots if c.hotspot.startswith("hot"))
    return [
        Row(f"evaluation by community, one year ({incidents:,} incidents), from the facts", ours, baseline,
            f"{len(result.rows)} communities, {events:,} events; p50 of {len(runs)}: {ours * 1000:.0f} ms "
            f"(goal < {INDICATOR_GOAL_MS} ms at 1,000,000: {goal} at this size); baseline pandas read_sql + groupby "
            f"(best of {len(base_runs)}); counts {agree}; world built in {built:.0f} s, its facts rebuilt in "
            f"{rebuilt:.0f} s"),
        Row(f"the same from the events (the reference statement, {incidents:,} incidents)", from_events, None,
            f"one run, {from_events / ours:.1f}× the facts' time; every row and the total {same} to the facts'"),
        Row(f"Gi* + Mann–Kendall, every cell, one year ({cells:,} cells)", gi, None,
            f"{hot} hot cells; goal < {GI_GOAL_S:.0f} s: {'met' if gi < GI_GOAL_S else 'MISSED'}"),
    ]
