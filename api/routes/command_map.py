"""The command map: the page at ``/map``, and the class bounds its choropleths are coloured by.

``GET /api/v1/map/classes`` classifies one numeric field of a layer over the features of the current view
(``bbox`` and ``z``: at small zooms the density layer's features are communities or subdistricts, as in its
tiles) for the same filters and scope as the tiles, with mapclassify (``maps.classes``). The page draws its
legend from this answer and colours each tile's features by it, so the legend and the map say the same bounds.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import BBoxDep, CurrentUser, LayersDep, SessionDep, SettingsDep, forbid_extra_query
from api.routes.incidents import FilterDep
from api.routes.pages import JISHOU_CENTER, STATIC_DIR, STATIC_URL, page_basemap
from api.routes.tiles import Radius, configured_layer
from gis.errors import InvalidInput, NotFound
from gis.incidents.query import IncidentFilter
from gis.incidents.visibility import list_scope
from gis.layers import BBox
from gis.layers.tiles import MAX_ZOOM
from gis.models import AdminArea, AdminLevel, User
from maps.assets import render
from maps.classes import MAX_CLASSES, Scheme, classify
from maps.command import build_command_map
from maps.takeaway import TakeawayMap, picture, plan_for, standalone_html

router = APIRouter(tags=["map"])
# Features classified at most: a view at the cells' first zoom on a big screen holds a few thousand cells.
MAX_FEATURES = 20_000


@router.get("/map", response_class=HTMLResponse, operation_id="command_map_page",
            summary="The command map: incident density and facility sharing per grid cell (zh-CN)")
def command_map_page(session: SessionDep, layers: LayersDep, settings: SettingsDep) -> HTMLResponse:
    extent = func.ST_Extent(AdminArea.geom)
    box = session.execute(
        select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent)).where(
            AdminArea.level == AdminLevel.community.value, AdminArea.valid_to.is_(None))
    ).one()
    center = JISHOU_CENTER if box[0] is None else ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    m = build_command_map(layers=layers.values(), center=center, zoom=13, static_url=STATIC_URL,
                          sharing_radius_m=settings.sharing_radius_m, basemap=page_basemap(settings))
    return HTMLResponse(render(m), headers={"Cache-Control": "no-cache"})


def _breaks(raw: str | None) -> list[float]:
    """The user's class bounds: at most MAX_CLASSES finite numbers (a legend has no more classes than that)."""
    if not raw:
        return []
    parts = [part for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_CLASSES:
        raise InvalidInput(f"breaks: at most {MAX_CLASSES} bounds, got {len(parts)}")
    try:
        bounds = [float(part) for part in parts]
    except ValueError:
        raise InvalidInput("breaks: give numbers separated by commas, e.g. 1,5,10,20") from None
    if not all(math.isfinite(b) for b in bounds):
        raise InvalidInput("breaks: every bound must be a finite number")
    return bounds


@router.get("/api/v1/map/classes", operation_id="map_classes", dependencies=[Depends(forbid_extra_query)],
            responses={404: {"description": "No layer of that id"}},
            summary="Class bounds of a layer's numeric field over the view, for the filter and the caller's scope")
def map_classes(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    layers: LayersDep,
    filters: FilterDep,
    view: BBoxDep,
    z: Annotated[int, Query(ge=0, le=MAX_ZOOM, description="The map's zoom (decides the density level)")],
    layer_id: Annotated[str, Query(alias="layer", description="A layer id")] = "incident_density",
    field: Annotated[str | None, Query(description="A numeric field; default: the layer's choropleth")] = None,
    scheme: Annotated[Scheme, Query(description="quantiles, fisher_jenks, equal_interval or user")] = Scheme.quantiles,
    k: Annotated[int, Query(ge=1, le=MAX_CLASSES, description="Number of classes")] = 5,
    breaks: Annotated[str | None, Query(description="Upper bounds for scheme=user, comma-separated")] = None,
    radius_m: Radius = None,
) -> dict[str, Any]:
    layer = layers.get(layer_id)
    if layer is None:
        raise NotFound(f"no layer {layer_id!r}; GET /api/v1/layers lists them")
    if view is None:
        raise InvalidInput("bbox: give the view as minLon,minLat,maxLon,maxLat")
    name = field or layer.style.choropleth
    numeric = {f.name for f in layer.fields if f.type in {"integer", "number"}}
    if name not in numeric:
        raise InvalidInput(f"field: {name!r} is not a numeric field of {layer.id}; one of {', '.join(sorted(numeric))}")
    given = [n for n in dict.fromkeys(request.query_params)
             if n not in {"bbox", "z", "layer", "field", "scheme", "k", "breaks", "api_key"}]
    # The view's box is the features' box here, not a filter of the incidents counted.
    configured = configured_layer(session, user, layer, replace(filters, bbox=None), radius_m, given)
    level = None
    values: list[float] = []
    if z >= layer.tile_min_zoom:
        rows = configured.tile_rows(BBox(view.minx, view.miny, view.maxx, view.maxy), z).subquery("rows")
        columns = [rows.c[name], *([rows.c.level] if "level" in rows.c else [])]
        result = session.execute(select(*columns).limit(MAX_FEATURES)).all()
        values = [np.nan if row[0] is None else float(row[0]) for row in result]
        level = result[0][1] if result and len(columns) > 1 else None
    try:
        classes = classify(values, scheme, k, _breaks(breaks))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return {"layer": layer.id, "field": name, "level": level, "features": len(values), "k": k, **classes.as_json()}


# -- maps to take away --------------------------------------------------------------------------------------------
def _takeaway(
    session: Session, user: User, layers: dict[str, Any], kind: str, filters: IncidentFilter, area: str | None,
    level: str | None, field: str | None, scheme: Scheme, k: int, breaks: str | None, radius_m: float | None,
) -> TakeawayMap:
    scoped: IncidentFilter | None = None
    if kind == "density":
        scope, _ = list_scope(session, user)  # rights first: a role that reads no incident learns nothing more
        scoped = replace(filters, bbox=None).limited_by(scope)
    return plan_for(session, layers, kind, filters=scoped, area=area, level=level, field=field, scheme=scheme, k=k,
                    breaks=tuple(_breaks(breaks)), radius_m=radius_m)


Kind = Annotated[str, FastPath(description="density or sharing")]
AreaQ = Annotated[str | None, Query(max_length=12, description="A subdistrict or community code")]
LevelQ = Annotated[str | None, Query(description="cell, community or subdistrict (density)")]


@router.get("/api/v1/map/{kind}.html", operation_id="map_file", dependencies=[Depends(forbid_extra_query)],
            response_class=HTMLResponse, summary="A self-contained HTML map (Leaflet and data inlined, opens offline)")
def map_file(
    session: SessionDep, user: CurrentUser, layers: LayersDep, kind: Kind, filters: FilterDep, area: AreaQ = None,
    level: LevelQ = None, field: Annotated[str | None, Query()] = None,
    scheme: Annotated[Scheme, Query()] = Scheme.quantiles, k: Annotated[int, Query(ge=1, le=MAX_CLASSES)] = 5,
    breaks: Annotated[str | None, Query()] = None, radius_m: Radius = None,
) -> HTMLResponse:
    plan = _takeaway(session, user, layers, kind, filters, area, level, field, scheme, k, breaks, radius_m)
    html = standalone_html(plan, STATIC_DIR)
    return HTMLResponse(html, headers={"Content-Disposition": f'attachment; filename="wangge-{kind}.html"',
                                       "Cache-Control": "private, no-store"})


@router.get("/api/v1/map/{kind}.png", operation_id="map_picture", dependencies=[Depends(forbid_extra_query)],
            response_class=Response, responses={200: {"content": {"image/png": {}}}},
            summary="A PNG picture of the map for a report: title, legend, scale bar, north arrow")
def map_picture(
    session: SessionDep, user: CurrentUser, layers: LayersDep, settings: SettingsDep, kind: Kind,
    filters: FilterDep, area: AreaQ = None, level: LevelQ = None, field: Annotated[str | None, Query()] = None,
    scheme: Annotated[Scheme, Query()] = Scheme.quantiles, k: Annotated[int, Query(ge=1, le=MAX_CLASSES)] = 5,
    breaks: Annotated[str | None, Query()] = None, radius_m: Radius = None,
) -> Response:
    plan = _takeaway(session, user, layers, kind, filters, area, level, field, scheme, k, breaks, radius_m)
    with tempfile.TemporaryDirectory() as folder:
        out = picture(plan, Path(folder) / "map.png", metric_crs=settings.metric_crs)
        body = out.read_bytes()
    return Response(body, media_type="image/png", headers={"Cache-Control": "private, no-store"})
