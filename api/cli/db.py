"""`wangge db …`: the database in use, its migrations, and the private cluster."""

from __future__ import annotations

import typer

from api.cli.runtime import console, handles_errors, runtime
from gis import migrate
from gis.cluster import local_cluster
from gis.db import make_engine

app = typer.Typer(help="The database: URL, migrations, private cluster.", no_args_is_help=True)


@app.command("url")
@handles_errors
def url(ctx: typer.Context) -> None:
    """Print the database URL in use (for psql or QGIS); starts the private cluster if need be."""
    rt = runtime(ctx)
    typer.echo(rt.url().replace("postgresql+psycopg://", "postgresql://"))


@app.command("migrate")
@handles_errors
def migrate_cmd(ctx: typer.Context, revision: str = typer.Argument("heads")) -> None:
    """Migrate the schema (Alembic) to REVISION, the latest (heads) by default."""
    rt = runtime(ctx)
    engine = make_engine(rt.url())
    migrate.upgrade(engine, revision)
    console.print(f"schema at revision [bold]{migrate.current(engine)}[/]")


@app.command("start")
@handles_errors
def start(ctx: typer.Context) -> None:
    """Start the private cluster (created on first use). Ignored when DATABASE_URL is set."""
    rt = runtime(ctx)
    if rt.settings.database_url:
        console.print("DATABASE_URL is set: Wangge uses that server and runs no cluster of its own.")
        return
    local_cluster(rt.settings.state_dir, rt.settings.pg_port).ensure()
    console.print(f"private cluster running on 127.0.0.1:{rt.settings.pg_port}")


@app.command("stop")
@handles_errors
def stop(ctx: typer.Context) -> None:
    """Stop the private cluster."""
    rt = runtime(ctx)
    local_cluster(rt.settings.state_dir, rt.settings.pg_port).stop()
    console.print("private cluster stopped")
