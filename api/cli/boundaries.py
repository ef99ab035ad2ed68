"""`wangge boundaries …`: import administrative boundaries and compounds from GIS files, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from api.cli.progress import RichProgress, rich_progress
from api.cli.runtime import Runtime, console, err_console, handles_errors, runtime
from gis.areas.boundaries import import_boundaries
from gis.areas.compounds import import_compounds
from gis.areas.import_summary import ImportSummary
from gis.areas.schemes import CodeScheme
from gis.errors import Problem, ValidationFailed
from gis.models.areas import AdminLevel
from gis.spatial.crs import InputDatum
from gis.spatial.validation import DEFAULT_TOLERANCE, Tolerance

app = typer.Typer(help="Administrative boundaries and compounds: import from GIS files.", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(
    help="GeoJSON, GeoPackage, Shapefile (.shp or .zip) or KML.", show_default=False)]
LayerOpt = Annotated[str | None, typer.Option(help="Layer to read when the file has several (GeoPackage, zip).")]
CrsOpt = Annotated[str | None, typer.Option(
    help="CRS of the coordinates, e.g. EPSG:4546: needed when the file has none (a shapefile without .prj).")]
DatumOpt = Annotated[InputDatum, typer.Option(
    case_sensitive=False, help="gcj02 (AMap, DataV) or bd09 (Baidu) lon/lat are converted exactly to WGS84.")]
EncodingOpt = Annotated[str | None, typer.Option(
    help="Text encoding of a shapefile's DBF, e.g. GBK; by default its .cpg, else UTF-8 or GB18030.")]
RatioOpt = Annotated[float, typer.Option(
    min=0, max=1, help="Area a child may have outside its parent, or share with a sibling, as a share of it.")]
SquareMetresOpt = Annotated[float, typer.Option(min=0, help="…and at least this many m², whatever the share.")]


@app.command("import")
@handles_errors
def import_cmd(
    ctx: typer.Context,
    path: FileArg,
    layer: LayerOpt = None,
    crs: CrsOpt = None,
    datum: DatumOpt = InputDatum.wgs84,
    encoding: EncodingOpt = None,
    code_field: Annotated[str | None, typer.Option(help="Column of the area's code (guessed: code, adcode, "
                                                        "区划代码, dm…).")] = None,
    name_field: Annotated[str | None, typer.Option(help="Column of the name (guessed: name, 名称, mc…).")] = None,
    parent_field: Annotated[str | None, typer.Option(help="Column of the parent's code (else derived from the "
                                                          "code).")] = None,
    level_field: Annotated[str | None, typer.Option(help="Column of the level (else derived from the code).")] = None,
    level: Annotated[AdminLevel | None, typer.Option(
        case_sensitive=False, help="The level of every feature of the file (needed with --code-scheme any when "
                                   "the file has no level column).")] = None,
    code_scheme: Annotated[CodeScheme | None, typer.Option(
        case_sensitive=False, help="cn: 12-digit division codes; adcode: DataV 6-digit codes, padded; any: any "
                                   "unique id, parents by --parent-field or containment (default: the settings' "
                                   "WANGGE_CODE_SCHEME).")] = None,
    tolerance_ratio: RatioOpt = DEFAULT_TOLERANCE.ratio,
    tolerance_m2: SquareMetresOpt = DEFAULT_TOLERANCE.min_m2,
    retire_missing: Annotated[bool, typer.Option(help="Close current areas that share a parent with the file's "
                                                      "areas but are missing from it.")] = False,
) -> None:
    """Import administrative areas (prefecture, city, subdistrict, community), validated first.

    Re-importing the same file changes nothing; a re-drawn or renamed area gets a new version and keeps its history.
    Any error stops the import with nothing written.
    """
    rt = runtime(ctx)
    summary = _run(rt, path, lambda session, progress: import_boundaries(
        session, path, layer=layer, crs=crs, datum=datum, encoding=encoding, code_field=code_field,
        name_field=name_field, parent_field=parent_field, level_field=level_field, level=level, scheme=code_scheme,
        tolerance=Tolerance(tolerance_ratio, tolerance_m2), retire_missing=retire_missing,
        settings=rt.settings, progress=progress))
    _report(path, summary)


@app.command("import-compounds")
@handles_errors
def import_compounds_cmd(
    ctx: typer.Context,
    path: FileArg,
    layer: LayerOpt = None,
    crs: CrsOpt = None,
    datum: DatumOpt = InputDatum.wgs84,
    encoding: EncodingOpt = None,
    name_field: Annotated[str | None, typer.Option(help="Column of the compound's name.")] = None,
    community_field: Annotated[str | None, typer.Option(help="Column of the community code (else located "
                                                             "from the geometry).")] = None,
    tolerance_ratio: RatioOpt = DEFAULT_TOLERANCE.ratio,
    tolerance_m2: SquareMetresOpt = DEFAULT_TOLERANCE.min_m2,
) -> None:
    """Import residential compounds (小区), each inside a community already imported; upsert by (community, name)."""
    rt = runtime(ctx)
    summary = _run(rt, path, lambda session, progress: import_compounds(
        session, path, layer=layer, crs=crs, datum=datum, encoding=encoding, name_field=name_field,
        community_field=community_field, tolerance=Tolerance(tolerance_ratio, tolerance_m2),
        settings=rt.settings, progress=progress))
    _report(path, summary)


def _run(rt: Runtime, path: Path, work: Callable[[Session, RichProgress], ImportSummary]) -> ImportSummary:
    """Run one import in one transaction; on validation errors show every problem and exit 1."""
    try:
        with rich_progress() as progress, rt.transaction() as session:
            return work(session, progress)
    except ValidationFailed as failed:
        console.print(problem_table(failed.problems, title=f"{path.name}: problems found"))
        err_console.print(f"[bold red]error:[/] {escape(failed.what)}: {len(failed.errors)} error(s), nothing was "
                          "written", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _report(path: Path, summary: ImportSummary) -> None:
    if summary.warnings:
        console.print(problem_table(summary.warnings, title=f"{path.name}: warnings"))
    console.print(f"[bold green]imported[/] {escape(path.name)}: {summary}", highlight=False)


def problem_table(problems: Sequence[Problem], *, title: str) -> Table:
    """Errors first, then warnings, each naming the feature and the fix."""
    table = Table("", "feature", "problem", "fix", title=title, title_justify="left", show_lines=False)
    for problem in sorted(problems, key=lambda p: p.severity != "error"):
        mark = "[bold red]error[/]" if problem.severity == "error" else "[yellow]warning[/]"
        table.add_row(mark, Text(problem.feature), Text(problem.message), Text(problem.fix))
    return table
