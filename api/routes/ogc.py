"""OGC API – Features, Part 1: Core, with GeoJSON and an OpenAPI 3.0 definition, over the published layers.

QGIS and GDAL (the OAPIF driver) add ``https://…/ogc?api_key=…`` as a data source; every registered layer
(``gis.layers.registry``) is a collection with no change here. Paths: ``/ogc`` (landing page),
``/ogc/api`` (the OpenAPI 3.0 definition of these paths), ``/ogc/conformance``, ``/ogc/collections``,
``/ogc/collections/{id}``, ``/ogc/collections/{id}/items`` (``limit``, ``offset``, ``bbox``, ``datetime``)
and ``/ogc/collections/{id}/items/{featureId}``.

Why not pygeoapi: it counts every match and builds each feature in Python, which is what a page of a
thousand features spends its time on (``bench/bench_ogc.py`` measures that way of building against ours).
Here PostgreSQL builds the page's GeoJSON text (``Layer.query``) and the route only splices the paging
members onto those bytes; ``numberMatched`` is free when the page is not full (offset + returned) and is
counted only for full pages. pygeoapi would also need a provider per layer and a config file beside the
registry, and its own auth.

Who may read: every signed-in, active user (Bearer token, ``X-API-Key`` header, or the ``api_key`` query
parameter that QGIS can put in the URL). The collections are the very layers ``/api/v1/layers`` serves
the map page to every role, and they carry no personal data, so asking more here would protect nothing.
Bulk file downloads (``/api/v1/exports``) stay with ``export.read``. Links keep the caller's ``api_key`` so
a client following ``next`` stays signed in.

Errors follow the standard: an unknown or unusable query parameter is a 400 (not FastAPI's 422), an
unknown collection or feature a 404. ``datetime`` keeps the features whose time (the layer's ``time_field``,
e.g. an incident's report time) lies in the instant or interval; features of layers without a time match any
``datetime``, as Core says.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.routing import APIRoute

from api.deps import MAX_OFFSET, CurrentUser, SessionDep, SettingsDep, declared_query_names, get_layers
from gis.errors import InvalidInput, NotFound, WanggeError
from gis.incidents.visibility import readable_layer
from gis.layers import BBox, Layer, check_bbox
from gis.timespan import Timespan, parse_timespan

router = APIRouter(prefix="/ogc", tags=["ogc"])

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000  # a larger limit is served as this many (the standard lets a server return fewer)
DECIMALS = 7  # about 1 cm: planners measure


class BadParameter(WanggeError):
    """A query parameter the API does not define, or a value it cannot use: 400, as OGC API requires."""


# -- what every route needs -----------------------------------------------------------------------------
def _registered(request: Request) -> dict[str, Layer]:
    return get_layers(request)


def _only_declared_parameters(request: Request) -> None:
    """400 for a query parameter the route does not declare (/req/core/query-param-unknown)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - declared_query_names(route.dependant))
    if unknown:
        raise BadParameter(f"unknown query parameter(s) {', '.join(unknown)}; see {_Links(request).href('/api')}")


class _Links:
    """Absolute links under /ogc that keep the caller's ``api_key``."""

    def __init__(self, request: Request) -> None:
        self.base = str(request.base_url).rstrip("/") + router.prefix
        key = request.query_params.get("api_key")
        self.keep = {"api_key": key} if key else {}

    def href(self, path: str, **params: object) -> str:
        query = {k: v for k, v in params.items() if v is not None} | self.keep
        return self.base + path + ("?" + urlencode(query, safe=",:/") if query else "")

    def link(self, rel: str, type_: str, path: str, title: str, **params: object) -> dict[str, str]:
        return {"href": self.href(path, **params), "rel": rel, "type": type_, "title": title}


LinksDep = Annotated[_Links, Depends(_Links)]
Format = Annotated[str | None, Query(description="Encoding: json (the only one)")]
ItemsFormat = Annotated[str | None, Query(description="Encoding: json or geojson (the same: GeoJSON)")]
CollectionId = Annotated[str, Path(description="A layer id, as listed by /ogc/collections")]


