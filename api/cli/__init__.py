"""The `wangge` command. Each sub-command lives in a module named for what it manages."""

from __future__ import annotations

import typer

from api.cli import db, sample, serve

app = typer.Typer(
    name="wangge",
    help="Wangge (网格): community grid management on PostGIS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(sample.app, name="sample")
app.registered_commands += serve.app.registered_commands


def main() -> None:
    app()
