"""`wangge map build` (one self-contained HTML file) and `wangge map picture` (a PNG for a report) of incident
density or facility sharing per grid cell — the same rows and classes as the command map (``maps.takeaway``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli.runtime import console, handles_errors, runtime
from api.routes.pages import STATIC_DIR
from gis.errors import InvalidInput
from gis.incidents.query import IncidentFilter
from gis.layers import registry
from maps.classes import Scheme
from maps.takeaway import TakeawayMap, picture, plan_for, standalone_html

app = typer.Typer(help="Maps to take away: a self-contained HTML file, a PNG picture.", no_args_is_help=True)

Kind = Annotated[str, typer.Argument(help="density or sharing")]
Out = Annotated[Path, typer.Option("--out", "-o", help="The file to write")]
Area = Annotated[str | None, typer.Option("--area", help="A subdistrict or community code (default: the city)")]
Since = Annotated[datetime | None, typer.Option("--from", help="Reported at or after (ISO 8601, with zone)")]
Until = Annotated[datetime | None, typer.Option("--to", help="Reported before (ISO 8601, with zone)")]
Categories = Annotated[list[str] | None, typer.Option("--category", help="Category codes (repeat)")]
Statuses = Annotated[list[str] | None, typer.Option("--status", help="Statuses (repeat)")]
LevelOpt = Annotated[str | None, typer.Option("--level", help="cell, community or subdistrict (density)")]
FieldOpt = Annotated[str | None, typer.Option("--field", help="incidents, per_km2, per_1000_households, …")]
SchemeOpt = Annotated[Scheme, typer.Option("--scheme", help="quantiles, fisher_jenks, equal_interval, user")]
KOpt = Annotated[int, typer.Option("--k", min=1, max=9, help="Number of classes")]
BreaksOpt = Annotated[str | None, typer.Option("--breaks", help="Upper bounds for --scheme user: 1,5,10")]
Radius = Annotated[float | None, typer.Option("--radius", min=50, max=3000, help="Walking radius, m (sharing)")]


def _plan(ctx: typer.Context, kind: str, area: str | None, since: datetime | None, until: datetime | None,
          category: list[str] | None, status: list[str] | None, level: str | None, field: str | None,
          scheme: Scheme, k: int, breaks: str | None, radius: float | None) -> TakeawayMap:
    try:
        bounds = tuple(float(b) for b in breaks.split(",")) if breaks else ()
    except ValueError:
        raise InvalidInput(f"--breaks {breaks!r}: give numbers separated by commas, e.g. 1,5,10") from None
    filters = IncidentFilter(categories=category or (), statuses=status or (), reported_from=since,
                             reported_to=until)
    rt = runtime(ctx)
    with rt.transaction() as session:
        return plan_for(session, registry(rt.settings), kind, filters=filters, area=area, level=level, field=field,
                        scheme=scheme, k=k, breaks=bounds, radius_m=radius)


@app.command("build")
@handles_errors
def build(ctx: typer.Context, kind: Kind, out: Out, area: Area = None, since: Since = None, until: Until = None,
          category: Categories = None, status: Statuses = None, level: LevelOpt = None, field: FieldOpt = None,
          scheme: SchemeOpt = Scheme.quantiles, k: KOpt = 5, breaks: BreaksOpt = None, radius: Radius = None) -> None:
    """One HTML file with Leaflet and the data inlined: it opens offline (e.g. from a USB stick)."""
    with console.status("正在生成地图…"):
        plan = _plan(ctx, kind, area, since, until, category, status, level, field, scheme, k, breaks, radius)
        html = standalone_html(plan, STATIC_DIR)
    out.write_text(html, encoding="utf-8")
    console.print(f"{out}: {len(plan.frame):,} features, {len(html.encode()) / 1e6:.2f} MB, classes "
                  f"{', '.join(f'{b:g}' for b in plan.classes.bounds)}")


@app.command("picture")
@handles_errors
def picture_command(ctx: typer.Context, kind: Kind, out: Out, area: Area = None, since: Since = None,
                    until: Until = None, category: Categories = None, status: Statuses = None, level: LevelOpt = None,
                    field: FieldOpt = None, scheme: SchemeOpt = Scheme.quantiles, k: KOpt = 5,
                    breaks: BreaksOpt = None, radius: Radius = None) -> None:
    """A PNG picture with title, legend, scale bar and north arrow, for a report."""
    with console.status("正在绘图…"):
        plan = _plan(ctx, kind, area, since, until, category, status, level, field, scheme, k, breaks, radius)
        picture(plan, out, metric_crs=runtime(ctx).settings.metric_crs)
    console.print(f"{out}: {len(plan.frame):,} features")
