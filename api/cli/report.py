"""`wangge report --period 2026-W47 --out report.html`: the weekly report as one self-contained HTML page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli.runtime import console, handles_errors, runtime
from gis.evaluation import periods, report
from gis.evaluation.indicators import Weights


@handles_errors
def weekly_report(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="The week (2026-W47), or a day, month or quarter")],
    out: Annotated[Path, typer.Option(help="The HTML file to write", dir_okay=False)],
) -> None:
    """The weekly report (周报): figures against the week before, tables, 12 weeks of trend, maps."""
    rt = runtime(ctx)
    chosen = periods.named(period)
    with console.status(f"周报 {chosen.label}: indicators, trend, Gi* …"), rt.transaction() as session:
        html = report.build(session, period=chosen, city=rt.settings.city_name_zh, now=datetime.now(UTC),
                            weights=Weights.from_settings(rt.settings),
                            check_hours=rt.settings.evaluation_check_hours)
    out.write_text(html, encoding="utf-8")
    console.print(f"wrote {out} ({len(html.encode()):,} bytes)")
