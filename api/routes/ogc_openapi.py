"""The OpenAPI 3.0 definition of the OGC API – Features paths under ``/ogc``, and the paging limits it states.

Written out by hand because FastAPI's own document is OpenAPI 3.1, which OGC clients do not read; GDAL's
OAPIF driver sizes its pages by the ``limit`` maximum stated here.
"""

from __future__ import annotations

from typing import Any

from api.routes.ogc_crs import CRS84

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000  # a larger limit is served as this many (the standard lets a server return fewer)


def openapi_document(base: str, collection_ids: list[str], site_title: str,
                     crs_uris: list[str] | None = None) -> dict[str, Any]:
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
                                                                            "datetime", "crs"))], GEOJSON),
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
                "bbox-crs": query("bbox-crs", {"type": "string", "format": "uri", "enum": crs_uris or [CRS84]},
                                  "CRS of bbox"),
                "crs": query("crs", {"type": "string", "format": "uri", "enum": crs_uris or [CRS84]},
                             "CRS of the answer (Part 2), coordinates in its axis order"),
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
