"""`wangge evaluation`: the evaluation figures of a period, as a table on the terminal or as CSV/XLSX.

The operator running it on the server sees the whole city with names (the supervision centre's view);
``--as USER`` evaluates within that user's rights instead (an officer's team, a planner's de-personalised
view).
"""

from __future__ import annotations

import enum
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from api.cli.progress import rich_progress
from api.cli.runtime import console, err_console, handles_errors, runtime
from gis.evaluation import facts, hotspots, periods
from gis.evaluation.indicators import Evaluation, Weights, evaluate
from gis.evaluation.scope import EvaluationScope, evaluation_scope
from gis.evaluation.tables import columns_for, records, to_csv, to_xlsx
from gis.incidents.work_calendar import SHANGHAI
from gis.models.evaluation import HOTSPOT_CLASSES, HOTSPOT_ZH, IncidentHotspot
from gis.people import users

app = typer.Typer(help="Evaluation (考核评价): indicators per group, hotspots.")

SHOWN = ("code", "name", "reported", "registered", "due", "closed", "closure_rate", "closed_on_time",
         "on_time_rate", "overdue", "rework_rate", "extension_rate", "shelved", "check_rate",
         "handling_hours_mean", "score")


class OutFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    xlsx = "xlsx"


def _cell(value: object, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if kind in ("hours", "score"):
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    return str(value)


def print_table(result: Evaluation) -> None:
    kinds = {c.name: c for c in columns_for(result)}
    shown = [name for name in SHOWN if name in kinds]
    if "major_code" in kinds:
        shown.insert(2, "major_name")
    table = Table(*(kinds[name].title_zh for name in shown),
                  title=f"考核评价 · {result.by.label_zh} · {result.period.start} 至 {result.period.end}（不含）")
    rows = records(result)
    for index, record in enumerate(rows):
        table.add_row(*(_cell(record[name], kinds[name].kind) for name in shown),
                      style="bold" if index == len(rows) - 1 else None)
    console.print(table)
    if result.truncated:
        err_console.print(f"[yellow]only the first {len(result.rows):,} groups are shown[/]")


@app.callback(invoke_without_command=True)
@handles_errors
def evaluation(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option(
        help="city, subdistrict, community, cell, team, worker, category, major")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last, YYYY-MM-DD")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of --from/--to: 2026-W47, 2026-11, 2026…")] = None,
    output_format: Annotated[OutFormat, typer.Option(
        "--format", help="table (default), csv or xlsx")] = OutFormat.table,
    out: Annotated[Path | None, typer.Option(help="Write CSV/XLSX here (CSV: default stdout)", dir_okay=False)] = None,
    as_user: Annotated[str | None, typer.Option("--as", help="Evaluate within this user's rights")] = None,
) -> None:
    """Indicators per group for the cases reported in [from, to): 上报、立案、结案、按期结案、返工、延期…"""
    if ctx.invoked_subcommand is not None:
        return
    if by is None:
        err_console.print("[bold red]error:[/] --by: required (community, team, worker, category…)")
        raise typer.Exit(2)
    rt = runtime(ctx)
    grouping = periods.parse_grouping(by)
    chosen = periods.resolve(start, end, period)
    if output_format is OutFormat.xlsx and out is None:
        err_console.print("[bold red]error:[/] --out: an XLSX workbook needs a file to go to")
        raise typer.Exit(2)
    with rt.transaction() as session:
        scope = evaluation_scope(session, users.get_user(session, as_user)) if as_user else EvaluationScope.everywhere()
        result = evaluate(session, period=chosen, by=grouping, scope=scope, weights=Weights.from_settings(rt.settings),
                          check_hours=rt.settings.evaluation_check_hours)
    if output_format is OutFormat.table:
        print_table(result)
    elif output_format is OutFormat.csv and out is None:
        typer.echo(to_csv(result).lstrip("\ufeff"), nl=False)
    else:
        assert out is not None
        data = to_xlsx(result) if output_format is OutFormat.xlsx else to_csv(result).encode("utf-8")
        out.write_bytes(data)
        console.print(f"wrote {out} ({len(result.rows):,} rows and the total)")



@app.command("hotspots")
@handles_errors
def refresh_hotspots(
    ctx: typer.Context,
    weeks: Annotated[int, typer.Option(min=1, max=520, help="Whole weeks before the current one")] = 52,
) -> None:
    """Recompute Gi* hotspots and weekly trends per grid cell (the incident_hotspots layer)."""
    now = datetime.now(UTC)
    period = hotspots.last_weeks(now.astimezone(SHANGHAI), weeks)
    with console.status(f"Gi* and Mann–Kendall over {period.start} … {period.end}"), \
            runtime(ctx).transaction() as session:
        written = hotspots.refresh(session, period=period, now=now)
        classes = Counter(session.scalars(select(IncidentHotspot.hotspot)))
    table = Table("类别", "class", "cells", title=f"热点 {period.start} 至 {period.end}（不含） · {written:,} 个网格")
    for name in HOTSPOT_CLASSES:
        table.add_row(HOTSPOT_ZH[name], name, f"{classes.get(name, 0):,}")
    console.print(table)


@app.command("rebuild-facts")
@handles_errors
def rebuild_facts(ctx: typer.Context) -> None:
    """Recompute every case's evaluation facts (incident_fact) from its events, in one transaction.

    For a database whose cases or events were written by other means than Wangge's write paths (a restored
    dump, a script's SQL); the write paths keep the facts current by themselves."""
    with rich_progress() as progress, runtime(ctx).transaction() as session:
        written = facts.rebuild(session, progress=progress)
    console.print(f"{written:,} cases' facts rebuilt")
