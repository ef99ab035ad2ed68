"""Load-testing machinery for the HTTP benchmarks: a uvicorn server in its own process group, a minimal
HTTP/1.1 client on asyncio streams, a driver for many concurrent keep-alive connections, and CPU metering.

The client is deliberately minimal (a request writer and a status/headers/Content-Length reader) so that on a
2-core machine the load generator takes as little CPU from the server as it can; it still shares the cores with
the server and PostgreSQL, so the rates it measures are a floor. CPU time is read from Linux ``/proc`` (zero
elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from gis.settings import PROJECT_ROOT

Request = tuple[str, str, bytes, dict[str, str]]
"""One request for :func:`drive`: method, path, body and extra headers."""


# -- the server -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Server:
    """A running uvicorn, as :func:`uvicorn_server` yields it."""

    address: str  # host:port
    pid: int  # uvicorn's supervisor; its workers are its children

    def pids(self) -> list[int]:
        """The supervisor and its worker processes (the workers are what the CPU meter must see)."""
        return [self.pid, *_children(self.pid)]


@contextlib.contextmanager
def uvicorn_server(app_factory: str, *, workers: int, env: dict[str, str], log: Path,
                   ready_path: str = "/healthz") -> Iterator[Server]:
    """uvicorn (uvloop + httptools, no access log) serving ``app_factory`` on a free loopback port.

    ``env`` is the whole environment of the server process; its output goes to ``log``. Yields once
    ``GET ready_path`` answers 200 (RuntimeError if the server exits or does not answer within a minute), and
    stops the server and its workers — the process group we started, nothing else — on exit.
    """
    port = _free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app_factory, "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
             "--loop", "uvloop", "--http", "httptools"],
            cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            _wait_ready(port, process, ready_path, log)
            yield Server(f"127.0.0.1:{port}", process.pid)
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the server and its worker processes, which we started
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(port: int, process: subprocess.Popen[bytes], path: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}; see {log}")
        try:
            status, _ = asyncio.run(_one(f"127.0.0.1:{port}", "GET", path))
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"uvicorn did not answer {path} in time")


# -- CPU time from /proc (Linux; zero elsewhere) -----------------------------------------------------------------
@dataclass
class CpuMeter:
    """CPU seconds of the server, of PostgreSQL's backends for the benchmark database, and of this process,
    between ``start`` and ``stop`` (backends that open meanwhile count from zero, ones that exit are lost)."""

    server: Server
    database: str
    spent: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self._api, self._db = _cpu(self.server.pids()), _cpu(_backends(self.database))
        self._me = sum(os.times()[:2])

    def stop(self) -> None:
        api, db = _cpu(self.server.pids()), _cpu(_backends(self.database))
        self.spent = {
            "API": sum(v - self._api.get(pid, 0.0) for pid, v in api.items()),
            "PostgreSQL": sum(v - self._db.get(pid, 0.0) for pid, v in db.items()),
            "client": sum(os.times()[:2]) - self._me,
        }

    def per_request(self, requests: int) -> str:
        """The spent CPU per request, in ms, as a note: ``API 2.37 ms, PostgreSQL 0.96 ms, client 0.17 ms``."""
        return ", ".join(f"{name} {seconds / max(requests, 1) * 1000:.2f} ms" for name, seconds in self.spent.items())


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _backends(database: str) -> list[int]:
    """PostgreSQL backends serving ``database`` (their title reads ``postgres: user database host …``)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            title = cmdline.read_bytes().decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                found.append(int(cmdline.parent.name))
    return found


def _cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of ``pids`` still alive."""
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


# -- a minimal HTTP/1.1 client ----------------------------------------------------------------------------------
class Connection:
    """One keep-alive connection: write a request, read the status line, headers and Content-Length body.

    No chunked bodies, no redirects, no TLS: enough for our own server, and cheap on the client's CPU.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, address: str) -> Connection:
        """Connect to ``address`` (``host:port``)."""
        host, port = address.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, address)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
                      ) -> tuple[int, bytes]:
        """Send one request and return its status and body."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def _one(address: str, method: str, path: str) -> tuple[int, bytes]:
    connection = await Connection.open(address)
    try:
        return await connection.request(method, path)
    finally:
        await connection.close()


# -- concurrent load --------------------------------------------------------------------------------------------
@dataclass
class Load:
    """What :func:`drive` measured: answered requests (``done`` below 400, ``failed`` at 400 or above), the
    wall time of the whole run, and each request's latency in ms."""

    done: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    first_error: str = ""

    @property
    def per_second(self) -> float:
        """Successful requests per second of wall time."""
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile latency in ms (NaN when nothing was sent)."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")


async def drive(address: str, requests: list[Request], clients: int, deadline_s: float) -> Load:
    """Send ``requests`` over ``clients`` keep-alive connections, each taking the next one when it is free.

    Stops early once ``deadline_s`` has passed (the requests not sent are simply not counted), so that a slow
    server bounds the benchmark's time rather than hanging it.
    """
    queue = iter(requests)
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + deadline_s

    async def client() -> None:
        connection = await Connection.open(address)
        try:
            for method, path, body, headers in queue:
                if time.perf_counter() > stop:
                    return
                started = time.perf_counter()
                status, answer = await connection.request(method, path, body, headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if status >= 400:
                    failures.append(f"{status} {answer[:200]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    return Load(len(latencies) - len(failures), len(failures), seconds, latencies, failures[0] if failures else "")


@dataclass
class Timings:
    """Latencies (ms) of one GET repeated, and the size of its last answer (features or items, bytes)."""

    p50: float
    p99: float
    features: int
    size: int


async def get_repeatedly(address: str, path: str, headers: dict[str, str], times: int) -> Timings:
    """``GET path`` ``times`` times, one after the other on one connection (RuntimeError unless each is 200).

    The last answer must be JSON: a GeoJSON FeatureCollection (``features``) or one of our lists (``items``).
    """
    connection = await Connection.open(address)
    latencies = []
    body = b""
    try:
        for _ in range(times):
            started = time.perf_counter()
            status, body = await connection.request("GET", path, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    finally:
        await connection.close()
    document = orjson.loads(body)
    features = len(document.get("features", document.get("items", [])))
    return Timings(statistics.median(latencies), float(np.percentile(latencies, 99)), features, len(body))
