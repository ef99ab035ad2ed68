"""`wangge sample load`: the Jishou sample city, loaded idempotently (a second run changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from api.cli.progress import rich_progress
from api.cli.runtime import Runtime, console, handles_errors, runtime
from gis.settings import PROJECT_ROOT

app = typer.Typer(help="The Jishou sample city.", no_args_is_help=True)

DATA = PROJECT_ROOT / "data"

Step = Callable[[Session], str]


def _steps(rt: Runtime) -> list[tuple[str, Step]]:
    """The sample's steps in dependency order; each returns a one-line summary."""
    from gis import boundaries, grid_store

    def admin(session: Session) -> str:
        with rich_progress() as progress:
            return str(boundaries.import_boundaries(session, DATA / "boundaries" / "jishou_admin.geojson",
                                                    settings=rt.settings, progress=progress))

    def compounds(session: Session) -> str:
        with rich_progress() as progress:
            return str(boundaries.import_compounds(session, DATA / "boundaries" / "jishou_compounds.geojson",
                                                   settings=rt.settings, progress=progress))

    def grid(session: Session) -> str:
        with rich_progress() as progress:
            return str(grid_store.build_grid(session, settings=rt.settings, if_missing=True, progress=progress))

    return [("boundaries 行政区划", admin), ("compounds 小区", compounds), ("unit grid 单元网格", grid)]


def load_sample(rt: Runtime, data: Path = DATA) -> None:
    """Load every step in one transaction: a failure leaves the database as it was."""
    table = Table("step", "result", title="Jishou sample 吉首示例数据")
    with rt.transaction() as session:
        for name, step in _steps(rt):
            console.print(f"[bold]loading[/] {name} …")
            table.add_row(name, step(session))
    console.print(table)


@app.command("load")
@handles_errors
def load(ctx: typer.Context) -> None:
    """Load (or refresh) the Jishou sample: boundaries, compounds, grid, people, facilities, incidents."""
    load_sample(runtime(ctx))
