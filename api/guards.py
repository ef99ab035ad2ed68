"""What every request passes before a route sees it, as one pure ASGI middleware (issue 14, findings 3, 4, 6):

- **Text the store cannot hold**: a NUL (``%00``) in the path or in a query value is a 422 naming the parameter,
  before any route can hand it to PostgreSQL (whose text cannot hold one: a driver error, a 500).
- **Credentials before bodies**: a request with a body to a route that needs a signed-in caller is refused
  (401) before one byte of the body is read when it carries no credentials at all, or a bearer token that
  is malformed, forged or expired (a signature check, no database). Routes then check the rest (an API key's
  owner, the role) before they read their body (see ``api.routes.incident_files``).
- **A body limit per route**: ``BODY_LIMITS`` by operation id, :data:`DEFAULT_BODY_LIMIT` for every other
  route. A declared ``Content-Length`` above it is a 413 before the body is read; a body sent without one
  (chunked) is counted as it arrives and cut off with a 413 at the limit, so no route spools more.
- **Security headers on every answer**: ``X-Content-Type-Options: nosniff`` and the others in
  :data:`SECURITY_HEADERS`, unless a route set its own value — static files, tiles, refusals and a 500 too.

The route a request goes to is known once the router has run, which is before the route first asks for its
body: the checks of a body happen at that first ``receive``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

import orjson
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.deps import AUTHENTICATION_REQUIRED, current_user, required_credentials, token_config, verified_subject
from api.errors import refusal
from api.messages import Lang, messages, preferred_language
from gis.errors import Unauthenticated
from gis.incidents.photos import DEFAULT_MAX_BYTES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_BODY_LIMIT = 256 * 1024
"""Bytes of any JSON or form body: a report's text is at most a few KB; a facility with its footprint, tens."""

_PHOTOS = 6 * DEFAULT_MAX_BYTES + 1_000_000  # six photos and their form fields
BODY_LIMITS: dict[str, int] = {
    "create_incident": _PHOTOS,
    "add_incident_photos": _PHOTOS,
    "open311_create_request": _PHOTOS,
    "import_incidents": 512 * 1024 * 1024,
}
"""Bytes of body a route accepts, by operation id, where more than :data:`DEFAULT_BODY_LIMIT` is needed."""

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",  # answers are read as the type they say
    "X-Frame-Options": "SAMEORIGIN",  # no page of ours framed by another site (click-jacking)
    "Referrer-Policy": "same-origin",  # case numbers in our URLs do not leak to outside sites
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), geolocation=(self), microphone=()",  # the phone page asks for both
}


def internal_error(lang: Lang) -> bytes:
    """The body of a 500 made here, in every error body's shape; the cause stays in the server's log."""
    texts = messages(["InternalError"], "an error of the server; its log has the cause")
    return orjson.dumps({"detail": texts[lang], "code": "InternalError", "message": texts[lang], "messages": texts})


class GuardRefusal(HTTPException):
    """A refusal of the guard, raised from ``receive`` (FastAPI re-raises HTTPExceptions from body parsing)."""

    def __init__(self, status_code: int, detail: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code, detail, headers)
        self.code = code


async def guard_refusal_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GuardRefusal)
    return refusal(request, exc.status_code, str(exc.detail), exc.code, exc.headers)


def _nul_error(where: str, name: str, value: str, accept_language: str | None) -> bytes:
    # FastAPI's 422 shape, so that clients parse one kind of validation error; the messages as every body's.
    texts = messages(["RequestValidationError"], f"{where}.{name}: must not contain a NUL character", name)
    return orjson.dumps({"detail": [{"type": "string_no_nul", "loc": [where, name],
                                     "msg": "must not contain a NUL character", "input": value.replace("\x00", "\\0")}],
                         "code": "RequestValidationError", "message": texts[preferred_language(accept_language)],
                         "messages": texts})


def _needs_caller(dependant: Dependant) -> bool:
    pending = [dependant]
    while pending:
        current = pending.pop()
        if current.call in (current_user, required_credentials):
            return True
        pending.extend(current.dependencies)
    return False


