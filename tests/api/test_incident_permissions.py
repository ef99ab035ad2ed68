"""Who may do what to an incident, over HTTP: every role × every action, with the expected status.

The case lives in community A, which the subdistrict team answers for: ``officer`` is of that team,
``officer_b`` of the team of community B only; ``staff`` is community staff of A, ``staff_b`` of B. The table
below is the specification (it is written out, not derived from ``gis.people.permissions``): a change of the rules
must change it on purpose. Every refusal is a 401 or a 403 whose body says why, or, for a case outside the
caller's read scope, the same 404 as for a case that does not exist.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session

from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.photos import store_photo
from gis.models import Incident, PhotoKind, Role, User
from gis.settings import Settings
from tests.gis.conftest import COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld, street_world

__all__ = ["street_world"]

URL = "/api/v1/incidents"
ROLES = ("grid_worker", "officer", "officer_b", "supervisor", "planner", "admin", "staff", "staff_b",
         "unit_manager", "anonymous")

# action → the status each role gets (columns in the order of ROLES).
EXPECTED: dict[str, tuple[int, ...]] = {
    #                  grid  off  off_b  sup  plan  adm  staff staff_b unit  anon
    "create":         (201, 201, 201,  201, 403,  201, 201,  201,    403,  401),
    "read":           (200, 200, 404,  200, 200,  200, 200,  404,    403,  401),
    "history":        (200, 200, 404,  200, 200,  200, 200,  404,    403,  401),
    "list":           (200, 200, 200,  200, 200,  200, 200,  200,    403,  401),
    "register":       (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "reject":         (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "dispatch":       (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "take":           (403, 200, 404,  403, 403,  200, 403,  403,    403,  401),
    "handle":         (403, 200, 404,  403, 403,  200, 403,  403,    403,  401),
    "verify":         (200, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "rework":         (200, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "close":          (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "extend":         (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "request_extension": (403, 200, 404, 403, 403,  200, 403,  403,    403,  401),
    "shelve":         (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "void":           (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "mark_duplicate": (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
    "add_photo":      (201, 201, 404,  201, 403,  201, 201,  404,    403,  401),
    "get_photo":      (200, 200, 404,  200, 403,  200, 200,  404,    403,  401),
    "duplicates":     (200, 200, 404,  200, 403,  200, 200,  404,    403,  401),
    "import":         (403, 403, 403,  200, 403,  200, 403,  403,    403,  401),
}

# The status a move needs the case in, and the moves (by the centre or the team) that get it there.
ROUTE_TO: dict[str, list[str]] = {
    "register": [], "reject": [], "void": [], "mark_duplicate": [],
    "dispatch": ["register"], "shelve": ["register"],
    "take": ["register", "dispatch"], "extend": ["register", "dispatch"],
    "request_extension": ["register", "dispatch"],
    "handle": ["register", "dispatch", "take"],
    "verify": ["register", "dispatch", "take", "handle"], "rework": ["register", "dispatch", "take", "handle"],
    "close": ["register", "dispatch", "take", "handle", "verify"],
}
MOVE_FIELDS: dict[str, dict[str, Any]] = {
    "reject": {"note": "不属于受理范围"}, "rework": {"note": "未清理干净"}, "shelve": {"note": "需市级协调"},
    "void": {"note": "无效上报"}, "extend": {"note": "需要更多时间", "hours": 4},
    "request_extension": {"note": "需协调产权单位", "hours": 8},
}


def png(colour: tuple[int, int, int] = (10, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def people(db: Session, street_world: StreetWorld, make_user: Callable[..., User]) -> dict[str, User | None]:
    w = street_world
    return {
        "grid_worker": w.grid_worker, "officer": w.officer_a, "officer_b": w.officer_b, "supervisor": w.supervisor,
        "planner": w.planner, "admin": w.admin, "staff": w.community_staff,
        "staff_b": make_user(Role.community_staff, community_code=COMMUNITY_B),
        "unit_manager": make_user(Role.unit_manager), "anonymous": None,
    }


class Case:
    """A case in community A brought to the state an action needs, by the roles whose job that is."""

    def __init__(self, db: Session, world: StreetWorld, settings: Settings) -> None:
        self.db, self.world, self.settings = db, world, settings
        self.incident: Incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                                   reporter=world.grid_worker, description="门店占道").incident

    def advance(self, moves: list[str]) -> None:
        for to in moves:
            actor = self.world.officer_a if to in ("take", "handle") else self.world.supervisor
            photos = [self.after_photo()] if to == "handle" else []
            workflow.transition(self.db, incident=self.incident, to=to, actor=actor, photos=photos,
                                expected_version=self.incident.version)
        self.db.flush()

    def after_photo(self):  # type: ignore[no-untyped-def]
        return store_photo(self.db, incident=self.incident, photo=png((200, 200, 0)), photo_dir=self.settings.photo_dir,
                           kind=PhotoKind.after, uploader=self.world.officer_a)


def attempt(client: TestClient, action: str, case: Case, headers: dict[str, str]) -> Any:
    incident = case.incident
    path = f"{URL}/{incident.id}"
    if action == "create":
        return client.post(URL, json={"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]},
                           headers=headers)
    if action == "read":
        return client.get(path, headers=headers)
    if action == "history":
        return client.get(f"{path}/history", headers=headers)
    if action == "list":
        return client.get(URL, headers=headers)
    if action == "duplicates":
        return client.get(f"{path}/duplicates", headers=headers)
    if action == "add_photo":
        return client.post(f"{path}/photos", files={"photos": ("p.png", png(), "image/png")}, headers=headers)
    if action == "get_photo":
        photo = store_photo(case.db, incident=incident, photo=png((1, 2, 3)), photo_dir=case.settings.photo_dir,
                            uploader=case.world.grid_worker)
        return client.get(f"{path}/photos/{photo.id}", headers=headers)
    if action == "import":
        csv = f"lon,lat,category\n{INSIDE_A[0]},{INSIDE_A[1]},09006\n".encode()
        return client.post(f"{URL}/import", files={"file": ("a.csv", csv, "text/csv")}, headers=headers)
    if action == "mark_duplicate":
        original = incidents.create(case.db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                    reporter=case.world.supervisor).incident
        return client.post(f"{path}/duplicate-of", json={"original": original.public_id, "version": incident.version},
                           headers=headers)
    case.advance(ROUTE_TO[action])
    body = {"to": action, "version": incident.version, **MOVE_FIELDS.get(action, {})}
    if action == "handle":
        body["photo_ids"] = [case.after_photo().id]
    return client.post(f"{path}/transitions", json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(EXPECTED))
def test_each_role_may_do_exactly_what_the_table_says(client, db, street_world, people, settings, auth_headers,
                                                      action, role) -> None:
    user = people[role]
    headers = auth_headers(user) if user is not None else {}
    case = Case(db, street_world, settings)
    response = attempt(client, action, case, headers)
    expected = EXPECTED[action][ROLES.index(role)]
    assert response.status_code == expected, f"{role} {action}: {response.status_code} {response.text}"
    if expected == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "authentication required" in response.json()["detail"]
    elif expected == 403:
        reason = response.json()["detail"]
        assert reason and (role.split("_")[0] in reason or "outside" in reason or user.username in reason), reason


def test_the_table_covers_every_role_and_every_move(people) -> None:
    assert set(people) == set(ROLES)
    assert {m.action for m in workflow.MOVES} - {"reopen"} <= set(EXPECTED)
    assert all(len(statuses) == len(ROLES) for statuses in EXPECTED.values())


def test_an_officer_lists_nothing_outside_the_team_and_staff_nothing_outside_the_community(
        client, db, street_world, people, settings, auth_headers) -> None:
    Case(db, street_world, settings)
    for role, visible in (("officer", 1), ("officer_b", 0), ("staff", 1), ("staff_b", 0), ("grid_worker", 1),
                          ("planner", 1), ("supervisor", 1)):
        items = client.get(URL, headers=auth_headers(people[role])).json()["items"]
        assert len(items) == visible, role


def test_an_officer_of_another_team_cannot_act_even_with_the_right_version(client, db, street_world, people,
                                                                            settings, auth_headers) -> None:
    case = Case(db, street_world, settings)
    case.advance(["register", "dispatch"])
    response = client.post(f"{URL}/{case.incident.id}/transitions", json={"to": "take", "version": 3},
                           headers=auth_headers(people["officer_b"]))
    assert response.status_code == 404 and response.json()["code"] == "NotFound"
    db.refresh(case.incident)
    assert (case.incident.status, case.incident.version) == ("dispatched", 3)


# -- rights before anything about the case (issue 14, finding 1) ----------------------------------------------
def _handled_case_in_b(db: Session, world: StreetWorld, settings: Settings) -> Incident:
    """A case in community B, reported by the centre (so no grid worker reads it), handled by B's team."""
    incident = incidents.create(db, category_code="09006", lon=INSIDE_B[0], lat=INSIDE_B[1],
                                reporter=world.supervisor, description="井盖缺失").incident
    for to, actor in (("register", world.supervisor), ("dispatch", world.supervisor), ("take", world.officer_b),
                      ("handle", world.officer_b)):
        photos = [store_photo(db, incident=incident, photo=png((9, 9, 9)), photo_dir=settings.photo_dir,
                              kind=PhotoKind.after, uploader=world.officer_b)] if to == "handle" else []
        workflow.transition(db, incident=incident, to=to, actor=actor, photos=photos,
                            expected_version=incident.version)
    db.flush()
    return incident


@pytest.mark.parametrize("move", ["verify", "rework", "verified"])
def test_a_grid_worker_cannot_verify_or_rework_a_case_outside_the_cells_they_read(
        client, db, street_world, settings, auth_headers, move) -> None:
    incident = _handled_case_in_b(db, street_world, settings)
    headers = auth_headers(street_world.grid_worker)
    assert client.get(f"{URL}/{incident.id}", headers=headers).status_code == 404
    response = client.post(f"{URL}/{incident.id}/transitions", headers=headers,
                           json={"to": move, "version": incident.version, "note": "现场核查"})
    assert response.status_code == 404, response.text
    db.refresh(incident)
    assert (incident.status, incident.version) == ("handled", 5)


def test_a_transition_with_a_stale_version_from_an_officer_of_another_team_reveals_no_version(
        client, db, street_world, people, settings, auth_headers) -> None:
    case = Case(db, street_world, settings)
    case.advance(["register", "dispatch"])
    workflow.transition(db, incident=case.incident, to="extend", actor=street_world.supervisor, note="等待配件",
                        data={"hours": 2}, expected_version=case.incident.version)
    db.flush()
    assert case.incident.version == 4
    response = client.post(f"{URL}/{case.incident.id}/transitions", json={"to": "take", "version": 1},
                           headers=auth_headers(people["officer_b"]))
    missing = client.post(f"{URL}/999999/transitions", json={"to": "take", "version": 1},
                          headers=auth_headers(people["officer_b"]))
    assert response.status_code == missing.status_code == 404, response.text
    text = response.json()["detail"]
    assert "version" not in text and "dispatched" not in text and "4" not in text.replace(str(case.incident.id), "")
    assert text.replace(str(case.incident.id), "N") == missing.json()["detail"].replace("999999", "N")


