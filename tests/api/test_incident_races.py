"""Over HTTP against committed rows: two clients changing one case at once (the loser gets a 409 that says
to reload, never a 500), and creates on the app's real engines (the fast path commits on its own).

The usual rolled-back test transaction cannot hold a race (every session would share its one connection),
so this module serves a committed copy of the gis tests' ``street_world`` in a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.deps import token_config
from gis.incidents import fast_create, workflow
from gis.incidents import service as incidents
from gis.incidents.fast_create import report_by_id
from gis.models import Incident, IncidentEvent, Role, User
from gis.people import security, users
from tests.gis.conftest import INSIDE_A, build_street_world
from tests.live import committed_database, live_app

URL = "/api/v1/incidents"


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[TestClient, sessionmaker[Session], dict[str, str]]]:
    """(client of an app on the committed world, sessions on the same database, a supervisor's headers)."""
    with committed_database(database_url, "races") as engine:
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions() as session, session.begin():
            supervisor_id = build_street_world(session).supervisor.id
        app = live_app(engine, tmp_path_factory.mktemp("races-state"))
        config = token_config(app.state.settings)
        token = security.create_access_token(str(supervisor_id), secret=config.secret, minutes=5).token
        with TestClient(app) as client:
            yield client, sessions, {"Authorization": f"Bearer {token}"}


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _committed_report(sessions: sessionmaker[Session]) -> int:
    with sessions() as session, session.begin():
        return incidents.create(session, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=_user(session, "grid1")).incident.id


def test_a_change_committed_while_a_transition_request_works_is_a_409_naming_the_version(live) -> None:
    client, sessions, headers = live
    incident_id = _committed_report(sessions)

    done: list[int] = []

    def another_client_registers_it(session: Session, *_: Any) -> None:
        # Just before the request writes its change (it has loaded and checked the case at version 1).
        if done or not any(isinstance(o, Incident) and o.id == incident_id for o in session.dirty):
            return
        done.append(incident_id)
        with sessions() as other, other.begin():
            workflow.transition(other, incident=other.get_one(Incident, incident_id), to="register",
                                actor=_user(other, "supervisor1"), expected_version=1)

    event.listen(Session, "before_flush", another_client_registers_it)
    try:
        response = client.post(f"{URL}/{incident_id}/transitions", json={"to": "reject", "note": "重复"},
                               headers={**headers, "If-Match": '"1"'})
    finally:
        event.remove(Session, "before_flush", another_client_registers_it)
    assert done, "the other client never got in: the request did not write the case"
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "StaleVersion"
    assert "no longer at version 1" in body["detail"] and "reload it and try again" in body["detail"]
    current = client.get(f"{URL}/{incident_id}", headers=headers).json()
    assert (current["status"], current["version"]) == ("registered", 2)  # theirs stands, ours left no trace
    history = client.get(f"{URL}/{incident_id}/history", headers=headers).json()
    assert [e["action"] for e in history] == ["report", "register"]


# -- the create's fast path on the app's own autocommit connections -----------------------------------------
# Everywhere else the app runs on the test's rolled-back session; only here does a create take the real
# path: one atomic statement on the report engine (no BEGIN/COMMIT), falling back to the detailed path.
def _bearer(client: TestClient, user_id: int) -> dict[str, str]:
    config = token_config(client.app.state.settings)  # type: ignore[attr-defined]
    return {"Authorization": "Bearer " + security.create_access_token(str(user_id), secret=config.secret,
                                                                      minutes=5).token}


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(Incident)) or 0,
                session.scalar(select(func.count()).select_from(IncidentEvent)) or 0)


