"""Web pages: the grid worker's map at ``/``, the officer's queue at ``/officer``, the supervision centre's desk at
``/desk``, and the static files (vendored Leaflet and htmx, worker.js/css, pages.js/css) they load.

A page itself carries no data and needs no log-in to load: it opens on the middle of the loaded communities
and asks, with the user's token, the API (the worker's map) or the page parts (``api.routes.page_parts``,
server-rendered HTML that htmx swaps in) for everything else. After log-in each role lands on its own page
(``HOMES``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import LayersDep, SessionDep, SettingsDep
from api.routes.page_parts import page_templates
from gis.errors import SetupError
from gis.models import AdminArea, AdminLevel, Role, Status
from gis.settings import Settings
from maps.assets import render
from maps.basemaps import basemap_for
from maps.worker import WorkerConfig, build_worker_map, layer_views

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"
# Where the page opens when no community is loaded yet: central Jishou (乾州/镇溪), lon, lat.
JISHOU_CENTER = (109.7078, 28.2805)

# Where each role opens after log-in. Planners read the maps and exports (the map page and /map).
HOMES: dict[str, str] = {
    Role.grid_worker: "/", Role.officer: "/officer", Role.supervisor: "/desk", Role.admin: "/desk",
    Role.planner: "/", Role.unit_manager: "/sharing", Role.community_staff: "/sharing",
}

router = APIRouter(tags=["pages"])
# Vendored Leaflet under /static/vendor/, the page's own worker.js/css at /static/.
router.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")


def _communities_center(session: Session) -> tuple[float, float] | None:
    """The middle of the current communities' extent (lon, lat), or None when none is loaded."""
    extent = func.ST_Extent(AdminArea.geom)
    box = session.execute(
        select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)).where(
            AdminArea.level == AdminLevel.community.value, AdminArea.valid_to.is_(None)
        )
    ).one()
    if box[0] is None:
        return None
    minx, miny, maxx, maxy = (float(v) for v in box)
    return ((minx + maxx) / 2, (miny + maxy) / 2)


@router.get("/", response_class=HTMLResponse, operation_id="worker_page", summary="The grid worker's map page")
def worker_page(session: SessionDep, layers: LayersDep, settings: SettingsDep) -> HTMLResponse:
    center = _communities_center(session) or JISHOU_CENTER
    config = WorkerConfig(layers=layer_views(layers), extra={"homes": HOMES, "basemap": page_basemap(settings)})
    html = render(build_worker_map(center=center, zoom=14, config=config, static_url=STATIC_URL))
    # The page is the same for everyone, but a deploy changes it: let the phone revalidate each time.
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})



def page_basemap(settings: Settings) -> dict[str, Any]:
    """The base map every page draws (``maps.basemaps``); a setting that cannot work is a 503 naming it."""
    try:
        return basemap_for(settings).as_json()
    except ValueError as exc:
        raise SetupError(str(exc)) from None


def _role_page(session: Session, settings: Settings, template: str, *, page: str, title: str, roles: list[Role],
               **context: Any) -> HTMLResponse:
    center = _communities_center(session) or JISHOU_CENTER
    html = page_templates.get_template(template).render(
        page=page, title=title, roles=[str(r) for r in roles], site_title=settings.site_title, static=STATIC_URL,
        config={"api": "/api/v1", "center": center, "homes": HOMES, "basemap": page_basemap(settings)}, **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/officer", response_class=HTMLResponse, operation_id="officer_page",
            summary="The officer's page: the team's queue by deadline beside a map of its jurisdiction")
def officer_page(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _role_page(session, settings, "officer.html", page="officer", title="执法队任务",
                      roles=[Role.officer, Role.admin])


@router.get("/desk", response_class=HTMLResponse, operation_id="desk_page",
            summary="The supervision centre's case desk: a filtered, paged list beside the map, the overdue board")
def desk_page(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    # Served to anyone (the page signs in by script): the team filter's options come from /app/teams, behind
    # the desk's right, so that a visitor learns nothing of the city's teams.
    return _role_page(session, settings, "desk.html", page="desk", title="监督指挥中心",
                      roles=[Role.supervisor, Role.admin],
                      statuses=[(s.value, s.label_zh) for s in Status])


@router.get("/sharing", response_class=HTMLResponse, operation_id="sharing_page",
            summary="Shared facilities (场所联享): each facility's week, booking and cancelling; the unit's pairings")
def sharing_page(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _role_page(session, settings, "sharing.html", page="sharing", title="场所联享",
                      roles=[Role.unit_manager, Role.community_staff, Role.admin])


@router.get("/admin", response_class=HTMLResponse, operation_id="admin_page",
            summary="Administration: users, teams and jurisdictions, grid-cell assignments, API keys")
def admin_page(session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    return _role_page(session, settings, "admin.html", page="admin", title="系统管理", roles=[Role.admin])


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """No icon, said without an error: browsers ask on every page, and a 404 is a console error on each."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})
