"""Web pages: the grid worker's map at ``/``, and the static files (vendored Leaflet, worker.js/css) it loads.

The page itself carries no data and needs no log-in to load: it opens on the middle of the loaded
communities and asks the API (with the worker's token) for everything else.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import LayersDep, SessionDep
from gis.models import AdminArea, AdminLevel
from maps.assets import render
from maps.worker import WorkerConfig, build_worker_map, layer_views

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_URL = "/static"
# Where the page opens when no community is loaded yet: central Jishou (乾州/镇溪), lon, lat.
JISHOU_CENTER = (109.7078, 28.2805)

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
def worker_page(session: SessionDep, layers: LayersDep) -> HTMLResponse:
    center = _communities_center(session) or JISHOU_CENTER
    config = WorkerConfig(layers=layer_views(layers))
    html = render(build_worker_map(center=center, zoom=14, config=config, static_url=STATIC_URL))
    # The page is the same for everyone, but a deploy changes it: let the phone revalidate each time.
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})

