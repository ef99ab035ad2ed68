"""A historic load while the city runs: a real server keeps answering every read and every new report with
2xx while 30,000 cases are being imported, including while the import holds its transaction open.

The import is large enough (≥ BULK_ROWS and ≥ the table) that an offline load would drop the incident
tables' indexes and keys, locking them until commit; the online default must not, and this test would time
out if it did (``LOAD_OPEN_ROUNDS`` requests are made while the load has written but not committed).
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from gis.incidents.bulk_import import import_incidents
from gis.models import Incident
from gis.people import users
from tests.gis.conftest import BOX_A, BOX_B, INSIDE_A, build_street_world
from tests.live import committed_database, live_app, serve

ROWS = 30_000
LOAD_OPEN_ROUNDS = 10  # request pairs made while the load has written its rows but not committed
MAX_REQUESTS = 600  # the client loop is bounded in count…
DEADLINE_S = 180.0  # …and in time
REQUEST_TIMEOUT_S = 15.0
URL = "/api/v1/incidents"


@pytest.fixture(scope="module")
def live_city(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine, str, str]]:
    """(base URL, engine, a grid worker's API key, a supervisor's) of a served, committed street world."""
    with committed_database(database_url, "histload") as engine:
        with sessionmaker(engine)() as session, session.begin():
            world = build_street_world(session)
            worker_key = users.create_api_key(session, world.grid_worker)
            supervisor_key = users.create_api_key(session, world.supervisor)
        with serve(live_app(engine, tmp_path_factory.mktemp("histload-state"))) as base:
            yield base, engine, worker_key, supervisor_key


def history(folder: Path) -> Path:
    """ROWS closed cases of 2025 spread over both communities (a year's hotline history, in small)."""
    rng = np.random.default_rng(15)
    lon = rng.uniform(BOX_A[0] + 1e-4, BOX_B[2] - 1e-4, ROWS)
    lat = rng.uniform(BOX_A[1] + 1e-4, BOX_A[3] - 1e-4, ROWS)
    path = folder / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lon", "lat", "category", "reported_at", "status", "closed_at"])
        for i in range(ROWS):
            day = 1 + i % 28
            writer.writerow([f"{lon[i]:.6f}", f"{lat[i]:.6f}", "09006", f"2025-03-{day:02d}T09:00:00+08:00",
                             "closed", f"2025-03-{day:02d}T15:00:00+08:00"])
    return path


def test_the_api_keeps_answering_while_a_historic_load_runs(
    live_city: tuple[str, Engine, str, str], tmp_path: Path
) -> None:
    base, engine, worker_key, supervisor_key = live_city
    path = history(tmp_path)
    written, release, failures = threading.Event(), threading.Event(), []
    imported: list[int] = []

    def load() -> None:
        try:
            with sessionmaker(engine)() as session, session.begin():
                report = import_incidents(session, path, now=datetime(2026, 3, 2, tzinfo=UTC))
                imported.append(report.imported)
                written.set()  # the rows are in, the transaction still open
                release.wait(timeout=DEADLINE_S)
        except Exception as exc:  # reported by the main thread
            failures.append(exc)
            written.set()

    answers: list[tuple[str, int, bool]] = []  # (what, status, made while the load had not committed)
    loader = threading.Thread(target=load, name="historic-load")
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        read = {"X-API-Key": supervisor_key}
        create = {"X-API-Key": worker_key}

        def round_trip(n: int) -> None:
            listed = client.get(URL, params={"limit": 20}, headers=read)
            answers.append(("list", listed.status_code, not release.is_set()))
            made = client.post(URL, headers=create, json={"category_code": "09006", "lon": INSIDE_A[0],
                                                          "lat": INSIDE_A[1], "description": f"live {n}"})
            answers.append(("create", made.status_code, not release.is_set()))

        loader.start()
        n = 0
        while not written.is_set() and len(answers) < MAX_REQUESTS and time.monotonic() - started < DEADLINE_S:
            round_trip(n)
            n += 1
        during_load = n
        for _ in range(LOAD_OPEN_ROUNDS):  # the load holds its transaction open now
            round_trip(n)
            n += 1
        release.set()
        loader.join(timeout=DEADLINE_S)
        round_trip(n)  # and after the commit
    assert not failures, failures
    assert not loader.is_alive()
    assert imported == [ROWS]
    bad = [a for a in answers if not 200 <= a[1] < 300]
    assert bad == [], bad[:5]
    assert during_load >= 1  # the client was answered while the rows were being copied…
    assert sum(1 for a in answers if a[2]) >= 2 * (during_load + LOAD_OPEN_ROUNDS)  # …and before the commit
    created = sum(1 for a in answers if a[0] == "create")
    with sessionmaker(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == ROWS + created
