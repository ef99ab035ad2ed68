"""``api.server``: slow and silent clients are cut off, and a process holds a bounded number of connections
(issue 14, finding 5). Short timeouts, real sockets, a real uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from api.main import create_app
from api.server import config
from gis.settings import Settings

TIMEOUT = 0.6


@pytest.fixture
def address(tmp_path: Path) -> Iterator[tuple[str, int]]:
    settings = Settings(database_url="postgresql://unused/unused", state_dir=tmp_path, header_timeout_s=TIMEOUT,
                        body_timeout_s=TIMEOUT, keepalive_timeout_s=1, max_connections=10)
    app: FastAPI = create_app(settings, sessions=object())  # type: ignore[arg-type]  # /healthz needs none
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config(app, settings, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield sock.getsockname()
    server.should_exit = True
    thread.join(5)


def closed_within(conn: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``conn`` (None if it is still open after ``seconds``)."""
    start = time.monotonic()
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_a_silent_connection_is_closed(address) -> None:
    with socket.create_connection(address) as conn:
        assert closed_within(conn, TIMEOUT + 2) is not None


def test_half_sent_headers_are_cut_off(address) -> None:
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert closed_within(conn, TIMEOUT + 2) is not None


def test_a_body_that_stops_coming_is_cut_off(address) -> None:
    with socket.create_connection(address) as conn:
        conn.sendall(b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=a")
        assert closed_within(conn, TIMEOUT + 2) is not None


def test_a_client_that_keeps_sending_its_headers_slowly_is_cut_off_too(address) -> None:
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\n")
        start = time.monotonic()
        try:
            while time.monotonic() - start < TIMEOUT * 4:
                conn.sendall(b"X-a: b\r\n")
                time.sleep(TIMEOUT / 4)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_within(conn, TIMEOUT + 2) is not None


def test_an_ordinary_request_is_answered_and_its_idle_connection_closed(address) -> None:
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in conn.recv(4096)
        assert closed_within(conn, 3) is not None  # the keep-alive timeout, 1 s


def test_connections_beyond_the_limit_are_answered_503(address) -> None:
    idle = [socket.create_connection(address) for _ in range(10)]
    try:
        time.sleep(0.1)
        with socket.create_connection(address) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.settimeout(3)
            assert b" 503 " in conn.recv(4096)
    finally:
        for conn in idle:
            conn.close()
