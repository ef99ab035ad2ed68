"""Test fixtures: a throwaway PostGIS of the tests' own, migrated by the production Alembic path,
and one rolled-back transaction per test.

The tests never use DATABASE_URL (the user's data). They run their own private cluster under
``.wangge/pg-test`` on port 54339 (WANGGE_TEST_PG_PORT), or WANGGE_TEST_DATABASE_URL when set, which
must name a database the tests may drop and recreate.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.cli.runtime import Runtime
from gis import migrate
from gis.cluster import LocalCluster
from gis.db import make_engine, normalise_url
from gis.settings import PROJECT_ROOT, Settings

# One database per test process, so that several test runs can share the test cluster.
TEST_DB = f"wangge_test_{os.getpid()}"


def _fresh_database(url: str) -> str:
    """Drop and recreate the test database named by ``url`` so every session starts empty."""
    parsed = make_url(normalise_url(url))
    name = parsed.database or TEST_DB
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url() -> str:
    explicit = os.environ.get("WANGGE_TEST_DATABASE_URL")
    if explicit:
        return _fresh_database(explicit)
    cluster = LocalCluster(
        root=PROJECT_ROOT / ".wangge" / "pg-test",
        port=int(os.environ.get("WANGGE_TEST_PG_PORT", "54339")),
        database=TEST_DB,
        durable=False,
    )
    cluster.ensure()
    return _fresh_database(cluster.url())


def _drop_database(url: str) -> None:
    parsed = make_url(normalise_url(url))
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()
    if not os.environ.get("WANGGE_TEST_DATABASE_URL"):
        _drop_database(database_url)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test: nothing persists."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def sessions(connection: Connection) -> sessionmaker[Session]:
    """Sessions bound to the test's connection; their commits become savepoints of the test transaction."""
    return sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url="postgresql://unused/unused", state_dir=tmp_path / "state")


@pytest.fixture
def runtime(settings: Settings, sessions: sessionmaker[Session]) -> Runtime:
    return Runtime(settings=settings, sessions=sessions)


class Cli:
    """Runs `wangge …` in-process against the test transaction."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.runner = CliRunner()

    def __call__(self, *args: str | Path):
        return self.runner.invoke(cli_app, [str(a) for a in args], obj=self.runtime)


@pytest.fixture
def cli(runtime: Runtime) -> Cli:
    return Cli(runtime)
