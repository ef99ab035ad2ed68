"""Published layers over HTTP: the catalogue, and one page of one layer as GeoJSON for the current view.

The map page asks for what its view shows (``bbox``) and no more than ``limit`` features, so a page never
downloads a whole city of cells. PostgreSQL builds the GeoJSON (``Layer.query``); the route passes the
bytes through untouched. Coordinates are rounded to 6 decimals (about 0.1 m): plenty for a screen, and a
third smaller than full precision.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from api.deps import BBoxDep, CurrentUser, PageDep, SessionDep, TimespanDep, forbid_extra_query, get_layers
from gis.errors import NotFound
from gis.incidents.visibility import readable_layer
from gis.layers import Layer, check_bbox

router = APIRouter(prefix="/api/v1/layers", tags=["layers"], dependencies=[Depends(forbid_extra_query)])

GEOJSON = "application/geo+json"
DECIMALS = 6


def _layers(request: Request) -> dict[str, Layer]:
    return get_layers(request)


@router.get("", operation_id="list_layers", summary="The published layers: titles, fields and default styles")
def list_layers(request: Request, user: CurrentUser) -> list[dict[str, Any]]:
    return [layer.describe() for layer in _layers(request).values()]


@router.get(
    "/{layer_id}",
    operation_id="get_layer_features",
    summary="Features of one layer in a bbox, as a GeoJSON FeatureCollection (EPSG:4326)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection"}},
)
def get_layer_features(
    request: Request, layer_id: str, session: SessionDep, user: CurrentUser, bbox: BBoxDep, page: PageDep,
    during: TimespanDep,
) -> Response:
    found = _layers(request).get(layer_id)
    if found is None:
        raise NotFound(f"no layer {layer_id!r}; GET /api/v1/layers lists them")
    layer = readable_layer(session, user, found)
    result = layer.query(
        session, bbox=check_bbox(bbox), limit=page.limit, offset=page.offset,
        decimals=DECIMALS, during=during,
    )
    # The count lets a client tell "everything in view" from "the first `limit` of more".
    headers = {"X-Returned": str(result.returned), "X-Limit": str(page.limit)}
    return Response(result.geojson, media_type=GEOJSON, headers=headers)
