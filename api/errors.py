"""One table from domain errors to HTTP, and the handlers that apply it.

Every error body is JSON with ``detail`` (for a person) and ``code`` (the error class, for a program):
``{"detail": "no incident 42", "code": "NotFound"}``. Validation failures keep FastAPI's shape — a list
of ``{"loc", "msg", "type"}`` under ``detail`` — plus ``"code": "RequestValidationError"``.

Every body also carries ``messages`` (``{"zh-CN": …, "en": …}``, from ``api.messages``) and ``message``, the
one of them ``Accept-Language`` asks for; a domain error's ``detail`` is that message too. English is the
default, so a client that sends no ``Accept-Language`` reads what it always read.

HTTP's own refusals — an ``HTTPException`` a route raises (415, 428, 413…), the router's 404 and 405, the login
throttle's 429 — and an error no one foresaw (500) answer in the same shape: the code is the exception's
``code`` when it carries one, else the status's entry in :data:`HTTP_CODES`. No body leaves without a code.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.messages import Lang, messages, preferred_language
from gis.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OutsideJurisdiction,
    SetupError,
    StaleVersion,
    Unauthenticated,
    ValidationFailed,
    WanggeError,
)

# Looked up along the raised class's MRO, so a subclass not listed here gets its parent's status.
STATUS: dict[type[WanggeError], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    InvalidInput: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ValidationFailed: status.HTTP_422_UNPROCESSABLE_CONTENT,
    Conflict: status.HTTP_409_CONFLICT,
    StaleVersion: status.HTTP_409_CONFLICT,
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    Forbidden: status.HTTP_403_FORBIDDEN,
    OutsideJurisdiction: status.HTTP_403_FORBIDDEN,
    SetupError: status.HTTP_503_SERVICE_UNAVAILABLE,
    WanggeError: status.HTTP_400_BAD_REQUEST,
}

# Headers HTTP requires with some statuses (RFC 9110: a 401 must say how to authenticate).
HEADERS: dict[type[WanggeError], dict[str, str]] = {
    Unauthenticated: {"WWW-Authenticate": "Bearer"},
}


def status_for(error: WanggeError) -> int:
    return next(STATUS[cls] for cls in type(error).__mro__ if cls in STATUS)


def error_body(error: WanggeError, lang: Lang = "en") -> dict[str, Any]:
    body: dict[str, Any] = {"detail": str(error), "code": type(error).__name__}
    if isinstance(error, ValidationFailed):
        body["detail"] = f"{error.what}: {len(error.errors)} error(s), nothing was written"
    body["messages"] = messages([cls.__name__ for cls in type(error).__mro__], body["detail"])
    body["detail"] = body["message"] = body["messages"][lang]
    if isinstance(error, ValidationFailed):
        body["problems"] = [
            {"severity": p.severity, "feature": p.feature, "message": p.message, "fix": p.fix}
            for p in error.problems
        ]
    return body


async def domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WanggeError)
    headers = next((HEADERS[cls] for cls in type(exc).__mro__ if cls in HEADERS), {})
    lang = preferred_language(request.headers.get("accept-language"))
    return JSONResponse(error_body(exc, lang), status_code=status_for(exc), headers={**headers, **_language(lang)})


def _language(lang: Lang) -> dict[str, str]:
    return {"Content-Language": lang, "Vary": "Accept-Language"}


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _json_safe(jsonable_encoder(_json_safe(exc.errors())))  # inner: bytes and NaN jsonable_encoder cannot take
    lang = preferred_language(request.headers.get("accept-language"))
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    english = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:5])
    texts = messages(["RequestValidationError"], english, ".".join(where) or None)
    return JSONResponse(
        {"detail": errors, "code": "RequestValidationError", "message": texts[lang], "messages": texts},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, headers=_language(lang),
    )


def _json_safe(value: Any) -> Any:
    """Echoed input may hold NaN or Infinity (Python's json reads them), which strict JSON cannot carry:
    quote them, so that a bad number is a 422 naming the field and not a 500 while encoding the answer."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bytes | bytearray):  # a body that is not UTF-8: shown with its bad bytes replaced
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# The database unreachable (down, restarting, out of connections) or a transaction that lost a deadlock or a
# serialisation race: nothing was committed, and the same request may well succeed in a moment. Clients are
# told so (503 with Retry-After), not handed a 500; the cause goes to the server's log, never to the client.
DATABASE_UNAVAILABLE = "the database is unavailable or busy; nothing was changed, try again in a few seconds"
RETRY_AFTER_S = 5
_log = logging.getLogger("wangge.api")


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    _log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    lang = preferred_language(request.headers.get("accept-language"))
    texts = messages(["DatabaseUnavailable"], DATABASE_UNAVAILABLE)
    return JSONResponse({"detail": texts[lang], "code": "DatabaseUnavailable", "message": texts[lang],
                         "messages": texts}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(RETRY_AFTER_S), **_language(lang)})


