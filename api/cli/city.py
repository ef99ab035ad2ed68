"""`wangge city …`: start a new city — its settings worked out from its outline or boundaries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.cli.runtime import err_console, handles_errors
from gis.areas.schemes import CodeScheme
from gis.city import propose_city
from gis.spatial.crs import InputDatum

app = typer.Typer(help="A new city: settings from its outline or boundaries.", no_args_is_help=True)


@app.command("init")
@handles_errors
def init(
    path: Annotated[Path, typer.Argument(help="The city's outline or boundaries: any vector file GDAL reads.",
                                         show_default=False)],
    name: Annotated[str, typer.Option(help="The city's name, e.g. Chicago or 吉首市.", show_default=False)],
    code_scheme: Annotated[CodeScheme, typer.Option(
        case_sensitive=False, help="cn: 12-digit division codes; adcode: DataV 6-digit codes; any: any unique "
                                   "id per level.")] = CodeScheme.cn,
    out: Annotated[Path | None, typer.Option(help="Write the .env lines to this file (refused if it exists); "
                                                  "default: print them.")] = None,
    layer: Annotated[str | None, typer.Option(help="Layer to read when the file has several.")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS when the file has none, e.g. EPSG:26971.")] = None,
    datum: Annotated[InputDatum, typer.Option(case_sensitive=False, help="gcj02 or bd09 lon/lat are converted "
                                                                         "to WGS 84.")] = InputDatum.wgs84,
    metric_crs: Annotated[int | None, typer.Option(help="EPSG code of the metric CRS (default: the UTM / "
                                                        "Gauss–Krüger zone of the centre).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone (default: the zone of the centre).")] = None,
    case_prefix: Annotated[str | None, typer.Option(help="First part of case numbers (default: from the "
                                                         "name).")] = None,
) -> None:
    """Work out a new city's settings (region, metric CRS, time zone, case prefix, code scheme) as .env lines.

    Says what it chose and why; nothing is written to the database.
    """
    proposal = propose_city(path, name=name, code_scheme=code_scheme, layer=layer, crs=crs, datum=datum,
                            metric_crs=metric_crs, timezone=timezone, case_prefix=case_prefix)
    for reason in proposal.reasons:
        err_console.print(f"[green]chose[/] {escape(reason)}", highlight=False, soft_wrap=True)
    text = "\n".join(proposal.env_lines()) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    if out.exists():
        err_console.print(f"[bold red]error:[/] {escape(str(out))} exists — fix: choose another --out, or "
                          "remove it first", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.write_text(text, encoding="utf-8")
    err_console.print(f"wrote {escape(str(out))}: add its lines to the deployment's .env", highlight=False)
