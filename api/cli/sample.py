"""`wangge sample load`: the Jishou sample city, loaded idempotently (a second run changes nothing)."""

from __future__ import annotations

from collections.abc import Callable

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from api.cli.progress import rich_progress
from api.cli.runtime import Runtime, console, handles_errors, runtime
from api.cli.users import demo_logins_table
from gis.seed.people import DemoLogin
from gis.settings import PROJECT_ROOT

app = typer.Typer(help="The Jishou sample city.", no_args_is_help=True)

DATA = PROJECT_ROOT / "data"

Step = Callable[[Session], str]


def _steps(rt: Runtime, logins: list[DemoLogin]) -> list[tuple[str, Step]]:
    """The sample's steps in dependency order; each returns a one-line summary."""
    from gis.areas import boundaries, grid_store
    from gis.areas.compounds import import_compounds
    from gis.facilities import importer as facility_import
    from gis.incidents import categories
    from gis.seed import incidents as sample_incidents
    from gis.seed import people as demo

    settings = rt.settings

    def admin(session: Session) -> str:
        with rich_progress() as progress:
            return str(boundaries.import_boundaries(session, DATA / "boundaries" / "jishou_admin.geojson",
                                                    settings=settings, progress=progress))

    def compounds(session: Session) -> str:
        with rich_progress() as progress:
            return str(import_compounds(session, DATA / "boundaries" / "jishou_compounds.geojson",
                                                   settings=settings, progress=progress))

    def grid(session: Session) -> str:
        with rich_progress() as progress:
            return str(grid_store.build_grid(session, settings=settings, if_missing=True, progress=progress))

    def taxonomy(session: Session) -> str:
        return str(categories.load_categories(session, DATA / "categories.csv"))

    def people(session: Session) -> str:
        logins.extend(demo.seed_demo_people(session))
        return f"{len(logins)} demo log-ins (teams per subdistrict, every role)"

    def facilities(session: Session) -> str:
        return str(facility_import.load_sample_facilities(session, DATA / "facilities"))

    def incidents(session: Session) -> str:
        with rich_progress() as progress:
            return str(sample_incidents.load_sample_incidents(
                session, DATA / "incidents" / "jishou_incidents.csv", photo_dir=settings.photo_dir,
                progress=progress,
            ))

    return [
        ("boundaries 行政区划", admin),
        ("compounds 小区", compounds),
        ("unit grid 单元网格", grid),
        ("categories 案件类别", taxonomy),
        ("people 人员与队伍", people),
        ("shared facilities 场所联享", facilities),
        ("incidents 案件", incidents),
    ]


def load_sample(rt: Runtime) -> list[DemoLogin]:
    """Load every step in one transaction: a failure leaves the database as it was."""
    table = Table("step", "result", title="Jishou sample 吉首示例数据")
    logins: list[DemoLogin] = []
    with rt.transaction() as session:
        for name, step in _steps(rt, logins):
            console.print(f"[bold]loading[/] {name} …")
            table.add_row(name, step(session))
    console.print(table)
    console.print(demo_logins_table(logins))
    return logins


@app.command("load")
@handles_errors
def load(ctx: typer.Context) -> None:
    """Load (or refresh) the Jishou sample: boundaries, compounds, grid, people, facilities, incidents."""
    load_sample(runtime(ctx))
