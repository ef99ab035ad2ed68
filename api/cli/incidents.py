"""`wangge categories …` and `wangge incidents …`: the incident taxonomy, bulk imports, escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from api.cli.progress import rich_progress
from api.cli.runtime import console, err_console, handles_errors, runtime
from gis.errors import InvalidInput
from gis.incidents.bulk_import import import_incidents
from gis.incidents.categories import load_categories
from gis.incidents.sources import SourceOptions, load_category_map, parse_columns
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
    file: Annotated[Path, typer.Argument(help="Incidents: a CSV, a GeoJSON or any vector file of points GDAL reads "
                                              "(shapefile, zipped shapefile, GeoPackage, FlatGeobuf…).",
                                         exists=True, dir_okay=False)],
    all_or_nothing: Annotated[bool, typer.Option(
        "--all-or-nothing/--skip-bad",
        help="Write nothing when any row is refused (default), or write the good rows and report the rest.",
    )] = True,
    datum: Annotated[InputDatum, typer.Option(help="Datum of the file's lon/lat.")] = InputDatum.wgs84,
    as_user: Annotated[str | None, typer.Option("--as", help="Username recorded on the import events.")] = None,
    columns: Annotated[str | None, typer.Option(
        help='Our names = the file\'s columns, e.g. lon=Longitude,lat=Latitude,category="Complaint Type",'
             'reported_at="Created Date".')] = None,
    categories: Annotated[Path | None, typer.Option(
        help="A CSV with the header source,code mapping the file's category values to category codes; values it "
             "lacks are reported, not guessed.", dir_okay=False)] = None,
    tz: Annotated[str | None, typer.Option(
        "--tz", help="Time zone of times without one, e.g. America/New_York (default: WANGGE_TIMEZONE).")] = None,
    time_format: Annotated[str | None, typer.Option(
        help="strftime format of times that are not ISO 8601, e.g. '%m/%d/%Y %I:%M:%S %p'.")] = None,
    crs: Annotated[str | None, typer.Option(
        help="CRS of the coordinates, e.g. EPSG:26971; wins over the file's (.prj, GeoJSON crs).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="Text encoding of a CSV or DBF (default: UTF-8, else GB18030/GBK).")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer to read when the file has several.")] = None,
    offline: Annotated[bool, typer.Option(
        "--offline", help="The city is not running: a large load may drop and rebuild the incident tables' indexes "
                          "and keys for speed, locking them until it ends. Default: online, the API keeps "
                          "answering.")] = False,
    snap: Annotated[float | None, typer.Option(
        min=0, max=100, help="Snap tolerance in metres: a point this close to a community but in none goes to the "
                             "nearest (default: WANGGE_SNAP_TOLERANCE_M; 0: none).")] = None,
) -> None:
    """Import incidents: every row checked like a single report, the good ones written in one transaction."""
    rt = runtime(ctx)
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"--tz {tz!r} is not an IANA time zone — fix: e.g. America/New_York") from None
    source = SourceOptions(columns=parse_columns(columns),
                           categories=load_category_map(categories) if categories else None,
                           crs=crs, encoding=encoding, layer=layer, timezone=tz, time_format=time_format)
    with rt.transaction() as session, rich_progress() as progress:
        actor = users.get_user(session, as_user) if as_user else None
        report = import_incidents(session, file, all_or_nothing=all_or_nothing, datum=datum, actor=actor,
                                  settings=rt.settings, progress=progress, source=source, edge_tolerance_m=snap,
                                  offline=offline)
    console.print(f"read {escape(report.described)}", highlight=False, soft_wrap=True)
    if report.unknown_categories:
        table = Table("value", "rows", title="category values not in the map 映射表中没有的类别")
        for value, rows in report.unknown_categories.items():
            table.add_row(Text(value), f"{rows:,}")
        err_console.print(table)
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
