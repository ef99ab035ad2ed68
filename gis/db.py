"""Engines and sessions: how Wangge talks to PostgreSQL, whichever server it is.

Nothing here connects at import: callers ask for an engine. The private cluster that Wangge runs when no
DATABASE_URL is set is ``gis.cluster``'s job.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    """Declarative base of every model; models live in ``gis.models``."""


def normalise_url(url: str) -> str:
    """Use psycopg 3 whatever driver the URL names (``postgresql://`` comes from psql and QGIS)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, custom_plans: bool = True, **kwargs: object) -> Engine:
    """An engine on ``url`` (any PostgreSQL driver name; psycopg 3 is used), checking connections before use.

    ``custom_plans``: psycopg prepares a statement after a few runs and PostgreSQL may then switch to a
    generic plan, which is blind to the bbox and layer parameters: measured, the 11th identical
    facility-sharing query went from 0.8 s to over 20 s. Custom plans keep every run on the plan its values
    deserve, at the price of planning every time. An engine for one known hot statement whose generic plan is
    good (the create's, see ``gis.incidents.fast_create``) passes False: planning it every time was 60 % of
    the database's CPU per create (measured 2.0–2.3 ms with custom plans, 0.8–0.9 ms without)."""
    connect_args = {"options": "-c plan_cache_mode=force_custom_plan"} if custom_plans else {}
    return create_engine(
        normalise_url(url), pool_pre_ping=True, connect_args=connect_args, **kwargs,
    )


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under ``session``, in its transaction: for what SQLAlchemy does not do (COPY,
    a hot statement run without the ORM's result machinery)."""
    connection = session.connection().connection.driver_connection
    if connection is None:  # a connection the session has checked out always has one
        raise RuntimeError("the session's connection has no driver connection")
    return connection  # type: ignore[no-any-return]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: API handlers serialise objects after the commit.
    return sessionmaker(bind=engine, expire_on_commit=False)
