"""`wangge export` (planner files for QGIS) and `wangge layers list` (what can be exported and served).

Both read the layer registry, so a layer added in ``gis/layers`` shows up here with no change.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from api.cli.progress import rich_progress
from api.cli.runtime import console, handles_errors, runtime
from gis.layers import registry
from gis.layers.export import export_layers
from gis.spatial import bbox as spatial_bbox
from gis.spatial.bbox import BBox

app = typer.Typer(help="Export published layers as files.")
layers_app = typer.Typer(help="The published layers (map page, exports, OGC API).", no_args_is_help=True)


class Format(enum.StrEnum):
    gpkg = "gpkg"
    geojson = "geojson"
    shp = "shp"


DEFAULT_OUT = {Format.gpkg: Path("wangge.gpkg"), Format.geojson: Path("wangge-geojson"),
               Format.shp: Path("wangge-shp")}


def parse_bbox(text: str | None) -> BBox | None:
    """``--bbox minLon,minLat,maxLon,maxLat``, checked by the one bbox rule (``gis.spatial.bbox``)."""
    return spatial_bbox.parse_bbox(text, "--bbox")


@app.command("export")
@handles_errors
def export(
    ctx: typer.Context,
    layers: Annotated[
        list[str] | None, typer.Argument(help="Layer ids (see `wangge layers list`); none: every layer.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="gpkg: one file; geojson, shp: one per layer.")] = (
        Format.gpkg
    ),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="A .gpkg file; for geojson/shp a folder (or the "
                                                                 "file for one layer). Default: wangge.gpkg, "
                                                                 "wangge-geojson/, wangge-shp/.")] = None,
    crs: Annotated[str | None, typer.Option(help="EPSG code to write in, e.g. 4546, or 'metric' (settings); "
                                                 "default 4326.")] = None,
    bbox: Annotated[str | None, typer.Option(help="Only features touching minLon,minLat,maxLon,maxLat.")] = None,
) -> None:
    """Write published layers (no personal data) for planners' GIS, with a progress bar per layer."""
    rt = runtime(ctx)
    box_ = parse_bbox(bbox)
    with rt.transaction() as session, rich_progress() as progress:
        report = export_layers(session, layers or [], out or DEFAULT_OUT[fmt], fmt=fmt.value, settings=rt.settings,
                               crs=crs, bbox=box_, progress=progress)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("layer")
    table.add_column("features", justify="right")
    table.add_column("file")
    for item in report.layers:
        table.add_row(item.layer_id, f"{item.features:,}", str(item.path))
    console.print(table)
    console.print(str(report), highlight=False)


@layers_app.command("list")
@handles_errors
def list_layers(
    ctx: typer.Context,
    count: Annotated[bool, typer.Option("--count/--no-count", help="Count each layer's features.")] = True,
) -> None:
    """Every published layer: id, titles, geometry, fields and (with --count) its features."""
    rt = runtime(ctx)
    table = Table(title="published layers 图层", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("标题", no_wrap=True)
    table.add_column("title")
    table.add_column("geometry")
    table.add_column("fields", justify="right")
    if count:
        table.add_column("features", justify="right")
    rows = [[layer.id, layer.title_zh, layer.title_en, layer.geometry_type, str(len(layer.fields))]
            for layer in registry(rt.settings).values()]
    if count:  # only then is a database needed
        with rt.transaction() as session:
            for row, layer in zip(rows, registry(rt.settings).values(), strict=True):
                row.append(f"{layer.count(session):,}")
    for row in rows:
        table.add_row(*row)
    console.print(table)
