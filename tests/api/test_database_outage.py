"""The database stops and starts under a steady load of reports (issue 14): every report the server acknowledged
(201) is there afterwards, every request while the database is down is answered 503 with Retry-After (never a
500, never a hang), and reports succeed again within 10 s of the database's return.

This stops and starts the tests' own private cluster (``.wangge/pg-test`` on ``WANGGE_TEST_PG_PORT``) and no
other: with ``WANGGE_TEST_DATABASE_URL`` (someone else's server) it is skipped. The session's engine is
disposed afterwards, so later tests get fresh connections. Bounded: four clients for about 12 s.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from api.deps import token_config
from gis.cluster import LocalCluster
from gis.models import Incident
from gis.people import security
from gis.settings import PROJECT_ROOT, Settings
from tests.conftest import TEST_DB
from tests.gis.conftest import INSIDE_A, build_street_world
from tests.live import committed_database, live_app, serve

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("WANGGE_TEST_DATABASE_URL")),
                       reason="stops only the tests' own private cluster, never a given server"),
]
CLIENTS = 4
DOWN_S = 4.0
RECOVERY_S = 10.0


def test_cluster() -> LocalCluster:
    """The tests' private cluster, exactly as ``tests.conftest.database_url`` starts it."""
    return LocalCluster(root=PROJECT_ROOT / ".wangge" / "pg-test",
                        port=int(os.environ.get("WANGGE_TEST_PG_PORT", "54339")), database=TEST_DB, durable=False)


test_cluster.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def live(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with committed_database(database_url, "outage") as db_engine:
        with Session(db_engine) as session, session.begin():
            worker_id = build_street_world(session).grid_worker.id
        app = live_app(db_engine, tmp_path)
        secret = token_config(Settings(database_url="postgresql://unused/unused", state_dir=tmp_path)).secret
        token = security.create_access_token(str(worker_id), secret=secret, minutes=60).token
        with serve(app) as base:
            yield {"base": base, "token": token, "engine": db_engine}
    engine.dispose()  # the session engine's connections died with the cluster


def test_reports_survive_the_database_stopping_and_starting(live: dict[str, Any]) -> None:
    cluster = test_cluster()
    assert cluster.is_running() and cluster.running_port() == cluster.port
    acknowledged: list[int] = []
    answers: list[tuple[float, int, str | None]] = []  # (when, status, Retry-After)
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=live["base"], headers={"Authorization": f"Bearer {live['token']}"},
                          timeout=15) as http:
            i = 0
            while not stop.is_set():
                i += 1
                body = {"category_code": "09006", "lon": INSIDE_A[0] + n * 1e-4, "lat": INSIDE_A[1] + i * 1e-7,
                        "description": f"client {n} report {i}"}
                try:
                    response = http.post("/api/v1/incidents", json=body)
                except httpx.HTTPError:
                    with lock:
                        answers.append((time.monotonic(), 0, None))
                    time.sleep(0.05)
                    continue
                with lock:
                    answers.append((time.monotonic(), response.status_code, response.headers.get("Retry-After")))
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2.0)
        stopped_at = time.monotonic()
        cluster.stop()
        time.sleep(DOWN_S)
        restarted_at = time.monotonic()
        cluster.ensure()
        deadline = restarted_at + RECOVERY_S + 2
        while time.monotonic() < deadline:
            with lock:
                if any(at > time.monotonic() - 0.5 and status == 201 for at, status, _ in answers[-20:]):
                    break
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(20)
        cluster.ensure()  # whatever happened, the rest of the suite gets its database back

    during = [(status, retry) for at, status, retry in answers if stopped_at + 0.5 < at < restarted_at]
    assert during, "no request was answered while the database was down"
    assert all(status == 503 and retry for status, retry in during), sorted(set(during))
    assert not [a for a in answers if a[1] >= 500 and a[1] != 503], "a server error other than 503"
    assert not [a for a in answers if a[1] == 0], "a request got no answer at all"
    recovered = [at for at, status, _ in answers if status == 201 and at > restarted_at]
    assert recovered and recovered[0] - restarted_at <= RECOVERY_S, "reports did not succeed again within 10 s"
    with Session(live["engine"]) as session:
        stored = set(session.scalars(select(Incident.id).where(Incident.id.in_(acknowledged))))
    assert stored == set(acknowledged) and len(acknowledged) > 20
