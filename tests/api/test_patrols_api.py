"""api.routes.patrols: start, positions, stop, and the day over HTTP; a patrol is its walker's alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.models import Role
from tests.factories import WORLD_CELLS, add_world


@pytest.fixture
def people(db: Session, make_user):
    add_world(db)
    return {"worker": make_user(Role.grid_worker, username="walker"), "other": make_user(Role.grid_worker),
            "supervisor": make_user(Role.supervisor)}


def test_a_patrol_over_http_and_who_may_read_it(client: TestClient, people, auth_headers) -> None:
    mine = auth_headers(people["worker"])
    patrol = client.post("/api/v1/patrols", headers=mine).json()
    now = datetime.now(UTC).isoformat()
    points = [{"lon": 109.7005, "lat": 28.2505, "at": now}, {"lon": 109.7025, "lat": 28.2505, "at": now}]
    added = client.post(f"/api/v1/patrols/{patrol['id']}/points", json={"points": points}, headers=mine)
    assert added.status_code == 200 and added.json() == {"added": 2}
    assert client.post(f"/api/v1/patrols/{patrol['id']}/points", json={"points": points},
                       headers=auth_headers(people["other"])).status_code == 403
    bad = client.post(f"/api/v1/patrols/{patrol['id']}/points", headers=mine,
                      json={"points": [{"lon": 109.7, "lat": 95, "at": now}]})
    assert bad.status_code == 422 and ["body", "points", 0, "lat"] in [e["loc"] for e in bad.json()["detail"]]
    assert client.post(f"/api/v1/patrols/{patrol['id']}/stop", headers=mine).json()["ended_at"] is not None
    day = client.get("/api/v1/patrols/day", headers=mine).json()
    assert day["cells"] == [WORLD_CELLS[0], WORLD_CELLS[2]] and day["points"] == 2
    assert client.get("/api/v1/patrols/day?username=walker", headers=auth_headers(people["other"])).status_code == 403
    seen = client.get("/api/v1/patrols/day?username=walker", headers=auth_headers(people["supervisor"]))
    assert seen.status_code == 200 and seen.json()["points"] == 2
