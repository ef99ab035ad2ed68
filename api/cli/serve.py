"""`wangge serve`: migrate, optionally load the Jishou sample, and serve the API and map page."""

from __future__ import annotations

import typer
import uvicorn

from api.cli.runtime import console, handles_errors, runtime
from api.cli.sample import load_sample
from api.server import uvicorn_options

app = typer.Typer(help="Serve the API and map page.")


@app.command("serve")
@handles_errors
def serve(
    ctx: typer.Context,
    load_sample_data: bool = typer.Option(False, "--load-sample", help="Load the Jishou sample first."),
    host: str | None = typer.Option(None, help="Address to bind (default WANGGE_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, help="Port (default WANGGE_PORT, 8000)."),
    workers: int = typer.Option(1, min=1, max=16, help="Worker processes."),
) -> None:
    """Migrate the database, optionally load the sample, then serve until interrupted."""
    rt = runtime(ctx)
    settings = rt.settings
    rt.ensure_sessions()  # starts the private cluster if need be and migrates to the latest schema
    if load_sample_data:
        load_sample(rt)
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    console.print(f"\n[bold green]Wangge is serving[/] on {base}")
    console.print(f"  map page     {base}/")
    console.print(f"  API docs     {base}/docs")
    console.print(f"  database     {rt.url().split('@')[-1]}  (`wangge db url` prints the full URL)\n")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level="info",
                **uvicorn_options(settings))
