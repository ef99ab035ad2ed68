"""The OpenAPI document tells the truth about errors (issue 14, finding 7).

FastAPI documents a 200 and a 422 per route; the server answers more: 401 on every route that reads
credentials (a bad token is refused even where none is needed), 403 where a role or scope is checked, 404 for a
resource named in the path, 409 and 428 for versioned moves, 413/415 for bodies, 429 at log-in, 503 while the
database is away. :func:`install_openapi` adds those, from what each route declares (its dependencies, path
parameters and body, and the ``responses`` of its decorator or router for what only its code knows: a 404 for a
resource named in a query, a 409 for a closed patrol), to the document FastAPI builds.

Every error is documented in the shape it comes in: ``Error`` (``detail``, ``code``, ``message``, ``messages``;
``api.errors``) for a domain or HTTP error; for a 422 either FastAPI's list of field errors (code
``RequestValidationError``) or one domain error naming the field (``InvalidInput``, ``UnknownState``,
``ValueNotStorable``…), so ``UnprocessableContent`` is the one or the other. Open311 routes (``….{fmt}``) answer
GeoReport's own error list (``[{"code", "description"}]``, or ``<errors>`` in XML) and say so; only the guard's
422 (a NUL in the query, before any route) and a 503 from the database come in the house shape there.
``tests/api/test_schemathesis.py`` holds every answer of the fuzzed server to this document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _iter_included_route_candidates

from api.deps import credentials
from api.guards import _needs_caller

ERROR = {
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string", "description": "For a person, in the language Accept-Language asks for"},
        "code": {"type": "string", "description": "The error's stable code, for a program"},
        "message": {"type": "string"},
        "messages": {"type": "object", "additionalProperties": {"type": "string"}},
        "problems": {"type": "array", "description": "An import's refused rows (code ValidationFailed)"},
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
UNPROCESSABLE = {
    "title": "UnprocessableContent",
    "description": "FastAPI's field errors (code RequestValidationError), or one domain error naming the field",
    "anyOf": [{"$ref": "#/components/schemas/HTTPValidationError"}, {"$ref": "#/components/schemas/Error"}],
}
OPEN311_ERRORS = {
    "title": "Open311Errors",
    "description": "GeoReport v2's error list (in XML: <errors><error><code/><description/></error></errors>)",
    "type": "array",
    "items": {"type": "object", "required": ["code", "description"],
              "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}},
}
_REF = {"$ref": "#/components/schemas/Error"}
VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}
_WORDS = {
    400: "A form or query this endpoint cannot read (malformed, too many fields; Open311: any bad field)",
    401: "No credentials, or a bad, expired or revoked token or key",
    403: "The caller's role or scope does not allow it",
    404: "Nothing of that name (or nothing the caller may see)",
    409: "A stale version, or a move not allowed from the current status",
    413: "The body is larger than this endpoint takes",
    415: "A body of a type this endpoint does not read",
    422: "A field of the request is not valid; the answer names it",
    428: "No version sent (If-Match or a 'version' field)",
    429: "Too many wrong passwords: wait Retry-After seconds",
    503: "The database is unavailable for a moment: nothing changed, retry after Retry-After seconds",
}
_VERSIONED = {"transition_incident", "mark_incident_duplicate"}


def _depends_on(dependant: Dependant, call: Any) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call is call:
            return True
        pending.extend(current.dependencies)
    return False


def _statuses(route: APIRoute, operation: dict[str, Any]) -> set[int]:
    found = {422, 503}
    if _depends_on(route.dependant, credentials):
        found.add(401)  # a forged, expired or revoked token or key, even where none is needed
    if _needs_caller(route.dependant):
        found |= {401, 403}
    if route.dependant.path_params or "{" in route.path:
        found.add(404)
    if "requestBody" in operation:
        found |= {413, 415}
        if {"multipart/form-data", "application/x-www-form-urlencoded"} & set(operation["requestBody"]["content"]):
            found.add(400)  # a form Starlette cannot read: malformed, or more fields or files than it takes
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


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error_content(status: int, open311: bool) -> dict[str, Any]:
    """What an error answer of ``status`` holds (``api.errors``; ``api.routes.open311`` for Open311)."""
    if status == 422:
        return _json(VALIDATION_REF if open311 else {"$ref": "#/components/schemas/UnprocessableContent"})
    georeport: dict[str, Any] = {"$ref": "#/components/schemas/Open311Errors"}
    if open311 and status == 503:  # SetupError in GeoReport's list; a database gone in the house shape
        georeport = {"anyOf": [georeport, _REF]}
    if open311:
        return {"application/json": {"schema": georeport}, "text/xml": {"schema": {"type": "string"}}}
    return _json(_REF)



def _document(route: APIRoute, path: str, operation: dict[str, Any]) -> None:
    open311 = path.endswith(".{fmt}")
    responses = operation.setdefault("responses", {})
    statuses = _statuses(route, operation) | {int(s) for s in responses if s.isdigit() and int(s) >= 400}
    if open311:
        statuses.add(400)  # Open311 answers a bad field 400, as GeoReport says (api.routes.open311)
    for status in sorted(statuses):
        answer = responses.setdefault(str(status), {"description": _WORDS.get(status, "An error")})
        answer["content"] = _error_content(status, open311)
    if open311:  # a success comes as JSON or as XML alike
        for code, answer in responses.items():
            content = answer.get("content")
            if code.startswith("2") and content and "application/json" in content:
                content.setdefault("text/xml", {"schema": {"type": "string"}})


def install_openapi(app: FastAPI) -> None:
    """Have ``app.openapi()`` document the errors each route answers (built once, then cached)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("ValidationError", {"type": "object"})  # FastAPI's, when some route has a 422 of its own
        schemas["Error"] = ERROR
        schemas["HTTPValidationError"] = VALIDATION
        schemas["UnprocessableContent"] = UNPROCESSABLE
        schemas["Open311Errors"] = OPEN311_ERRORS
        # Every route with the full path of its router (FastAPI keeps included routers' routes apart).
        routes = {route.operation_id or route.unique_id: route for route in _candidates(app.routes)}
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                route = routes.get(operation.get("operationId", "")) if isinstance(operation, dict) else None
                if route is not None:
                    _document(route, path, operation)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
