"""The evaluation dashboard for the supervision centre and leaders: ``GET /dashboard`` (zh-CN).

The page is rendered here (Jinja2, autoescaped): its filters (grouping, period) with last week as the
default, the sections and the vendored ECharts and Leaflet it links. It carries no figures: after logging in
(the same token as the API), ``dashboard.js`` asks ``/api/v1/evaluation`` (rankings, categories),
``/api/v1/evaluation/trend`` (weekly lines) and the ``incident_hotspots`` layer (the map), so the figures
are those of the caller's rights, never more. Every text from the data is set as text, not HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import SettingsDep
from api.routes.pages import STATIC_URL
from gis.evaluation.periods import Grouping
from gis.incidents.work_calendar import SHANGHAI
from gis.models.evaluation import HOTSPOT_COLOURS, HOTSPOT_ZH
from maps.assets import LEAFLET_CSS, LEAFLET_JS
from maps.vendor import ECHARTS_JS

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
# The groupings a leader ranks by (grid cells are for the map, workers for the centre's own page).
RANKED = (Grouping.subdistrict, Grouping.community, Grouping.team, Grouping.cell, Grouping.worker, Grouping.category)

router = APIRouter(tags=["pages"])


def render_dashboard(site_title: str, city: str, today: datetime) -> str:
    monday = today.date() - timedelta(days=today.weekday())
    start, end = monday - timedelta(weeks=1), monday
    return TEMPLATES.get_template("dashboard.html").render(
        site_title=site_title, city=city, groupings=[(g.value, g.label_zh) for g in RANKED],
        start=start.isoformat(), end=end.isoformat(),
        echarts_js=ECHARTS_JS.url(STATIC_URL), leaflet_js=LEAFLET_JS.url(STATIC_URL),
        leaflet_css=LEAFLET_CSS.url(STATIC_URL), static_url=STATIC_URL,
        hot_legend=[(name, HOTSPOT_ZH[name], colour) for name, colour in HOTSPOT_COLOURS.items()],
    )


@router.get("/dashboard", response_class=HTMLResponse, operation_id="dashboard_page",
            summary="The evaluation dashboard (考核评价) for the supervision centre and leaders")
def dashboard_page(settings: SettingsDep) -> HTMLResponse:
    html = render_dashboard(settings.site_title, settings.city_name_zh, datetime.now(UTC).astimezone(SHANGHAI))
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
