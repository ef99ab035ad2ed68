"""What a CLI command needs: settings and a way to open one transaction. Tests hand in their own."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gis import migrate
from gis.cluster import resolve_database_url
from gis.db import make_engine, make_sessionmaker
from gis.errors import WanggeError
from gis.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Runtime:
    settings: Settings = field(default_factory=get_settings)
    sessions: sessionmaker[Session] | None = None
    engine: Engine | None = None

    def url(self) -> str:
        return resolve_database_url(self.settings.database_url, self.settings.state_dir, self.settings.pg_port)

    def ensure_sessions(self) -> sessionmaker[Session]:
        """Start the private cluster if need be, migrate to head, and return the session factory."""
        if self.sessions is None:
            self.engine = make_engine(self.url())
            migrate.upgrade(self.engine)
            self.sessions = make_sessionmaker(self.engine)
        return self.sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends, rolled back whole if it raises."""
        with self.ensure_sessions()() as session, session.begin():
            yield session


def runtime(ctx: typer.Context) -> Runtime:
    """The Runtime of this invocation (tests pass one as ``obj``; otherwise built from the environment)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    return root.obj


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn Wangge's own errors into a red message and exit code 1 — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except WanggeError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper
