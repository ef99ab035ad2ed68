"""The role × action matrix over every route of the API (issue 14): who may call what, as a table.

Each route of ``/openapi.json`` has one row: whether it needs a signed-in caller, the roles that may use it, and
a well-formed request. A caller without credentials gets 401 where one is needed; a role not in the row gets 403
(or, for a case outside its read scope, the 404 of a case that does not exist); a role in the row gets neither,
and never a server error. A route added without a row fails ``test_every_route_has_a_row``: its rights must be
decided on purpose. The finer incident rules (each move, each scope) are ``test_incident_permissions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.facilities import service as facilities
from gis.facilities.service import UnitSpec
from gis.incidents import service as incidents
from gis.models import Booking, BookingStatus, Role, User
from tests.facility_world import facility_spec
from tests.gis.conftest import COMMUNITY_A, INSIDE_A, StreetWorld, street_world

__all__ = ["street_world"]

ROLES = ("anonymous", "grid_worker", "officer", "supervisor", "planner", "admin", "community_staff", "unit_manager")
EVERYONE = frozenset(ROLES) - {"anonymous"}
CENTRE = frozenset({"supervisor", "admin"})
READERS = frozenset({"grid_worker", "officer", "supervisor", "community_staff", "admin"})  # incident.read
REPORTERS = READERS
SEES_CASES = READERS | {"planner"}  # the whole or the de-personalised view


@dataclass(frozen=True)
class Row:
    """``path`` may name ``{incident}``, ``{unit}``, ``{facility}``, ``{booking}`` (a request waiting for
    approval); ``public``: no credentials needed."""

    path: str
    roles: frozenset[str]
    public: bool = False
    json: Any = None
    params: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None


DAY = {"start": "2026-03-02T00:00:00+08:00", "end": "2026-03-03T00:00:00+08:00"}
CSV = f"lon,lat,category\n{INSIDE_A[0]},{INSIDE_A[1]},09006\n".encode()

MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/api/v1/auth/token"): Row("/api/v1/auth/token", EVERYONE | {"anonymous"}, public=True,
                                        data={"username": "supervisor1"}),  # 422: no password
    ("GET", "/api/v1/me"): Row("/api/v1/me", EVERYONE),
    ("POST", "/api/v1/me/password"): Row("/api/v1/me/password", EVERYONE,
                                         json={"current_password": "not-it", "new_password": "short"}),  # 422
    ("GET", "/api/v1/categories"): Row("/api/v1/categories", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/api/v1/categories/{code}"): Row("/api/v1/categories/09006", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/api/v1/units"): Row("/api/v1/units", EVERYONE),
    ("POST", "/api/v1/units"): Row("/api/v1/units", frozenset({"admin"}), json={"name": "州法院", "kind": "court"}),
    ("POST", "/api/v1/units/{unit_id}/managers"): Row("/api/v1/units/{unit}/managers", frozenset({"admin"}),
                                                      json={"user_id": 1}),
    ("PUT", "/api/v1/units/{unit_id}/pairings/{community_code}"): Row(
        f"/api/v1/units/{{unit}}/pairings/{COMMUNITY_A}", frozenset({"admin", "unit_manager"}), json={}),
    ("DELETE", "/api/v1/units/{unit_id}/pairings/{community_code}"): Row(
        f"/api/v1/units/{{unit}}/pairings/{COMMUNITY_A}", frozenset({"admin", "unit_manager"})),
    ("GET", "/api/v1/facilities"): Row("/api/v1/facilities", EVERYONE),
    ("POST", "/api/v1/units/{unit_id}/facilities"): Row(
        "/api/v1/units/{unit}/facilities", frozenset({"admin", "unit_manager"}),
        json={"name": "篮球场", "type": "sports_court", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "capacity": 20,
              "opening_hours": "Mo-Su 08:00-20:00"}),
    ("GET", "/api/v1/facilities/{facility_id}"): Row("/api/v1/facilities/{facility}", EVERYONE),
    ("PATCH", "/api/v1/facilities/{facility_id}"): Row("/api/v1/facilities/{facility}",
                                                       frozenset({"admin", "unit_manager"}), json={"rules": "安静"}),
    ("GET", "/api/v1/facilities/{facility_id}/calendar"): Row("/api/v1/facilities/{facility}/calendar", EVERYONE,
                                                              params=DAY),
    ("POST", "/api/v1/facilities/{facility_id}/bookings"): Row(
        "/api/v1/facilities/{facility}/bookings", frozenset({"admin", "community_staff"}),
        json={"community_code": COMMUNITY_A, "starts_at": "2026-03-02T10:00:00+08:00",
              "ends_at": "2026-03-02T11:00:00+08:00"}),
    ("GET", "/api/v1/facilities/{facility_id}/bookings"): Row("/api/v1/facilities/{facility}/bookings",
                                                              frozenset({"admin", "unit_manager"})),
    ("GET", "/api/v1/bookings"): Row("/api/v1/bookings", EVERYONE),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): Row("/api/v1/bookings/999999/cancel", EVERYONE),
    # Deciding a request belongs to the facility's owner: its unit's managers (and admin).
    ("POST", "/api/v1/bookings/{booking_id}/approve"): Row("/api/v1/bookings/{booking}/approve",
                                                           frozenset({"admin", "unit_manager"})),
    ("POST", "/api/v1/bookings/{booking_id}/decline"): Row("/api/v1/bookings/{booking}/decline",
                                                           frozenset({"admin", "unit_manager"}),
                                                           json={"note": "当天单位自用"}),
    ("POST", "/api/v1/incidents"): Row("/api/v1/incidents", REPORTERS,
                                       json={"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]}),
    ("GET", "/api/v1/incidents"): Row("/api/v1/incidents", SEES_CASES),
    ("GET", "/api/v1/incidents/overdue"): Row("/api/v1/incidents/overdue", SEES_CASES),
    ("GET", "/api/v1/incidents/{ref}"): Row("/api/v1/incidents/{incident}", SEES_CASES),
    ("POST", "/api/v1/incidents/{ref}/transitions"): Row("/api/v1/incidents/{incident}/transitions", CENTRE,
                                                         json={"to": "register", "version": 1}),
    ("GET", "/api/v1/incidents/{ref}/history"): Row("/api/v1/incidents/{incident}/history", SEES_CASES),
    ("GET", "/api/v1/incidents/{ref}/duplicates"): Row("/api/v1/incidents/{incident}/duplicates", READERS),
    ("POST", "/api/v1/incidents/{ref}/duplicate-of"): Row("/api/v1/incidents/{incident}/duplicate-of", CENTRE,
                                                          json={"original": "JS-2026-999999", "version": 1}),
    ("GET", "/api/v1/incidents/{ref}/photos"): Row("/api/v1/incidents/{incident}/photos", SEES_CASES),
    ("POST", "/api/v1/incidents/{ref}/photos"): Row("/api/v1/incidents/{incident}/photos", REPORTERS,
                                                    files={"photos": ("a.png", b"not an image", "image/png")}),
    ("GET", "/api/v1/incidents/{ref}/photos/{photo_id}"): Row("/api/v1/incidents/{incident}/photos/999999", READERS),
    ("POST", "/api/v1/incidents/import"): Row("/api/v1/incidents/import", CENTRE,
                                              files={"file": ("a.csv", CSV, "text/csv")}),
    ("GET", "/open311/v2/discovery.{fmt}"): Row("/open311/v2/discovery.json", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/open311/v2/services.{fmt}"): Row("/open311/v2/services.xml", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"): Row("/open311/v2/services/09006.json",
                                                              EVERYONE | {"anonymous"}, public=True),
    ("GET", "/open311/v2/requests.{fmt}"): Row("/open311/v2/requests.json", SEES_CASES | {"anonymous"}, public=True),
    ("POST", "/open311/v2/requests.{fmt}"): Row("/open311/v2/requests.json", REPORTERS,
                                                data={"service_code": "09006", "lat": str(INSIDE_A[1]),
                                                      "long": str(INSIDE_A[0])}),
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"): Row("/open311/v2/requests/{incident}.json",
                                                                    EVERYONE | {"anonymous"}, public=True),
    ("GET", "/api/v1/layers"): Row("/api/v1/layers", EVERYONE),
    ("GET", "/api/v1/layers/{layer_id}"): Row("/api/v1/layers/grid_cells", EVERYONE),
    ("GET", "/ogc"): Row("/ogc", EVERYONE),
    ("GET", "/ogc/api"): Row("/ogc/api", EVERYONE),
    ("GET", "/ogc/conformance"): Row("/ogc/conformance", EVERYONE),
    ("GET", "/ogc/collections"): Row("/ogc/collections", EVERYONE),
    ("GET", "/ogc/collections/{collection_id}"): Row("/ogc/collections/grid_cells", EVERYONE),
    ("GET", "/ogc/collections/{collection_id}/items"): Row("/ogc/collections/grid_cells/items",
                                                           EVERYONE),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): Row(
        "/ogc/collections/grid_cells/items/1", EVERYONE),
    ("GET", "/api/v1/exports/{layer_id}.{file_format}"): Row("/api/v1/exports/grid_cells.geojson",
                                                             frozenset({"planner", "supervisor", "admin"})),
    ("GET", "/api/v1/incidents/nearby"): Row("/api/v1/incidents/nearby", READERS,
                                             params={"lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1]),
                                                     "category": "09006"}),
    ("GET", "/api/v1/evaluation"): Row("/api/v1/evaluation", SEES_CASES,
                                       params={"by": "community", "from": "2026-03-01", "to": "2026-04-01"}),
    ("GET", "/api/v1/evaluation/trend"): Row("/api/v1/evaluation/trend", SEES_CASES,
                                             params={"by": "community", "from": "2026-03-01", "to": "2026-04-01"}),
    ("GET", "/"): Row("/", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/officer"): Row("/officer", EVERYONE | {"anonymous"}, public=True),  # the page; its data asks
    ("GET", "/desk"): Row("/desk", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/healthz"): Row("/healthz", EVERYONE | {"anonymous"}, public=True),
    # Pages: the page itself is public (a log-in form at worst); the data it asks for is checked per route.
    ("GET", "/map"): Row("/map", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/dashboard"): Row("/dashboard", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/sharing"): Row("/sharing", EVERYONE | {"anonymous"}, public=True),
    ("GET", "/admin"): Row("/admin", EVERYONE | {"anonymous"}, public=True),
    # The command map's data: incident counts, so the roles that see cases (scoped), like the tiles.
    ("GET", "/api/v1/map/classes"): Row("/api/v1/map/classes", SEES_CASES,
                                        params={"z": "14", "bbox": "109.70,28.30,109.72,28.31"}),
    ("GET", "/api/v1/map/{kind}.html"): Row("/api/v1/map/density.html", SEES_CASES),
    ("GET", "/api/v1/map/{kind}.png"): Row("/api/v1/map/density.png", SEES_CASES),
    ("GET", "/tiles/{layer_id}.json"): Row("/tiles/grid_cells.json", EVERYONE),
    ("GET", "/tiles/{layer_id}/{z}/{x}/{y}.mvt"): Row("/tiles/incident_density/0/0/0.mvt", SEES_CASES),
    # A local base map needs no log-in (it holds no city data); unconfigured here, so a 404 for everyone.
    ("GET", "/basemap/{z}/{x}/{y}"): Row("/basemap/0/0/0", EVERYONE | {"anonymous"}, public=True),
    # Patrol log: reporters start patrols; a patrol is its walker's own (404 for anyone else's).
    ("POST", "/api/v1/patrols"): Row("/api/v1/patrols", REPORTERS),
    ("POST", "/api/v1/patrols/{patrol_id}/points"): Row("/api/v1/patrols/999999/points", EVERYONE,
                                                        json={"points": []}),
    ("POST", "/api/v1/patrols/{patrol_id}/stop"): Row("/api/v1/patrols/999999/stop", EVERYONE),
    ("GET", "/api/v1/patrols/day"): Row("/api/v1/patrols/day", EVERYONE),
}


def test_every_route_has_a_row(app: FastAPI) -> None:
    documented = {(method.upper(), path) for path, operations in app.openapi()["paths"].items()
                  for method in operations if method in {"get", "post", "put", "patch", "delete"}}
    assert documented - set(MATRIX) == set(), "give each new route a row: who may call it"
    assert set(MATRIX) - documented == set(), "a row for a route that no longer exists"


@pytest.fixture
def world(db: Session, street_world: StreetWorld, make_user: Callable[..., User]) -> dict[str, Any]:
    incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=street_world.grid_worker).incident
    unit = facilities.create_unit(db, UnitSpec(name="州政府机关", kind="government"))
    facility = facilities.create_facility(db, unit=unit, spec=facility_spec(at=INSIDE_A))
    manager = make_user(Role.unit_manager)
    facilities.add_manager(db, unit=unit, user=manager)
    request = Booking(facility_id=facility.id, community_code=COMMUNITY_A,
                      starts_at=datetime(2036, 3, 2, 10, tzinfo=UTC), ends_at=datetime(2036, 3, 2, 11, tzinfo=UTC),
                      quantity=1, exclusive=True, status=BookingStatus.requested.value)
    db.add(request)
    db.flush()
    people: dict[str, User | None] = {role: street_world.user(role) for role in ROLES
                                      if role not in ("anonymous", "unit_manager")}
    people.update(anonymous=None, unit_manager=manager)
    return {"ids": {"incident": incident.id, "unit": unit.id, "facility": facility.id, "booking": request.id},
            "people": people}


@pytest.mark.parametrize("route", [f"{m} {p}" for m, p in MATRIX])
def test_each_role_gets_what_the_matrix_says(client: TestClient, db: Session, world: dict[str, Any], route: str,
                                             auth_headers: Callable[[User], dict[str, str]]) -> None:
    method, template = route.split(" ", 1)
    row = MATRIX[(method, template)]
    wrong = []
    for role in ROLES:  # one world for the eight callers: each call is refused, or changes nothing they share
        user = world["people"][role]
        headers = auth_headers(user) if user is not None else {}
        response = client.request(method, row.path.format(**world["ids"]), headers=headers,
                                  params=row.params or None, json=row.json, data=row.data, files=row.files)
        status = response.status_code
        if role == "anonymous" and not row.public:
            expected = "401"
            ok = status == 401
        elif role not in row.roles:
            expected = "403 or 404"
            ok = status in (403, 404)
        else:
            expected = "neither 401 nor 403"
            ok = status not in (401, 403)
        if not ok or status >= 500:
            wrong.append(f"{role}: {status}, expected {expected}: {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
