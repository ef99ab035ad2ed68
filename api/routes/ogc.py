"""OGC API – Features, Part 1: Core, with GeoJSON and an OpenAPI 3.0 definition, over the published layers.

QGIS and GDAL (the OAPIF driver) add ``https://…/ogc?api_key=…`` as a data source; every registered layer
(``gis.layers.registry``) is a collection with no change here. Paths: ``/ogc`` (landing page),
``/ogc/api`` (the OpenAPI 3.0 definition of these paths), ``/ogc/conformance``, ``/ogc/collections``,
``/ogc/collections/{id}``, ``/ogc/collections/{id}/items`` (``limit``, ``offset``, ``bbox``, ``datetime``)
and ``/ogc/collections/{id}/items/{featureId}``. Part 2: ``crs`` and ``bbox-crs`` (see ``api.routes.ogc_crs``).

Page size: ``limit`` defaults to 100 features (a browser's or a quick look's page) and goes up to 10,000;
the OpenAPI definition says so, and GDAL's OAPIF driver (QGIS) sizes its pages by that maximum, so it reads a
layer of 60,000 cells in six requests.

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
from api.routes.ogc_crs import CONFORMANCE_CRS, CRS84, BadParameter, bbox_to_crs84, offered, output_crs
from api.routes.ogc_openapi import DEFAULT_LIMIT, GEOJSON, JSON, MAX_LIMIT, OPENAPI_JSON, openapi_document
from gis.errors import InvalidInput, NotFound
from gis.incidents.visibility import readable_layer
from gis.layers import BBox, Layer, check_bbox
from gis.settings import Settings
from gis.timespan import Timespan, parse_timespan

router = APIRouter(prefix="/ogc", tags=["ogc"],
                   responses={400: {"description": "A parameter OGC API names, with a value not offered (f, crs…)"}})


CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    CONFORMANCE_CRS,
]
DECIMALS = 7  # about 1 cm: planners measure


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
    return _json(openapi_document(links.base, list(_registered(request)), settings.site_title,
                                  crs_uris=offered(settings)), OPENAPI_JSON)


@router.get("/conformance", operation_id="ogc_conformance", summary="Conformance classes implemented",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def conformance(user: CurrentUser, f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json({"conformsTo": CONFORMANCE})


# -- collections ----------------------------------------------------------------------------------------
def _collection(layer: Layer, links: _Links, extent: BBox | None, settings: Settings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": layer.id,
        "title": layer.title_zh,
        "description": f"{layer.title_en}. {layer.description}",
        "itemType": "feature",
        "crs": offered(settings),
        "storageCrs": CRS84,
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
def collections(request: Request, session: SessionDep, user: CurrentUser, links: LinksDep, settings: SettingsDep,
                f: Format = None) -> Response:
    _check_format(f, ("json",))
    return _json({
        "links": [links.link("self", JSON, "/collections", "The feature collections")],
        "collections": [_collection(layer, links, layer.extent(session), settings)
                        for layer in _registered(request).values()],
    })


@router.get("/collections/{collection_id}", operation_id="ogc_collection", summary="One feature collection",
            dependencies=[Depends(_only_declared_parameters)], response_class=Response)
def collection(request: Request, collection_id: CollectionId, session: SessionDep, user: CurrentUser,
               links: LinksDep, settings: SettingsDep, f: Format = None) -> Response:
    _check_format(f, ("json",))
    layer = _layer(request, collection_id)
    return _json(_collection(layer, links, layer.extent(session), settings))


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


def parse_bbox(raw: str | None, crs: str | None, settings: Settings | None = None) -> BBox | None:
    """Four numbers (or six, the heights ignored) in CRS84: minLon,minLat,maxLon,maxLat; or in ``crs``
    (``bbox-crs``, one of the offered CRSs, in its axis order), returned as the lon/lat box holding it."""
    if raw is None:
        if crs is not None:
            output_crs(crs, settings or Settings(), parameter="bbox-crs")  # a bad bbox-crs is refused anyway
        return None
    if crs is not None and crs != CRS84:
        try:
            numbers = [float(part) for part in raw.split(",")]
        except ValueError:
            numbers = []
        if len(numbers) not in (4, 6) or any(n != n or n in (float("inf"), float("-inf")) for n in numbers):
            raise BadParameter(f"bbox={raw!r}: give 4 numbers (or 6 with heights) in the axis order of bbox-crs")
        corners = numbers if len(numbers) == 4 else [numbers[i] for i in (0, 1, 3, 4)]
        if corners[0] > corners[2] or corners[1] > corners[3]:
            raise BadParameter(f"bbox={raw!r}: the lower corner must not exceed the upper one")
        box = bbox_to_crs84((corners[0], corners[1], corners[2], corners[3]), crs, settings or Settings())
        raw = ",".join(repr(v) for v in box)
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
    settings: SettingsDep,
    limit: Annotated[str | None, Query(description=f"Features per page, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT})")] = (
        None
    ),
    offset: Annotated[str | None, Query(description="Features to skip (the next link sets it)")] = None,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat (CRS84)")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox: one of the collection's "
                                                                        "crs (default CRS84)")] = None,
    crs: Annotated[str | None, Query(description="CRS of the answer: one of the collection's crs (default "
                                                 "CRS84), coordinates in its axis order")] = None,
    datetime_: Annotated[str | None, Query(
        alias="datetime",
        description="An instant or interval (RFC 3339; .. for an open end): features whose time lies in it, "
                    "for collections with a time field; others match any datetime",
    )] = None,
    f: ItemsFormat = None,
) -> Response:
    _check_format(f, ("json", "geojson"))
    layer = readable_layer(session, user, _layer(request, collection_id))
    out = output_crs(crs, settings)
    page_size, skip, box = parse_limit(limit), parse_offset(offset), parse_bbox(bbox, bbox_crs, settings)
    during = check_datetime(datetime_)
    page = layer.query(session, bbox=box, limit=page_size, offset=skip, decimals=out.decimals, during=during,
                       srid=out.srid, flip_axes=out.flip_axes)
    # A page that is not full ends the matches, so their number is known without counting (unless the
    # offset ran past the end, where nothing was returned).
    if page.returned < page_size and (page.returned or not skip):
        matched = skip + page.returned
    else:
        matched = layer.count(session, bbox=box, during=during)

    path = f"/collections/{layer.id}/items"
    params = {"limit": page_size, "bbox": ",".join(map(repr, box)) if box else None, "datetime": datetime_,
              "crs": crs}
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
    return Response(page.geojson[:-1] + b"," + members[1:], media_type=GEOJSON,
                    headers={"Content-Crs": f"<{out.uri}>"})


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    operation_id="ogc_item",
    summary="One feature, by the id given in its GeoJSON",
    dependencies=[Depends(_only_declared_parameters)],
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "A GeoJSON Feature"}},
)
def item(request: Request, collection_id: CollectionId, feature_id: str, session: SessionDep, user: CurrentUser,
         links: LinksDep, settings: SettingsDep,
         crs: Annotated[str | None, Query(description="CRS of the answer (default CRS84)")] = None,
         f: ItemsFormat = None) -> Response:
    _check_format(f, ("json", "geojson"))
    layer = readable_layer(session, user, _layer(request, collection_id))
    out = output_crs(crs, settings)
    feature = layer.feature(session, feature_id, decimals=out.decimals, srid=out.srid, flip_axes=out.flip_axes)
    if feature is None:
        raise NotFound(f"no feature {feature_id!r} in {layer.id} (ids are its {layer.key.name!r} values)")
    own = f"/collections/{layer.id}/items/{quote(feature_id, safe='')}"
    members = orjson.dumps({"links": [
        links.link("self", GEOJSON, own, "This feature"),
        links.link("collection", JSON, f"/collections/{layer.id}", layer.title_zh),
    ]})
    return Response(feature[:-1] + b"," + members[1:], media_type=GEOJSON, headers={"Content-Crs": f"<{out.uri}>"})


# -- the OpenAPI 3.0 definition -------------------------------------------------------------------------
