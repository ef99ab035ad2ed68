"""The OpenAPI document tells the truth about errors (issue 14, finding 7).

FastAPI documents a 200 and a 422 per route; the server answers more: 401 on every route that needs a caller,
403 where a role or scope is checked, 404 for a resource named in the path, 409 and 428 for versioned moves,
413/415 for bodies, 429 at log-in, 503 while the database is away. :func:`install_openapi` adds those, from
what each route declares (its dependencies, path parameters and body), to the document FastAPI builds, and gives
the 422 the shape the handlers return (``api.errors``: ``detail`` list plus ``code``, ``message``,
``messages``). Open311 routes (``….{fmt}``) answer JSON or XML, and say so.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, _iter_included_route_candidates

from api.guards import _needs_caller

ERROR = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"description": "For a person (a list of field errors for 422)"},
        "code": {"type": "string", "description": "The error's stable code, for a program"},
        "message": {"type": "string"},
        "messages": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
VALIDATION = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}},
        "code": {"type": "string", "enum": ["RequestValidationError"]},
        "message": {"type": "string"},
        "messages": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "title": "HTTPValidationError",
}
_REF = {"$ref": "#/components/schemas/Error"}
_WORDS = {
    401: "No credentials, or a bad, expired or revoked token or key",
    403: "The caller's role or scope does not allow it",
    404: "Nothing of that name (or nothing the caller may see)",
    409: "A stale version, or a move not allowed from the current status",
    413: "The body is larger than this endpoint takes",
    415: "A body of a type this endpoint does not read",
    428: "No version sent (If-Match or a 'version' field)",
    429: "Too many wrong passwords: wait Retry-After seconds",
    503: "The database is unavailable for a moment: nothing changed, retry after Retry-After seconds",
}
_VERSIONED = {"transition_incident", "mark_incident_duplicate"}


def _statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    found = {503}
    if _needs_caller(route.dependant):
        found |= {401, 403}
    if route.dependant.path_params or "{" in route.path:
        found.add(404)
    if "requestBody" in operation:
        found |= {413, 415}
    if route.operation_id in _VERSIONED:
        found |= {409, 428}
    if route.operation_id == "auth_token":
        found |= {401, 429}
    return found


def _candidates(routes: Any) -> list[APIRoute]:
    """Every APIRoute, those of routers included in routers too (FastAPI keeps them apart)."""
    found: list[APIRoute] = []
    for route in _iter_included_route_candidates(routes):
        if isinstance(route, APIRoute):
            found.append(route)
    return found


def install_openapi(app: FastAPI) -> None:
    """Have ``app.openapi()`` document the errors each route answers (built once, then cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR
        schemas["HTTPValidationError"] = VALIDATION
        # Every route with the full path of its router (FastAPI keeps included routers' routes apart).
        routes = {route.operation_id or route.unique_id: route for route in _candidates(app.routes)}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                route = routes.get(operation.get("operationId", "")) if isinstance(operation, dict) else None
                if route is None or not isinstance(operation, dict):
                    continue
                responses = operation.setdefault("responses", {})
                responses.setdefault("422", {"description": "Validation Error", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}})
                for status in sorted(_statuses(route, operation)):
                    responses.setdefault(str(status), {"description": _WORDS[status],
                                                       "content": {"application/json": {"schema": _REF}}})
                if path.endswith(".{fmt}"):  # Open311: the same document as JSON or as XML
                    for answer in responses.values():
                        content = answer.get("content")
                        if content and "application/json" in content:
                            content.setdefault("text/xml", {"schema": {"type": "string"}})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
