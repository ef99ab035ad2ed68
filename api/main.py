"""The FastAPI application factory. The lifespan owns the engine; nothing is built at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from api.errors import install_error_handlers
from api.guards import install_guard
from api.openapi import install_openapi
from api.routes import (
    admin_parts,
    auth,
    categories,
    dashboard,
    docs,
    evaluation,
    exports,
    facilities,
    facility_parts,
    incident_create,
    incidents,
    layers,
    ogc,
    open311,
    page_parts,
    pages,
    patrols,
)
from api.routes.basemap import router as basemap_router
from api.routes.command_map import router as command_map_router
from api.routes.pairing_parts import router as pairing_parts_router
from api.routes.tiles import router as tiles_router
from gis.cluster import resolve_database_url
from gis.db import make_engine, make_sessionmaker
from gis.layers import registry
from gis.settings import Settings, get_settings


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    sessions: sessionmaker[Session] | None = None,
) -> FastAPI:
    """Build the app. ``database_url`` overrides the settings' (tests pass their throwaway database);
    ``sessions`` replaces the engines altogether (tests pass sessions inside their rolled-back transaction)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The layer registry is built once, here, and handed to routes as a dependency (api.deps.LayersDep).
        app.state.layers = registry(settings)
        if sessions is not None:
            app.state.sessions = app.state.report_sessions = sessions
            yield
            return
        url = database_url or resolve_database_url(settings.database_url, settings.state_dir, settings.pg_port)
        engine = make_engine(url, pool_size=10, max_overflow=20)
        # The create's one-statement fast path has its own few connections: its statement is atomic on its
        # own, so it runs without BEGIN/COMMIT round trips, and on its cached generic plan (see make_engine).
        report_engine = make_engine(url, custom_plans=False, isolation_level="AUTOCOMMIT",
                                    pool_size=incident_create.CREATE_THREADS,
                                    max_overflow=incident_create.CREATE_THREADS)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.report_sessions = make_sessionmaker(report_engine)
        yield
        engine.dispose()
        report_engine.dispose()

    app = FastAPI(
        title=f"Wangge 网格 API — {settings.site_title}",
        version="0.1.0",
        description="Community grid management: boundaries, unit grid cells, incidents, shared facilities.",
        lifespan=lifespan,
        docs_url=None,  # api.routes.docs serves /docs and /redoc from the vendored files: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # Compressed answers for clients that accept them: GeoJSON of a map view shrinks about tenfold, which a
    # phone on a slow link feels far more than the milliseconds of compression; level 1, since higher levels
    # cost several times the CPU for a few per cent more. Not for photos (already compressed) nor
    # GeoPackages, which GIS clients read by ranges and size.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=1,
                       exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "image/*",
                                              "application/geopackage+sqlite3"))
    # Outermost: NUL text, credentials before bodies, body limits, security headers (api.guards).
    install_guard(app)
    install_openapi(app)  # the errors each route answers, in its document (api.openapi)
    app.include_router(auth.router)
    app.include_router(categories.router)
    app.include_router(facilities.router)
    # A 405's Allow names every method of the resource, read from the OpenAPI document
    # (api.errors.allowed_methods), so the order of these routers no longer decides it.
    app.include_router(incident_create.router)
    app.include_router(incidents.router)
    app.include_router(open311.router)
    app.include_router(layers.router)
    app.include_router(ogc.router)
    app.include_router(exports.router)
    app.include_router(pages.router)
    app.include_router(page_parts.router)
    app.include_router(facility_parts.router)
    app.include_router(patrols.router)
    app.include_router(admin_parts.router)
    app.include_router(docs.router)
    app.include_router(evaluation.router)
    app.include_router(tiles_router)
    app.include_router(command_map_router)
    app.include_router(pairing_parts_router)
    app.include_router(basemap_router)
    app.include_router(dashboard.router)

    @app.get("/healthz", tags=["meta"], operation_id="health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
