"""`python -m bench [--quick] [--only NAME …]`: run the benchmarks, print the table, update RESULTS.md.

The benchmarks run against a throwaway database on the private *test* cluster (the one the tests use,
``.wangge/pg-test``), created for this run and dropped at the end — never the user's data. Set
WANGGE_BENCH_DATABASE_URL to use another server instead: it must name a database that may be dropped.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import geopandas
import psycopg
import shapely
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

import bench
from bench import BENCHMARKS, BenchContext, Row
from gis import migrate
from gis.cluster import LocalCluster
from gis.db import make_engine, make_sessionmaker, normalise_url
from gis.settings import PROJECT_ROOT, Settings

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
console = Console()


def discover() -> list[Row]:
    """Import every ``bench/bench_*.py`` so that its ``@benchmark`` functions register themselves; a
    module that fails to import becomes a row saying so (the others still run)."""
    broken = []
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name.startswith("bench_"):
            try:
                importlib.import_module(f"bench.{module.name}")
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                broken.append(Row(f"bench.{module.name}", None, None, f"FAILED to import: {exc!r}"))
    return broken


@contextmanager
def throwaway_database() -> Iterator[Engine]:
    """A fresh, migrated database for this run, dropped afterwards."""
    explicit = os.environ.get("WANGGE_BENCH_DATABASE_URL")
    if explicit:
        url = normalise_url(explicit)
    else:
        cluster = LocalCluster(
            root=PROJECT_ROOT / ".wangge" / "pg-test",
            port=int(os.environ.get("WANGGE_TEST_PG_PORT", "54339")),
            database=f"wangge_bench_{os.getpid()}",
            durable=False,
        )
        cluster.ensure()
        url = cluster.url()
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')  # our own name
        conn.execute(f'CREATE DATABASE "{parsed.database}"')
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def machine(engine: Engine) -> list[str]:
    """What the figures were measured on, for RESULTS.md."""
    cpu = platform.processor() or "unknown CPU"
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = ""
    try:
        kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    with engine.connect() as conn:
        server = conn.execute(text("SHOW server_version")).scalar()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar()
        fsync = conn.execute(text("SHOW fsync")).scalar()
    geos = ".".join(map(str, shapely.geos_version))
    return [
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, shapely {shapely.__version__} (GEOS {geos}), "
        f"geopandas {geopandas.__version__}",
        f"PostgreSQL {server}, PostGIS {postgis} (private test cluster, fsync {fsync})",
    ]


def render(rows: list[Row]) -> Table:
    table = Table(title="Wangge benchmarks (ratio = baseline / ours; higher is better)")
    table.add_column("benchmark")
    table.add_column("ours s", justify="right")
    table.add_column("baseline s", justify="right")
    table.add_column("ratio", justify="right")
    table.add_column("notes")
    for r in rows:
        table.add_row(r.name, _seconds(r.ours_s), _seconds(r.baseline_s), _ratio(r.ratio), r.notes)
    return table


def markdown(rows: list[Row]) -> list[str]:
    lines = ["| benchmark | ours (s) | baseline (s) | ratio | notes |", "|---|---:|---:|---:|---|"]
    lines += [
        f"| {r.name} | {_seconds(r.ours_s)} | {_seconds(r.baseline_s)} | {_ratio(r.ratio)} | {r.notes} |"
        for r in rows
    ]
    return lines


def update_results(path: Path, mode: str, command: str, about: list[str], rows: list[Row]) -> None:
    """Replace this mode's section of RESULTS.md (full or quick), keeping the other one."""
    start, end = f"<!-- bench:{mode}:start -->", f"<!-- bench:{mode}:end -->"
    section = "\n".join([
        start,
        f"## {'Full' if mode == 'full' else 'Quick'} run",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        *[f"- Machine: {line}" if i == 0 else f"- {line}" for i, line in enumerate(about)],
        "",
        *markdown(rows),
        end,
    ])
    text_now = path.read_text(encoding="utf-8") if path.exists() else _HEADER
    if start in text_now and end in text_now:
        before, rest = text_now.split(start, 1)
        after = rest.split(end, 1)[1]
        text_now = before + section + after
    else:
        text_now = text_now.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text_now, encoding="utf-8")


_HEADER = """# Benchmarks

Written by `python -m bench` (see `bench/__main__.py`); each run replaces its own section (full or
quick). Every figure is the best wall time of the repetitions (3 in a full run, 1 in a quick run); the
baseline is the naive way of doing the same thing, measured in the same run on the same data, and
ratio = baseline / ours. The database is a throwaway one on the private test cluster, which runs with
fsync off: writes would be somewhat slower on a durable server.
"""


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}×"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, one repetition")
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark (repeatable)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)

    broken = discover()
    rows: list[Row] = [] if args.only else broken
    names = args.only or sorted(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(sorted(BENCHMARKS))}")
    # Cell size, sliver ratio and metric CRS as configured (WANGGE_*); the database is always the throwaway.
    settings = Settings(database_url="postgresql://unused/unused")

    with throwaway_database() as engine, tempfile.TemporaryDirectory(prefix="wangge-bench-") as workdir:
        about = machine(engine)
        ctx = BenchContext(quick=args.quick, engine=engine, sessions=make_sessionmaker(engine),
                           settings=settings, workdir=Path(workdir))
        for name in names:
            console.print(f"[bold]running[/] {name} …")
            try:
                rows += BENCHMARKS[name](ctx)
            except Exception as exc:  # report it in the table and carry on with the next benchmark
                console.print_exception()
                rows.append(Row(name, None, None, f"FAILED: {exc!r}"))
    console.print(render(rows))
    if not args.no_write:
        command = shlex.join([".venv/bin/python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
        update_results(RESULTS, "quick" if args.quick else "full", command, about, rows)
        console.print(f"updated {RESULTS.relative_to(PROJECT_ROOT)}")
    return 1 if any(r.notes.startswith("FAILED") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
