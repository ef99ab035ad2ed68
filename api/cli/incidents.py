"""`wangge categories …` and `wangge incidents …`: the incident taxonomy, bulk imports, escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.progress import rich_progress
from api.cli.runtime import console, err_console, handles_errors, runtime
from gis.incidents.bulk_import import import_incidents
from gis.incidents.categories import load_categories
from gis.incidents.workflow import escalate_overdue
from gis.people import users
from gis.spatial.crs import InputDatum

categories_app = typer.Typer(help="Incident categories (GB/T 47678.5 matter types and deadlines).",
                             no_args_is_help=True)
app = typer.Typer(help="Incidents: bulk import, escalation of overdue cases.", no_args_is_help=True)

REFUSED_SHOWN = 50


@categories_app.command("reload")
@handles_errors
def reload_categories(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="A categories CSV (default: data/categories.csv).",
                                                exists=True, dir_okay=False)] = None,
) -> None:
    """Apply the categories CSV: add new codes, update changed ones, deactivate the ones it no longer lists."""
    with runtime(ctx).transaction() as session:
        summary = load_categories(session, path)
    console.print(f"categories: {summary}")
    for code in summary.added:
        console.print(f"  + {code}")
    for code, fields in summary.changed.items():
        console.print(f"  ~ {code}: {', '.join(fields)}")
    for code in summary.deactivated:
        console.print(f"  - {code} (inactive: kept for the incidents that use it)")


@app.command("import")
@handles_errors
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv or .geojson of incidents.", exists=True, dir_okay=False)],
    all_or_nothing: Annotated[bool, typer.Option(
        "--all-or-nothing/--skip-bad",
        help="Write nothing when any row is refused (default), or write the good rows and report the rest.",
    )] = True,
    datum: Annotated[InputDatum, typer.Option(help="Datum of the file's lon/lat.")] = InputDatum.wgs84,
    as_user: Annotated[str | None, typer.Option("--as", help="Username recorded on the import events.")] = None,
) -> None:
    """Import incidents: every row checked like a single report, the good ones written in one transaction."""
    rt = runtime(ctx)
    with rt.transaction() as session, rich_progress() as progress:
        actor = users.get_user(session, as_user) if as_user else None
        report = import_incidents(session, file, all_or_nothing=all_or_nothing, datum=datum, actor=actor,
                                  settings=rt.settings, progress=progress)
    if report.refused:
        table = Table("row", "field", "reason", title=f"refused rows 未导入的行 ({report.refused_rows:,})")
        for refused in report.refused[:REFUSED_SHOWN]:
            table.add_row(str(refused.row), refused.field, refused.reason)
        err_console.print(table)
        if len(report.refused) > REFUSED_SHOWN:
            err_console.print(f"… and {len(report.refused) - REFUSED_SHOWN:,} more problems")
    console.print(str(report))
    if report.refused and all_or_nothing:
        err_console.print("[bold red]nothing was written[/]: fix the rows above, or pass --skip-bad")
        raise typer.Exit(1)


@app.command("escalate")
@handles_errors
def escalate(
    ctx: typer.Context,
    factor: Annotated[float, typer.Option(min=1, help="Escalate after this multiple of the allowed time.")] = 2.0,
) -> None:
    """Escalate to their subdistrict the cases overdue by FACTOR × their allowed working time (run it hourly)."""
    with runtime(ctx).transaction() as session:
        escalated = escalate_overdue(session, datetime.now(UTC), factor=factor)
        ids = [i.public_id for i in escalated]
    console.print(f"{len(ids)} case(s) escalated" + (f": {', '.join(ids)}" if ids else ""))
