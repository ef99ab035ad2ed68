"""A real Wangge server for tests that need a client of their own (GDAL, OWSLib, a browser).

The tests' usual rolled-back transaction cannot serve another process or thread's connections, so:

- ``committed_database(database_url, suffix)``: a database beside the test database (same cluster, name
  ``<test db>_<suffix>``), migrated by the production path, empty, dropped when the block ends. Seed it
  with ordinary committed sessions.
- ``serve(app)``: the app under uvicorn in a daemon thread on a free 127.0.0.1 port (the kernel picks it and
  uvicorn serves the already-bound socket, so there is no race); yields the base URL, stops on exit.
- ``serve_in_process(url, state_dir)``: the same in a child process, for clients that call the server from C
  code holding the GIL — pyogrio reads features under the GIL, so a server thread in the test's own process
  could never answer its page requests (the test would hang).
- ``live_app(engine, state_dir)``: ``create_app`` over that database, with its own state folder.

Use them from module- or session-scoped fixtures, so that one server serves many tests.
"""

from __future__ import annotations

import multiprocessing
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from api.main import create_app
from gis import migrate
from gis.db import make_engine, normalise_url
from gis.settings import Settings
from tests.conftest import _drop_database, _fresh_database


@contextmanager
def committed_database(database_url: str, suffix: str) -> Iterator[Engine]:
    """A fresh, migrated database named after the test database plus ``_suffix``; dropped afterwards."""
    url = make_url(normalise_url(database_url))
    url_text = url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
    _fresh_database(url_text)
    engine = make_engine(url_text)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        _drop_database(url_text)


def live_app(engine: Engine | str, state_dir: Path) -> FastAPI:
    url = engine if isinstance(engine, str) else engine.url.render_as_string(hide_password=False)
    return create_app(Settings(database_url=url, state_dir=state_dir), database_url=url)


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _uvicorn(app: FastAPI) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))


@contextmanager
def serve(app: FastAPI, *, timeout: float = 20) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yields ``http://127.0.0.1:<port>``."""
    sock = _loopback_socket()
    port = sock.getsockname()[1]
    server = _uvicorn(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="wangge-live")
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start; see the log above")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _serve_child(url: str, state_dir: str, ports: multiprocessing.Queue[int]) -> None:
    sock = _loopback_socket()
    ports.put(sock.getsockname()[1])
    _uvicorn(live_app(url, Path(state_dir))).run(sockets=[sock])


@contextmanager
def serve_in_process(engine: Engine, state_dir: Path, *, timeout: float = 30) -> Iterator[str]:
    """Serve ``live_app(engine, state_dir)`` from a child process; yields its base URL once it answers."""
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited engine or threads
    ports: multiprocessing.Queue[int] = context.Queue()
    child = context.Process(target=_serve_child, args=(url, str(state_dir), ports), daemon=True,
                            name="wangge-live")
    child.start()
    deadline = time.monotonic() + timeout

    def waiting() -> None:
        if not child.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server process did not start; see the log above")

    try:
        while True:
            try:
                base = f"http://127.0.0.1:{ports.get(timeout=0.2)}"
                break
            except queue.Empty:
                waiting()
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                waiting()
                time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join()
