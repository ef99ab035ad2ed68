"""`wangge report --period 2026-W47 --out report.html` (or `report.pdf`): the weekly report as one
self-contained HTML page, or that page printed to PDF by Debian's Chromium.

The report is HTML with its charts and maps as inline SVG (``gis.evaluation.report``), so a PDF needs no
second layout: Chromium, which ``make test`` already installs for the page tests, prints the same page.
WeasyPrint would be a second renderer with its own CSS support to keep in step; a browser prints what a
leader sees on screen."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from api.cli.runtime import console, handles_errors, runtime
from gis.errors import SetupError
from gis.evaluation import periods, report
from gis.evaluation.indicators import Weights

CHROMIUMS = ("chromium", "chromium-browser", "google-chrome")
PRINT_SECONDS = 120  # a week's report prints in a few seconds; a hung browser must not hang the CLI


@handles_errors
def weekly_report(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="The week (2026-W47), or a day, month or quarter")],
    out: Annotated[Path, typer.Option(help="The file to write: .html, or .pdf (printed by Chromium)",
                                      dir_okay=False)],
) -> None:
    """The weekly report (周报): figures against the week before, tables, 12 weeks of trend, maps."""
    rt = runtime(ctx)
    chosen = periods.named(period)
    pdf = out.suffix.lower() == ".pdf"
    browser = chromium() if pdf else None  # before the work: a missing browser is known at once
    with console.status(f"周报 {chosen.label}: indicators, trend, Gi* …"), rt.transaction() as session:
        html = report.build(session, period=chosen, city=rt.settings.city_name_zh, now=datetime.now(UTC),
                            weights=Weights.from_settings(rt.settings),
                            check_hours=rt.settings.evaluation_check_hours)
    if browser is None:
        out.write_text(html, encoding="utf-8")
    else:
        with console.status(f"周报 {chosen.label}: printing to PDF …"):
            print_pdf(browser, html, out)
    console.print(f"wrote {out} ({out.stat().st_size:,} bytes)")


def chromium() -> str:
    """The path of a Chromium to print with, or a SetupError that says how to get one."""
    for name in CHROMIUMS:
        if found := shutil.which(name):
            return found
    raise SetupError("out: a PDF report is printed by Chromium, which is not installed; run "
                     "`scripts/ensure-system.sh browser` (Debian's chromium) or write .html instead")


def print_pdf(browser: str, html: str, out: Path) -> None:
    """Print ``html`` to ``out`` with headless Chromium (A4, no header or footer line)."""
    with tempfile.TemporaryDirectory(prefix="wangge-report-") as scratch:
        page = Path(scratch) / "report.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(scratch) / "report.pdf"
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                   f"--user-data-dir={scratch}/profile", "--no-pdf-header-footer",
                   f"--print-to-pdf={printed}", page.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_SECONDS, check=False)
        except subprocess.TimeoutExpired:
            raise SetupError(f"out: Chromium did not print the report within {PRINT_SECONDS} s") from None
        if not printed.exists() or printed.stat().st_size == 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise SetupError(f"out: Chromium could not print the report (exit {done.returncode}: {last})")
        shutil.move(printed, out)
