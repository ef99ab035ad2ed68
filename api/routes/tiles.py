"""Vector tiles of every published layer: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` and a TileJSON per layer.

PostGIS makes each tile in one statement from the layer's own rows (``gis.layers.tiles``), so a layer added to
the registry has tiles with no change here. Layers of incidents (points, density) take the incident list's
filters as query parameters — the very parameters of ``GET /api/v1/incidents``, so a map's counts equal the
list's for the same filter — and are scoped like every other read of incidents
(``gis.incidents.visibility.readable_layer``): a grid worker's density counts only the cases they may read.
``radius_m`` sets the walking radius of facility sharing.

Who may read: every signed-in user (a Bearer token, or ``api_key`` in the URL for GDAL and QGIS), as for
``/api/v1/layers``; layers of incidents need a role that may read incidents or exports. Answers carry an ETag
of their bytes (``If-None-Match`` gives 304) and ``Cache-Control: private``: a tile depends on who asks.
"""

from __future__ import annotations

import hashlib
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlalchemy.orm import Session

from api.deps import CurrentUser, LayersDep, SessionDep, SettingsDep, forbid_extra_query
from api.routes.incidents import FilterDep
from gis.errors import InvalidInput, NotFound
from gis.incidents.query import IncidentFilter
from gis.incidents.visibility import readable_layer
from gis.layers import Layer
from gis.layers.tile_cache import DataVersion, TileCache, tile_key
from gis.layers.tiles import MAX_ZOOM, Datum, Tile, render_tile
from gis.models import User
from gis.settings import Settings

router = APIRouter(prefix="/tiles", tags=["tiles"], dependencies=[Depends(forbid_extra_query)])

MVT = "application/vnd.mapbox-vector-tile"
CACHE = "private, max-age=60"
VARY = "Authorization, X-API-Key"
MIN_RADIUS_M, MAX_RADIUS_M = 50.0, 3000.0
# Query parameters that are not the layer's filters: they never change what a tile holds.
_NOT_FILTERS = {"api_key", "datum"}

Radius = Annotated[float | None, Query(ge=MIN_RADIUS_M, le=MAX_RADIUS_M,
                                       description="Walking radius in metres (facility_sharing only)")]


def _layer(layers: dict[str, Layer], layer_id: str) -> Layer:
    layer = layers.get(layer_id)
    if layer is None:
        raise NotFound(f"no layer {layer_id!r}; GET /api/v1/layers lists them")
    return layer


def _filter_names(request: Request) -> list[str]:
    return [name for name in dict.fromkeys(request.query_params) if name not in _NOT_FILTERS]


def configured_layer(
    session: Session, user: User, layer: Layer, filters: IncidentFilter, radius_m: float | None,
    given: list[str],
) -> Layer:
    """``layer`` as this caller asked for it: filtered and scoped for layers of incidents, with its radius for
    facility sharing. InvalidInput names a parameter the layer does not take (a filter that would silently do
    nothing is a wrong map); the scope check (Forbidden) comes first."""
    if layer.counts_incidents:
        readable = readable_layer(session, user, layer, filters)  # rights first: raises for a role reading none
        if filters.bbox is not None:
            raise InvalidInput("bbox: a tile has its own box; drop bbox")
        return readable
    takes_radius = any(f.name == "radius_m" for f in dataclass_fields(layer))
    wrong = [name for name in given if not (takes_radius and name == "radius_m")]
    if wrong:
        raise InvalidInput(f"{wrong[0]}: layer {layer.id!r} takes no such filter")
    if radius_m is not None:
        return replace(layer, radius_m=radius_m)  # type: ignore[call-arg]
    return layer


def tile_cache(request: Request, settings: Settings) -> TileCache:
    """The app's cache of finished tiles (``gis.layers.tile_cache``), made on first use from its settings."""
    cache: TileCache | None = getattr(request.app.state, "tile_cache", None)
    if cache is None:
        cache = TileCache(int(settings.tile_cache_mb * 1024 * 1024), settings.tile_cache_seconds)
        request.app.state.tile_cache = cache
    return cache


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


@router.get(
    "/{layer_id}/{z}/{x}/{y}.mvt",
    operation_id="get_tile",
    summary="One Mapbox Vector Tile of a layer (EPSG:3857 XYZ grid), filtered and scoped to the caller",
    response_class=Response,
    responses={200: {"content": {MVT: {}}, "description": "A Mapbox Vector Tile (one layer named for the layer id)"},
               304: {"description": "Not modified (If-None-Match)"}},
)
def get_tile(
    request: Request,
    layer_id: str,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    session: SessionDep,
    user: CurrentUser,
    layers: LayersDep,
    settings: SettingsDep,
    filters: FilterDep,
    radius_m: Radius = None,
    datum: Annotated[Datum, Query(description="wgs84, or gcj02 for a map on AMap tiles")] = "wgs84",
) -> Response:
    tile = Tile(z, x, y)  # InvalidInput (422) for x or y outside the zoom's grid
    layer = configured_layer(session, user, _layer(layers, layer_id), filters, radius_m, _filter_names(request))
    body = b"" if z < layer.tile_min_zoom else _cached_tile(tile_cache(request, settings), session, layer, tile, datum)
    tag = _etag(body)
    headers = {"ETag": tag, "Cache-Control": CACHE, "Vary": VARY}
    if tag in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MVT, headers=headers)


def _cached_tile(cache: TileCache, session: Session, layer: Layer, tile: Tile, datum: Datum) -> bytes:
    """The tile from the cache when the data it draws has not changed since it was made; drawn otherwise.
    The key holds the configured layer, so the caller's scope is part of it (rights were checked before)."""
    if not cache.enabled:
        return render_tile(session, layer, tile, datum)
    key = tile_key(layer, tile.z, tile.x, tile.y, datum, DataVersion.read(session))
    body = cache.get(key)
    if body is None:
        body = render_tile(session, layer, tile, datum)
        cache.put(key, body)
    return body


_MVT_TYPES = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Boolean",
              "datetime": "String", "date": "String"}


@router.get(
    "/{layer_id}.json",
    operation_id="get_tilejson",
    summary="TileJSON 3.0 of one layer: the tile URL (with the same filters), zooms, bounds and fields",
)
def get_tilejson(
    request: Request, layer_id: str, session: SessionDep, user: CurrentUser, layers: LayersDep,
    filters: FilterDep, radius_m: Radius = None,
) -> Response:
    layer = configured_layer(session, user, _layer(layers, layer_id), filters, radius_m, _filter_names(request))
    base = str(request.base_url).rstrip("/")
    query = request.url.query
    url = f"{base}{router.prefix}/{layer.id}/{{z}}/{{x}}/{{y}}.mvt" + (f"?{query}" if query else "")
    extent = layer.extent(session) or (-180.0, -85.0511, 180.0, 85.0511)
    body: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": layer.title_zh,
        "description": layer.description,
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": layer.tile_min_zoom,
        "maxzoom": MAX_ZOOM,
        "bounds": list(extent),
        "center": [(extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2, max(layer.tile_min_zoom, 13)],
        "vector_layers": [{
            "id": layer.id,
            "description": layer.title_en,
            "minzoom": layer.tile_min_zoom,
            "maxzoom": MAX_ZOOM,
            "fields": {f.name: _MVT_TYPES[f.type] for f in layer.fields},
        }],
    }
    return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": CACHE, "Vary": VARY})
