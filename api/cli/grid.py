"""`wangge grid …`: the unit grid (单元网格) — build it from the communities, import one, look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.cli.progress import rich_progress
from api.cli.runtime import console, handles_errors, runtime
from gis.areas import grid_import, grid_store
from gis.areas.big_areas import BigAreas

app = typer.Typer(help="The unit grid (单元网格): build, import, stats.", no_args_is_help=True)


@app.command("build")
@handles_errors
def build(
    ctx: typer.Context,
    cell_size: Annotated[
        float | None, typer.Option(help="Cell edge in metres (default: settings, 100).", min=5, max=2000)
    ] = None,
    sliver_ratio: Annotated[
        float | None, typer.Option(help="Pieces below this share of a cell are merged (default 0.2).", min=0, max=0.99)
    ] = None,
    community: Annotated[
        list[str] | None, typer.Option("--community", help="Only this community (its code); repeatable.")
    ] = None,
    if_missing: Annotated[bool, typer.Option("--if-missing", help="Only communities that have no cell yet.")] = False,
    big_areas: Annotated[BigAreas | None, typer.Option(
        case_sensitive=False,
        help="When a community needs more than 999 cells: refuse; long (more digits, beyond the 15-digit "
             "standard); fit (the smallest cell size that fits every community). Default: WANGGE_BIG_AREAS.",
    )] = None,
) -> None:
    """Cut every current community into square cells, merge slivers, number them, and check the result.

    Cells are upserted by code in one transaction: a rebuild with the same settings keeps codes and workers.
    """
    rt = runtime(ctx)
    with rt.transaction() as session, rich_progress() as progress:
        report = grid_store.build_grid(
            session, settings=rt.settings, cell_size=cell_size, sliver_ratio=sliver_ratio,
            communities=community or None, if_missing=if_missing, big_areas=big_areas, progress=progress,
        )
    console.print(str(report))


@app.command("import")
@handles_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or Shapefile with one polygon per cell.")],
    code_field: Annotated[str | None, typer.Option(
        help="Column of the cell codes (guessed): 15 digits, or <community id>-<number> under code scheme any.",
    )] = None,
    crs: Annotated[str | None, typer.Option(help="CRS when the file has none, e.g. EPSG:4546.")] = None,
) -> None:
    """Import an existing unit grid, all or nothing: the file's communities get exactly the file's cells."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        report = grid_import.import_grid(session, file, settings=rt.settings, code_field=code_field, crs=crs)
    for warning in report.warnings:
        console.print(f"[yellow]{warning}[/]", highlight=False)
    console.print(str(report))


@app.command("stats")
@handles_errors
def stats(ctx: typer.Context) -> None:
    """Cells and area per community, with the coverage check (no gap, no overlap)."""
    rt = runtime(ctx)
    with rt.transaction() as session:
        rows = grid_store.grid_stats(session, settings=rt.settings)
    failed = [r for r in rows if r.cells and not r.ok]
    table = Table(title="unit grid 单元网格", show_footer=True, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("社区 code", footer="total 合计", no_wrap=True)
    table.add_column("名称 name", overflow="ellipsis", max_width=16)
    table.add_column("cells", justify="right", footer=str(sum(r.cells for r in rows)))
    table.add_column("km²", justify="right", footer=f"{sum(r.cell_area_sum_m2 for r in rows) / 1e6:,.3f}")
    table.add_column("union Δ", justify="right")
    table.add_column("gap m²", justify="right")
    table.add_column("overlap m²", justify="right")
    table.add_column("check", footer=f"[red]{len(failed)} failed[/]" if failed else "ok", no_wrap=True)
    for r in rows:
        if not r.cells:
            table.add_row(r.community_code, r.name, "0", "—", "—", "—", "—", "no cells")
            continue
        table.add_row(
            r.community_code, r.name, str(r.cells), f"{r.cell_area_sum_m2 / 1e6:,.3f}", f"{r.union_error:.4%}",
            f"{r.gap_m2:,.2f}", f"{r.overlap_m2:,.2f}", "[green]ok[/]" if r.ok else "[red]failed[/]",
        )
    console.print(table)
    missing = sum(1 for r in rows if not r.cells)
    if missing:
        console.print(f"{missing} communities have no cells — run `wangge grid build --if-missing`")