# A value the database refused (a NUL in text, a number beyond its column) that no check caught first: every
# route checks its input by name (api.schemas.common, api.deps.Id), so this is the net under them. Nothing was
# written (the transaction rolls back); the client gets a 422, the log the database's words.
VALUE_NOT_STORABLE = "a value cannot be stored (a NUL character, or a number beyond its range); nothing was changed"


async def data_error_handler(request: Request, exc: Exception) -> JSONResponse:
    _log.warning("%s %s: the database refused a value: %s", request.method, request.url.path, exc)
    lang = preferred_language(request.headers.get("accept-language"))
    texts = messages(["ValueNotStorable"], VALUE_NOT_STORABLE)
    return JSONResponse({"detail": texts[lang], "code": "ValueNotStorable", "message": texts[lang],
                         "messages": texts}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, headers=_language(lang))


# The stable code of an HTTP refusal that names none of its own, by status.
HTTP_CODES: dict[int, str] = {
    400: "BadRequest", 401: "Unauthenticated", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
    406: "NotAcceptable", 409: "Conflict", 413: "ContentTooLarge", 415: "UnsupportedMediaType",
    422: "InvalidInput", 428: "PreconditionRequired", 429: "TooManyAttempts", 500: "InternalError",
    503: "ServiceUnavailable",
}


def http_code(status_code: int) -> str:
    return HTTP_CODES.get(status_code, "InternalError" if status_code >= 500 else "BadRequest")


def refusal(request: Request, status_code: int, english: str, code: str | None = None,
            headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON answer of an HTTP-level refusal, in the error bodies' one shape."""
    lang = preferred_language(request.headers.get("accept-language"))
    code = code or http_code(status_code)
    texts = messages([code], english)
    return JSONResponse({"detail": texts[lang], "code": code, "message": texts[lang], "messages": texts},
                        status_code=status_code, headers={**(headers or {}), **_language(lang)})


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI reads a JSON body that is not UTF-8 as "an error parsing the body" (400), where JSON it
        # cannot parse is a 422 naming the body: one mistake, one answer (the bad-input catalogue's).
        bad = exc.__cause__
        return await validation_error_handler(request, RequestValidationError([{
            "type": "json_invalid", "loc": ("body",), "input": None,
            "msg": f"JSON decode error: not UTF-8 text (byte 0x{bad.object[bad.start]:02x} at {bad.start})"}]))
    headers = dict(exc.headers or {})
    if exc.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = allowed_methods(request, headers.get("Allow", ""))
    return refusal(request, exc.status_code, str(exc.detail), getattr(exc, "code", None), headers)


INTERNAL_ERROR = "the server failed to answer this request; nothing is known to be changed, try again or report it"


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback and re-raises after this answer; the client learns nothing of the cause.
    return refusal(request, status.HTTP_500_INTERNAL_SERVER_ERROR, INTERNAL_ERROR, "InternalError")


def allowed_methods(request: Request, starlettes: str) -> str:
    """The methods of the resource a request's path names, for a 405's ``Allow`` (RFC 9110 §15.5.6).

    Starlette names only the methods of the first route whose path matches (``starlettes``); a resource
    served by several routes (``GET`` and ``POST /api/v1/incidents``) has them all. They are read from the
    app's OpenAPI document, which FastAPI builds from every route with its routers' prefixes; when templates
    overlap (``/incidents/import`` also fits ``/incidents/{ref}``) the resource is the most literal template
    that fits. A path the document leaves out (the pages) keeps Starlette's answer."""
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    fits = [template for template in paths if _template_regex(template).fullmatch(request.url.path)]
    if not fits:
        return starlettes
    resource = min(fits, key=lambda template: (template.count("{"), -len(template)))
    return ", ".join(sorted(method.upper() for method in paths[resource]))


@functools.cache
def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)))


def install_error_handlers(app: FastAPI) -> None:
    """Make every domain error (and request validation) answer with the table's status and a JSON body, and
    a database that cannot answer now a 503 that says to retry."""
    app.add_exception_handler(WanggeError, domain_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    # SQLAlchemy wraps the driver's errors; the create's fast path calls the driver directly.
    app.add_exception_handler(sqlalchemy.exc.OperationalError, database_error_handler)
    app.add_exception_handler(psycopg.OperationalError, database_error_handler)
    app.add_exception_handler(sqlalchemy.exc.DataError, data_error_handler)
    app.add_exception_handler(psycopg.DataError, data_error_handler)
    app.add_exception_handler(Exception, internal_error_handler)
