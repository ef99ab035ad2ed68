"""`wangge facilities …`: import units, pairings and shared facilities; list where sharing is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.boundaries import problem_table
from api.cli.runtime import console, err_console, handles_errors, runtime
from gis.errors import ValidationFailed
from gis.facilities.coverage import DEFAULT_RADIUS_M, unreached_cells, unreached_compounds
from gis.facilities.importer import import_files
from gis.spatial.crs import InputDatum

app = typer.Typer(help="Shared facilities (场所联享) and unit–community pairing (结对共建).", no_args_is_help=True)


@app.command("import")
@handles_errors
def import_cmd(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="CSV or GeoJSON files of units, pairings and facilities (told apart by their columns).",
        show_default=False)],
    datum: Annotated[InputDatum, typer.Option(
        case_sensitive=False, help="gcj02 (AMap) or bd09 (Baidu) lon/lat are converted to WGS84.")] = InputDatum.wgs84,
) -> None:
    """Import units, pairings and facilities, all validated first: any error and nothing is written.

    Rows are matched by unit name, (unit, community) and (unit, facility name): importing twice changes nothing.
    """
    rt = runtime(ctx)
    try:
        with rt.transaction() as session:
            summary = import_files(session, files, datum=datum)
    except ValidationFailed as failed:
        console.print(problem_table(failed.problems, title="facilities import: problems found"))
        err_console.print(f"[bold red]error:[/] {escape(failed.what)}: {len(failed.errors)} error(s), nothing was "
                          "written", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"[bold green]imported[/] {escape(', '.join(f.name for f in files))}: {summary}", highlight=False)


@app.command("sharing")
@handles_errors
def sharing_cmd(
    ctx: typer.Context,
    radius: Annotated[float, typer.Option(min=10, max=5000, help="Walking radius, metres (straight line).")]
    = DEFAULT_RADIUS_M,
) -> None:
    """List the grid cells and compounds with no shared facility within the walking radius."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        cells = unreached_cells(session, metric_crs=rt.settings.metric_crs, radius_m=radius)
        compounds = unreached_compounds(session, metric_crs=rt.settings.metric_crs, radius_m=radius)
    table = Table("kind", "cell code / compound", "community", title=f"no shared facility within {radius:.0f} m",
                  title_justify="left")
    for item in [*cells, *compounds]:
        table.add_row("网格 cell" if item.kind == "cell" else "小区 compound", item.code, item.community_code)
    if cells or compounds:
        console.print(table)
    console.print(f"{len(cells)} cell(s) and {len(compounds)} compound(s) without a shared facility within "
                  f"{radius:.0f} m", highlight=False)