def test_a_create_on_the_fast_path_is_committed_with_its_event_before_the_answer(live) -> None:
    client, sessions, _ = live
    with sessions() as session:
        worker = _user(session, "grid1")
    before = _counts(sessions)
    response = client.post(URL, json={"category_code": "06001", "lon": INSIDE_A[0], "lat": INSIDE_A[1],
                                      "description": "<b>违建</b>"}, headers=_bearer(client, worker.id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert _counts(sessions) == (before[0] + 1, before[1] + 1)
    with sessions() as session:  # another connection sees it: committed, not left in an open transaction
        stored = session.get_one(Incident, body["id"])
        assert (stored.status, stored.reporter_id, stored.description) == ("reported", worker.id, "<b>违建</b>")
        assert stored.community_code == body["community_code"] and stored.cell_code == body["cell_code"]
        actions = session.scalars(select(IncidentEvent.action).where(IncidentEvent.incident_id == stored.id)).all()
    assert actions == ["report"]
    assert body["reporter"]["id"] == worker.id and body["possible_duplicates"] == []
    again = client.post(URL, json={"category_code": "06001", "lon": INSIDE_A[0], "lat": INSIDE_A[1]},
                        headers=_bearer(client, worker.id))
    assert [d["id"] for d in again.json()["possible_duplicates"]] == [body["id"]]


@pytest.mark.parametrize(("who", "lon_lat", "expected"), [
    ("planner1", INSIDE_A, 403),           # a role that may not report
    ("grid1", (109.0, 28.0), 422),          # outside every community
    ("grid1", (28.305, 109.705), 422),      # swapped lon/lat
    ("disabled", INSIDE_A, 401),            # a user disabled after the token was issued
])
def test_a_refused_create_writes_nothing_on_either_path(live, who: str, lon_lat: tuple[float, float],
                                                        expected: int) -> None:
    client, sessions, _ = live
    with sessions() as session, session.begin():
        if who == "disabled":
            user = session.scalars(select(User).where(User.username == "disabled_grid")).one_or_none()
            user = user or users.create_user(session, username="disabled_grid", display_name="停用",
                                             role=Role.grid_worker)
            user.is_active = False
        else:
            user = _user(session, who)
        user_id = user.id
    before = _counts(sessions)
    response = client.post(URL, json={"category_code": "06001", "lon": lon_lat[0], "lat": lon_lat[1]},
                           headers=_bearer(client, user_id))
    assert response.status_code == expected, response.text
    assert response.json()["detail"]
    assert _counts(sessions) == before


def test_the_fast_path_answers_exactly_as_the_detailed_path(live, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same report twice: once on the fast path, once on the detailed one (an Idempotency-Key forces it).
    Both answers are built from the same view; this holds them to it, field by field and header by header."""
    client, sessions, _ = live
    fast_reports: list[object] = []

    def counted(*args: Any, **kwargs: Any) -> object:
        fast_reports.append(result := report_by_id(*args, **kwargs))
        return result

    monkeypatch.setattr(fast_create, "report_by_id", counted)
    with sessions() as session:
        headers = _bearer(client, _user(session, "grid1").id)
    body = {"category_code": "09005", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "description": "店外经营 <i>x</i>",
            "address": "乾州路 1 号", "source": "hotline_12345", "datum": "wgs84"}
    fast = client.post(URL, json=body, headers=headers)
    detailed = client.post(URL, json=body, headers={**headers, "Idempotency-Key": "same-answer-check"})
    assert fast.status_code == detailed.status_code == 201, (fast.text, detailed.text)
    assert len(fast_reports) == 1 and fast_reports[0] is not None  # the first took the fast path, alone
    assert "Idempotent-Replayed" not in detailed.headers
    first, second = fast.json(), detailed.json()
    assert [d["id"] for d in second["possible_duplicates"]] == [first["id"]]
    assert second["possible_duplicates"][0] == {key: first[key] for key in second["possible_duplicates"][0]
                                                if key != "distance_m"} | {"distance_m": 0.0}
    differing = {"id", "public_id", "reported_at", "updated_at", "possible_duplicates"}
    assert {k: v for k, v in first.items() if k not in differing} == {
        k: v for k, v in second.items() if k not in differing}
    assert list(first) == list(second)  # same fields in the same order
    for name in ("ETag", "Vary", "Content-Type"):
        assert fast.headers[name] == detailed.headers[name]
    assert fast.headers["Location"] == f"/api/v1/incidents/{first['id']}"