def _json(body: dict[str, Any], media_type: str = JSON) -> Response:
    return Response(orjson.dumps(body), media_type=media_type)


def _check_format(f: str | None, allowed: tuple[str, ...]) -> None:
    if f is not None and f not in allowed:
        raise BadParameter(f"f={f!r}: this API speaks {' or '.join(allowed)} only")


def _layer(request: Request, collection_id: str) -> Layer:
    layer = _registered(request).get(collection_id)
    if layer is None:
        raise NotFound(f"no collection {collection_id!r}; GET /ogc/collections lists them")
    return layer


# -- landing page, API definition, conformance --------------------------------------------------------
@router.get("", operation_id="ogc_landing_page", summary="OGC API – Features landing page",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def landing_page(user: CurrentUser, links: LinksDep, settings: SettingsDep, f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json({
        "title": f"{settings.site_title} Wangge — OGC API – Features",
        "description": f"Published layers of the {settings.city_name_en} community grid (boundaries, unit grid "
                       "cells, incident density, shared facilities); no personal data.",
        "links": [
            links.link("self", JSON, "", "This document"),
            links.link("service-desc", OPENAPI_JSON, "/api", "The API definition (OpenAPI 3.0)"),
            links.link("conformance", JSON, "/conformance", "Conformance classes implemented"),
            links.link("data", JSON, "/collections", "The feature collections"),
        ],
    })


@router.get("/api", operation_id="ogc_api_definition", summary="OpenAPI 3.0 definition of the OGC API paths",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def api_definition(request: Request, user: CurrentUser, links: LinksDep, settings: SettingsDep,
                   f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json(openapi_document(links.base, list(_registered(request)), settings.site_title), OPENAPI_JSON)


@router.get("/conformance", operation_id="ogc_conformance", summary="Conformance classes implemented",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def conformance(user: CurrentUser, f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json({"conformsTo": CONFORMANCE})


# -- collections ----------------------------------------------------------------------------------------
def _collection(layer: Layer, links: _Links, extent: BBox | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title_zh,
        "description": f"{layer.title_en}. {layer.description}",
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            links.link("self", JSON, f"/collections/{layer.id}", layer.title_zh),
            links.link("items", GEOJSON, f"/collections/{layer.id}/items", f"{layer.title_zh} (GeoJSON)"),
        ],
    }
    if extent is not None:
        body["extent"] = {"spatial": {"bbox": [list(extent)], "crs": CRS84}}
    return body


@router.get("/collections", operation_id="ogc_collections", summary="The feature collections (one per layer)",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def collections(request: Request, session: SessionDep, user: CurrentUser, links: LinksDep,
                f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json({
        "links": [links.link("self", JSON, "/collections", "The feature collections")],
        "collections": [_collection(layer, links, layer.extent(session)) for layer in _registered(request).values()],
    })


@router.get("/collections/{collection_id}", operation_id="ogc_collection", summary="One feature collection",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def collection(request: Request, collection_id: CollectionId, session: SessionDep, user: CurrentUser,
               links: LinksDep, f: Format = None) -> Response:
    _check_format(f, ("json",))
    layer = _layer(request, collection_id)
    return _json(_collection(layer, links, layer.extent(session)))


# -- features -------------------------------------------------------------------------------------------
def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d+", raw.strip()) or int(raw) < 1:
        raise BadParameter(f"limit={raw!r}: give a whole number from 1 to {MAX_LIMIT}")
    return min(int(raw), MAX_LIMIT)


def parse_offset(raw: str | None) -> int:
    if raw is None:
        return 0
    if not re.fullmatch(r"\d+", raw.strip()):
        raise BadParameter(f"offset={raw!r}: give a whole number ≥ 0")
    if int(raw) > MAX_OFFSET:  # beyond a bigint it would fail in PostgreSQL; deep pages cost what they skip
        raise BadParameter(f"offset={raw!r}: at most {MAX_OFFSET:,}; narrow the bbox or datetime instead")
    return int(raw)


def parse_bbox(raw: str | None, crs: str | None) -> BBox | None:
    """Four numbers (or six, the heights ignored) in CRS84: minLon,minLat,maxLon,maxLat."""
    if crs is not None and crs != CRS84:
        raise BadParameter(f"bbox-crs={crs!r}: only {CRS84} is supported")
    if raw is None:
        return None
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in (4, 6) or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
        raise BadParameter(f"bbox={raw!r}: give minLon,minLat,maxLon,maxLat (4 numbers, or 6 with heights)")
    minx, miny, maxx, maxy = numbers if len(numbers) == 4 else [numbers[i] for i in (0, 1, 3, 4)]
    try:
        return check_bbox((minx, miny, maxx, maxy), f"bbox={raw!r}")
    except InvalidInput as exc:
        raise BadParameter(str(exc)) from None


def check_datetime(raw: str | None) -> Timespan | None:
    """``datetime`` (an instant, or an interval with ``..`` or empty for an open end) as a span; 400 if bad."""
    try:
        return parse_timespan(raw, "datetime")
    except InvalidInput as exc:
        raise BadParameter(str(exc)) from None


@router.get(
    "/collections/{collection_id}/items",
    operation_id="ogc_items",
    summary="Features of a collection as GeoJSON, a page at a time",
    dependencies=[Depends(_only_declared_parameters)],
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection"}},
)
def items(
    request: Request,
    collection_id: CollectionId,
    session: SessionDep,
    user: CurrentUser,
    links: LinksDep,
    limit: Annotated[str | None, Query(description=f"Features per page, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})")] = (
        None
    ),
    offset: Annotated[str | None, Query(description="Features to skip (the next link sets it)")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description=f"Only {CRS84}")] = None,
    datetime_: Annotated[str | None, Query(
        alias="datetime",
        description="An instant or interval (RFC 3339; .. for an open end): features whose time lies in it, "
                    "for collections with a time field; others match any datetime",
    )] = None,
    f: ItemsFormat = None,
) -> Response:
    _check_format(f, ("json", "geojson"))
    layer = readable_layer(session, user, _layer(request, collection_id))
    page_size, skip, box = parse_limit(limit), parse_offset(offset), parse_bbox(bbox, bbox_crs)
    during = check_datetime(datetime_)
    page = layer.query(session, bbox=box, limit=page_size, offset=skip, decimals=DECIMALS, during=during)
    # A page that is not full ends the matches, so their number is known without counting (unless the
    # offset ran past the end, where nothing was returned).
    if page.returned < page_size and (page.returned or not skip):
        matched = skip + page.returned
    else:
        matched = layer.count(session, bbox=box, during=during)

    path = f"/collections/{layer.id}/items"
    params = {"limit": page_size, "bbox": ",".join(map(repr, box)) if box else None, "datetime": datetime_}
    page_links = [
        links.link("self", GEOJSON, path, "This page", **params, offset=skip or None),
        links.link("collection", JSON, f"/collections/{layer.id}", layer.title_zh),
    ]
    if skip + page.returned < matched:
        page_links.append(links.link("next", GEOJSON, path, "Next page", **params, offset=skip + page.returned))
    if skip:
        page_links.append(links.link("prev", GEOJSON, path, "Previous page", **params,
                                     offset=max(skip - page_size, 0) or None))
    members = orjson.dumps({
        "numberMatched": matched,
        "numberReturned": page.returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": page_links,
    })
    # '{"type":"FeatureCollection","features":[…]}' + '{"numberMatched":…}' → one object, no re-parsing.
    return Response(page.geojson[:-1] + b"," + members[1:], media_type=GEOJSON)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    operation_id="ogc_item",
    summary="One feature, by the id given in its GeoJSON",
    dependencies=[Depends(_only_declared_parameters)],
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON Feature"}},
)
def item(request: Request, collection_id: CollectionId, feature_id: str, session: SessionDep, user: CurrentUser,
         links: LinksDep, f: ItemsFormat = None) -> Response:
    _check_format(f, ("json", "geojson"))
    layer = readable_layer(session, user, _layer(request, collection_id))
    feature = layer.feature(session, feature_id, decimals=DECIMALS)
    if feature is None:
        raise NotFound(f"no feature {feature_id!r} in {layer.id} (ids are its {layer.key.name!r} values)")
    own = f"/collections/{layer.id}/items/{quote(feature_id, safe='')}"
    members = orjson.dumps({"links": [
        links.link("self", GEOJSON, own, "This feature"),
        links.link("collection", JSON, f"/collections/{layer.id}", layer.title_zh),
    ]})
    return Response(feature[:-1] + b"," + members[1:], media_type=GEOJSON)


# -- the OpenAPI 3.0 definition -------------------------------------------------------------------------
def openapi_document(base: str, collection_ids: list[str], site_title: str) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of the /ogc paths, written out because FastAPI's own is OpenAPI 3.1.

    Clients read ``limit``'s maximum from it (GDAL's OAPIF driver sizes its pages by it)."""

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "style": "form",
                "explode": False, "description": description}

    def ok(media_type: str, description: str) -> dict[str, Any]:
        return {
            "200": {"description": description, "content": {media_type: {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthenticated"},
        }

    def get(operation_id: str, summary: str, parameters: list[dict[str, Any]],
            media_type: str = JSON) -> dict[str, Any]:
        f = "f-geojson" if media_type == GEOJSON else "f"
        return {"get": {"operationId": operation_id, "summary": summary, "tags": ["OGC API – Features"],
                        "parameters": [{"$ref": f"#/components/parameters/{f}"}, *parameters],
                        "responses": ok(media_type, summary)}}

    collection = {"$ref": "#/components/parameters/collectionId"}
    not_found = {"404": {"$ref": "#/components/responses/NotFound"}}
    paths = {
        "/": get("getLandingPage", "Landing page", []),
        "/api": get("getApi", "This API definition", [], OPENAPI_JSON),
        "/conformance": get("getConformance", "Conformance classes implemented", []),
        "/collections": get("getCollections", "The feature collections", []),
        "/collections/{collectionId}": get("describeCollection", "One feature collection", [collection]),
        "/collections/{collectionId}/items": get("getFeatures", "Features of a collection", [
            collection, *({"$ref": f"#/components/parameters/{p}"} for p in ("limit", "offset", "bbox", "bbox-crs",
                                                                            "datetime"))], GEOJSON),
        "/collections/{collectionId}/items/{featureId}": get("getFeature", "One feature", [
            collection, {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"},
                         "description": "The feature's id"}], GEOJSON),
    }
    for path in ("/collections/{collectionId}", "/collections/{collectionId}/items",
                 "/collections/{collectionId}/items/{featureId}"):
        paths[path]["get"]["responses"] |= not_found
    error = {"description": "An error", "content": {JSON: {"schema": {"type": "object", "properties": {
        "detail": {"type": "string"}, "code": {"type": "string"}}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"{site_title} Wangge — OGC API – Features", "version": "1.0.0",
                 "description": "Published layers as OGC API – Features collections (Part 1: Core, GeoJSON)."},
        "servers": [{"url": base}],
        "security": [{"apiKeyQuery": []}, {"apiKeyHeader": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "parameters": {
                "f": query("f", {"type": "string", "enum": ["json"]}, "Encoding: JSON"),
                "f-geojson": query("f", {"type": "string", "enum": ["json", "geojson"]}, "Encoding: GeoJSON"),
                "collectionId": {"name": "collectionId", "in": "path", "required": True,
                                 "schema": {"type": "string", "enum": collection_ids}, "description": "A layer id"},
                "limit": query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                         "default": DEFAULT_LIMIT}, "Features per page"),
                "offset": query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features to skip"),
                "bbox": query("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                              "minLon,minLat,maxLon,maxLat in CRS84"),
                "bbox-crs": query("bbox-crs", {"type": "string", "format": "uri", "enum": [CRS84]}, "CRS of bbox"),
                "datetime": query("datetime", {"type": "string"}, "An instant or interval (RFC 3339)"),
            },
            "responses": {"BadRequest": error, "Unauthenticated": error, "NotFound": error},
            "securitySchemes": {
                "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
