"""The `wangge` command. Each sub-command lives in a module named for what it manages."""

from __future__ import annotations

import typer

from api.cli import boundaries, city, db, evaluation, export, facilities, grid, incidents, maps, sample, serve, users

app = typer.Typer(
    name="wangge",
    help="Wangge (网格): community grid management on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(grid.app, name="grid")
app.add_typer(boundaries.app, name="boundaries")
app.add_typer(users.app, name="users")
app.add_typer(users.teams_app, name="teams")
app.add_typer(users.keys_app, name="keys")
app.add_typer(facilities.app, name="facilities")
app.add_typer(incidents.categories_app, name="categories")
app.add_typer(incidents.app, name="incidents")
app.add_typer(sample.app, name="sample")
app.add_typer(export.layers_app, name="layers")
app.add_typer(city.app, name="city")
app.add_typer(maps.app, name="map")
app.registered_commands += serve.app.registered_commands
app.registered_commands += export.app.registered_commands
app.add_typer(evaluation.app, name="evaluation")


def main() -> None:
    app()
