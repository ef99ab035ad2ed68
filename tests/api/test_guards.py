"""``api.guards`` over a real socket: credentials and sizes are judged before a body is read, and every answer
carries the security headers (issue 14, findings 4 and 6).

A client here sends only the request's head, announcing a body it never sends: the answer must come at once.
Had the server waited for the body, the read would time out.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.guards import DEFAULT_BODY_LIMIT, SECURITY_HEADERS
from gis.models import User
from tests.gis.conftest import StreetWorld, street_world
from tests.live import serve

__all__ = ["street_world"]

IMPORT = "/api/v1/incidents/import"


@pytest.fixture
def base(app: FastAPI) -> Iterator[tuple[str, int]]:
    with serve(app) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def head_only(base: tuple[str, int], method: str, path: str, headers: dict[str, str], *,
              body: bytes = b"", timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send a request's head (and ``body``, maybe less than it announces); return the answer's status,
    headers and body, read within ``timeout`` seconds."""
    with socket.create_connection(base, timeout=timeout) as conn:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {base[0]}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        conn.sendall("\r\n".join(lines).encode("latin-1") + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        answer_headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
        length = int(answer_headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(status_line.split()[1]), answer_headers, rest


MULTIPART = {"Content-Type": "multipart/form-data; boundary=xyz"}


def test_an_anonymous_upload_is_refused_before_its_body(base) -> None:
    status, headers, body = head_only(base, "POST", IMPORT, {**MULTIPART, "Content-Length": str(600 * 2**20)})
    assert status == 401 and headers["www-authenticate"] == "Bearer" and b"authentication required" in body


def test_a_forged_token_is_refused_before_the_body(base) -> None:
    forged = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    status, _, body = head_only(base, "POST", IMPORT,
                                {**MULTIPART, "Content-Length": str(600 * 2**20), "Authorization": forged})
    assert status == 401 and b"Unauthenticated" in body


def test_a_role_that_may_not_import_is_refused_before_the_body(base, street_world: StreetWorld,
                                                               auth_headers: Callable[[User], dict[str, str]]) -> None:
    headers = {**MULTIPART, "Content-Length": str(100 * 2**20), **auth_headers(street_world.grid_worker)}
    status, _, body = head_only(base, "POST", IMPORT, headers)
    assert status == 403 and b"incident.import" in body


def test_an_import_larger_than_its_limit_is_413_before_the_body(base, street_world: StreetWorld,
                                                                auth_headers: Callable[[User], dict[str, str]]) -> None:
    headers = {**MULTIPART, "Content-Length": str(600 * 2**20), **auth_headers(street_world.supervisor)}
    status, _, body = head_only(base, "POST", IMPORT, headers)
    assert status == 413 and b"ContentTooLarge" in body


def test_a_json_body_larger_than_the_default_limit_is_413(base, street_world: StreetWorld,
                                                          auth_headers: Callable[[User], dict[str, str]]) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(DEFAULT_BODY_LIMIT + 1),
               **auth_headers(street_world.supervisor)}
    status, _, _ = head_only(base, "POST", "/api/v1/incidents/1/transitions", headers)
    assert status == 413


def test_a_chunked_body_is_cut_off_at_the_limit(base, street_world: StreetWorld,
                                                auth_headers: Callable[[User], dict[str, str]]) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(DEFAULT_BODY_LIMIT // len(chunk) + 2))
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
               **auth_headers(street_world.supervisor)}
    status, _, _ = head_only(base, "POST", "/api/v1/incidents/1/transitions", headers, body=body)
    assert status == 413


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/api/v1/nowhere", "/openapi.json",
                                  "/api/v1/incidents?limit=%00", "/static/pages.css", "/static/nowhere.js",
                                  "/tiles/incident_density/12/3245/1710.mvt", "/basemap/1/0/0", "/dashboard",
                                  "/map", "/app/admin", "/api/v1/evaluation?by=city"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, (path, name)


def test_a_405_carries_the_security_headers(client: TestClient) -> None:
    response = client.delete("/api/v1/incidents")
    assert response.status_code == 405 and response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_server_error_is_answered_in_our_shape_with_the_security_headers(app: FastAPI) -> None:
    """Starlette makes a 500 outside every middleware: without the guard's answer it would carry no headers."""
    @app.get("/probe/bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/probe/bug")
    assert response.status_code == 500
    assert response.json()["code"] == "InternalError" and "a bug" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
