"""The FastAPI application factory. The lifespan owns the engine; nothing is built at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gis.db import make_engine, make_sessionmaker, resolve_database_url
from gis.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """Build the app. ``database_url`` overrides the settings' (tests pass their throwaway database)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or resolve_database_url(settings.database_url, settings.state_dir, settings.pg_port)
        engine = make_engine(url, pool_size=10, max_overflow=20)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="Wangge 网格 API",
        version="0.1.0",
        description="Community grid management: boundaries, unit grid cells, incidents, shared facilities.",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.get("/healthz", tags=["meta"], operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