@pytest.mark.parametrize(("role", "move"), [("planner", "verify"), ("staff", "close"), ("grid_worker", "take"),
                                            ("officer_b", "close"), ("unit_manager", "rework")])
def test_a_role_refused_a_move_gets_the_same_answer_for_any_case_or_none(
        client, db, street_world, people, settings, auth_headers, role, move) -> None:
    case = Case(db, street_world, settings)
    headers = auth_headers(people[role])
    answers = [client.post(f"{URL}/{ref}/transitions", json={"to": move, "version": 7}, headers=headers)
               for ref in (case.incident.id, case.incident.public_id, 999999, "JS-2026-999999")]
    assert {a.status_code for a in answers} == {403}
    assert len({a.json()["detail"] for a in answers}) == 1


@pytest.mark.parametrize("path", ["", "/history", "/duplicates", "/photos"])
def test_a_case_outside_the_read_scope_is_the_same_404_as_no_case(
        client, db, street_world, people, settings, auth_headers, path) -> None:
    case = Case(db, street_world, settings)
    headers = auth_headers(people["staff_b"])
    seen = client.get(f"{URL}/{case.incident.id}{path}", headers=headers)
    unseen = client.get(f"{URL}/999999{path}", headers=headers)
    assert seen.status_code == unseen.status_code == 404
    assert seen.json()["detail"].replace(str(case.incident.id), "N") == unseen.json()["detail"].replace("999999", "N")