class RequestGuard:
    """The middleware; ``install_guard(app)`` adds it with its exception handler."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi
        self._needs_caller: dict[int, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        nul = self._nul_refusal(scope, headers.get("accept-language"))
        if nul is not None:
            await _send_json(send, 422, nul, preferred_language(headers.get("accept-language")))
            return
        checked = False
        received = 0

        async def guarded_receive() -> Message:
            nonlocal checked, received
            if not checked:
                checked = True
                self._check_before_body(scope, headers)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                limit = self._limit(scope)
                if received > limit:
                    raise GuardRefusal(413, f"the body is larger than this endpoint takes ({limit:,} bytes)",
                                       "ContentTooLarge")
            return message

        started = False

        async def secured_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()
                         if k.lower().encode() not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, guarded_receive, secured_send)
        except Exception:
            # A bug: Starlette's own 500 is made outside every middleware, so it would go without the security
            # headers and in no shape of ours. Answer it here (the one outside sees the answer started and only
            # logs), then let the error go on to the server's log.
            if not started:
                lang = preferred_language(headers.get("accept-language"))
                await _send_json(send, 500, internal_error(lang), lang)
            raise

    # -- the checks ------------------------------------------------------------------------------------------
    @staticmethod
    def _nul_refusal(scope: Scope, accept_language: str | None) -> bytes | None:
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        if b"%00" in raw_path or "\x00" in scope.get("path", ""):
            return _nul_error("path", "path", scope.get("path", ""), accept_language)
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if "\x00" in name or "\x00" in value:
                    return _nul_error("query", name, value, accept_language)
            if b"\x00" in unquote_to_bytes(query):
                return _nul_error("query", "query", query.decode("latin-1"), accept_language)
        return None

    def _limit(self, scope: Scope) -> int:
        route = scope.get("route")
        operation = route.operation_id if isinstance(route, APIRoute) else None
        return BODY_LIMITS.get(operation or "", DEFAULT_BODY_LIMIT)

    def _check_before_body(self, scope: Scope, headers: dict[str, str]) -> None:
        """Credentials first (401), then the declared size (413); raised before the body is read."""
        route = scope.get("route")
        if isinstance(route, APIRoute):
            needs = self._needs_caller.get(id(route))
            if needs is None:
                needs = self._needs_caller[id(route)] = _needs_caller(route.dependant)
            if needs:
                self._check_credentials(scope, headers)
        length = headers.get("content-length", "")
        limit = self._limit(scope)
        if length.isascii() and length.isdigit() and int(length) > limit:
            raise GuardRefusal(413, f"the body is larger than this endpoint takes ({limit:,} bytes)",
                               "ContentTooLarge")

    def _check_credentials(self, scope: Scope, headers: dict[str, str]) -> None:
        authorization = headers.get("authorization", "")
        query = scope.get("query_string", b"")
        if authorization.lower().startswith("bearer "):
            state = self.fastapi.state
            if getattr(state, "token_config", None) is None:  # as api.deps.app_token_config keeps it
                state.token_config = token_config(state.settings)
            secret = state.token_config.secret
            try:
                verified_subject(authorization[7:].strip(), secret)
            except Unauthenticated as exc:
                raise GuardRefusal(401, str(exc), "Unauthenticated", {"WWW-Authenticate": "Bearer"}) from None
            return
        if headers.get("x-api-key") or b"api_key=" in query:
            return  # its owner is known only to the database: the route looks it up before reading its body
        raise GuardRefusal(401, AUTHENTICATION_REQUIRED, "Unauthenticated", {"WWW-Authenticate": "Bearer"})


async def _send_json(send: Send, status_code: int, body: bytes, lang: str) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"content-language", lang.encode()), (b"vary", b"Accept-Language")]
    headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_guard(app: FastAPI) -> None:
    """Add the guard as the outermost middleware the app adds (so its headers are on every answer)."""
    app.add_middleware(RequestGuard, fastapi=app)
    app.add_exception_handler(GuardRefusal, guard_refusal_handler)


