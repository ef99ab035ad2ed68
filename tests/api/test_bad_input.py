"""The bad-input catalogue: ordinary mistakes and hostile input, each answered by a 4xx that names what was wrong,
with nothing written (issue 14, finding 3).

Every case is a request as a client would send it, written out: the status it must get, and a word the answer
must hold (the field's name, most often). The rows of every table a request could write are counted before and
after. The CLI's import has its own cases at the end.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.facilities import service as facilities
from gis.facilities.service import UnitSpec
from gis.incidents import service as incidents
from gis.models import ApiKey, Booking, Facility, Incident, IncidentEvent, IncidentPhoto, Unit, User
from tests.facility_world import facility_spec
from tests.gis.conftest import COMMUNITY_A, INSIDE_A, StreetWorld, street_world

__all__ = ["street_world"]

def _png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png()
BIG = 2**31  # one past the largest integer id
HUGE = 2**63  # one past the largest bigint
URL = "/api/v1/incidents"
GOOD = {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]}
JSON = {"content-type": "application/json"}
HALL = {"name": "礼堂", "type": "meeting_room", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "capacity": 10,
        "opening_hours": "Mo-Su 08:00-18:00"}


@dataclass(frozen=True)
class Bad:
    """One bad request: ``path`` may name ``{incident}``, ``{facility}``, ``{unit}``, ``{photo}``."""

    method: str
    path: str
    status: int | tuple[int, ...]
    says: str  # a word the answer's body must hold: the field's name, or what was wrong
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    data: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    who: str = "supervisor"


CASES: dict[str, Bad] = {
    # -- ids in paths: non-ASCII digits, beyond the column type, negative, not numbers
    "superscript two as an incident id": Bad("GET", f"{URL}/%C2%B2", 422, "ref"),
    "arabic-indic digits as an incident id": Bad("GET", f"{URL}/\u0661\u0662", 422, "ref"),
    "an incident id of eleven digits": Bad("GET", f"{URL}/99999999999", 422, "ref"),
    "an incident id one past int4": Bad("GET", f"{URL}/{BIG}", 404, "no incident"),
    "an incident ref with a NUL": Bad("GET", f"{URL}/JS%00", 422, "NUL"),
    "history of an id past int4": Bad("GET", f"{URL}/{BIG}/history", 404, "no incident"),
    "a photo id past int4": Bad("GET", f"{URL}/{{incident}}/photos/{BIG}", 422, "photo_id"),
    "a negative photo id": Bad("GET", f"{URL}/{{incident}}/photos/-1", 422, "photo_id"),
    "a photo id in full-width digits": Bad("GET", f"{URL}/{{incident}}/photos/\uff11", 422, "photo_id"),
    "a facility id past int4": Bad("GET", f"/api/v1/facilities/{BIG}", 422, "facility_id"),
    "a facility id as 1e3": Bad("GET", "/api/v1/facilities/1e3", 422, "facility_id"),
    "a facility calendar of an id past int4": Bad("GET", f"/api/v1/facilities/{BIG}/calendar", 422, "facility_id",
                                                  params={"start": "2026-03-01T00:00:00+08:00",
                                                          "end": "2026-03-02T00:00:00+08:00"}),
    "a booking id past int4": Bad("POST", f"/api/v1/bookings/{BIG}/cancel", 422, "booking_id"),
    "a unit id past int4": Bad("PUT", f"/api/v1/units/{BIG}/pairings/{COMMUNITY_A}", 422, "unit_id", json={}),
    "a unit id past int4 for managers": Bad("POST", f"/api/v1/units/{BIG}/managers", 422, "unit_id",
                                            json={"user_id": 1}, who="admin"),
    "an OGC feature id past int4": Bad("GET", f"/ogc/collections/incidents/items/{BIG}", (404, 422), "feature"),
    "an OGC feature id in superscript": Bad("GET", "/ogc/collections/incidents/items/%C2%B2", (404, 422), "feature"),
    "an Open311 id in superscript": Bad("GET", "/open311/v2/requests/%C2%B2.json", 404, "404"),
    "an Open311 id past int4": Bad("GET", f"/open311/v2/requests/{BIG}.json", 404, "404"),
    # -- integers in queries
    "an offset past bigint": Bad("GET", URL, 422, "offset", params={"offset": str(HUGE)}),
    "an offset past the deepest page": Bad("GET", URL, 422, "offset", params={"offset": "100001"}),
    "a limit of zero": Bad("GET", URL, 422, "limit", params={"limit": "0"}),
    "a limit past the page size": Bad("GET", URL, 422, "limit", params={"limit": "1001"}),
    "a team id past int4": Bad("GET", URL, 422, "team_id", params={"team_id": str(BIG)}),
    "an overdue team id past int4": Bad("GET", f"{URL}/overdue", 422, "team_id", params={"team_id": str(BIG)}),
    "a unit id filter past int4": Bad("GET", "/api/v1/facilities", 422, "unit_id", params={"unit_id": str(BIG)}),
    "a layer limit past int4": Bad("GET", "/api/v1/layers/incidents", 422, "limit", params={"limit": str(BIG)}),
    "a layer offset past bigint": Bad("GET", "/api/v1/layers/incidents", 422, "offset", params={"offset": str(HUGE)}),
    "an OGC offset past bigint": Bad("GET", "/ogc/collections/incidents/items", (400, 422), "offset",
                                     params={"offset": str(HUGE)}),
    "an Open311 page past bigint": Bad("GET", "/open311/v2/requests.json", (400, 422), "page",
                                       params={"page": str(HUGE)}),
    "an Open311 page size past bigint": Bad("GET", "/open311/v2/requests.json", (400, 422), "page_size",
                                            params={"page_size": str(HUGE)}),
    # -- NUL bytes and odd text in queries
    "a NUL in a category filter": Bad("GET", URL, 422, "category", params={"category": "09\x00006"}),
    "a NUL in a community filter": Bad("GET", URL, 422, "community", params={"community": "4331\x00"}),
    "a NUL in a cell filter": Bad("GET", URL, 422, "cell", params={"cell": "\x00"}),
    "a NUL in a status filter": Bad("GET", URL, 422, "status", params={"status": "open\x00"}),
    "a NUL in a cursor": Bad("GET", URL, 422, "cursor", params={"cursor": "ab\x00cd"}),
    "a NUL in a facility type": Bad("GET", "/api/v1/facilities", 422, "type", params={"type": "\x00"}),
    "a NUL in a category code path": Bad("GET", "/api/v1/categories/09%00", 422, "NUL"),
    "a NUL in a pairing's community": Bad("PUT", "/api/v1/units/{unit}/pairings/4331%00", 422, "NUL", json={},
                                         who="admin"),
    "a NUL in an OGC collection": Bad("GET", "/ogc/collections/inc%00idents/items", 422, "NUL"),
    "a NUL in an Open311 service code": Bad("GET", "/open311/v2/requests.json", (400, 422), "service_code",
                                            params={"service_code": "\x00"}),
    "a NUL in an Open311 request id": Bad("GET", "/open311/v2/requests.json", (400, 422), "service_request_id",
                                          params={"service_request_id": "1\x00"}),
    "a bbox of three numbers": Bad("GET", URL, 422, "bbox", params={"bbox": "1,2,3"}),
    "a bbox of NaN": Bad("GET", URL, 422, "bbox", params={"bbox": "nan,1,2,3"}),
    "a report date without a zone": Bad("GET", URL, 422, "reported_from", params={"reported_from": "2026-01-01T00:00"}),
    "an unknown sort": Bad("GET", URL, 422, "sort", params={"sort": "name"}),
    # -- bodies of a report
    "a longitude of true": Bad("POST", URL, 422, "lon", json={**GOOD, "lon": True}),
    "a latitude of false": Bad("POST", URL, 422, "lat", json={**GOOD, "lat": False}),
    "a longitude as words": Bad("POST", URL, 422, "lon", json={**GOOD, "lon": "east"}),
    "a longitude of 1e400": Bad("POST", URL, 422, "lon", content=b'{"category_code":"09006","lon":1e400,"lat":28.3}',
                                headers={"content-type": "application/json"}),
    "a NUL in a description": Bad("POST", URL, 422, "description", json={**GOOD, "description": "a\x00b"}),
    "a NUL in an address": Bad("POST", URL, 422, "address", json={**GOOD, "address": "\x00"}),
    "a NUL in a category code": Bad("POST", URL, 422, "category", json={**GOOD, "category_code": "0900\x00"}),
    "a report in year 1": Bad("POST", URL, 422, "reported_at", json={**GOOD, "reported_at": "0001-01-01T00:00:00Z"}),
    "a report in 1899": Bad("POST", URL, 422, "reported_at", json={**GOOD, "reported_at": "1899-12-31T00:00:00Z"}),
    "a report without a zone": Bad("POST", URL, 422, "reported_at", json={**GOOD, "reported_at": "2026-01-01T08:00"}),
    "a report body that is not UTF-8": Bad("POST", URL, 422, "body", content=b'{"category_code": "\xff\xfe"}',
                                           headers={"content-type": "application/json"}),
    "a report body in Latin-1": Bad("POST", URL, 422, "body", content='{"description": "caf\u00e9"}'.encode("latin-1"),
                                    headers={"content-type": "application/json"}),
    "a report body that is a list": Bad("POST", URL, 422, "body", json=[GOOD]),
    "a report body of null": Bad("POST", URL, 422, "body", content=b"null", headers=JSON),
    "a report body cut short": Bad("POST", URL, 422, "body", content=b'{"category_code": "09',
                                   headers={"content-type": "application/json"}),
    "a report in plain text": Bad("POST", URL, 415, "Content-Type", content=b"hello",
                                  headers={"content-type": "text/plain"}),
    "a report with an unknown field": Bad("POST", URL, 422, "colour", json={**GOOD, "colour": "red"}),
    "an idempotency key of 300 characters": Bad("POST", URL, 422, "Idempotency-Key", json=GOOD,
                                                headers={"Idempotency-Key": "k" * 300}),
    # -- bodies of moves
    "a move with photo ids past int4": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "photo_ids",
                                           json={"to": "register", "version": 1, "photo_ids": [BIG]}),
    "a move with a version past int4": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "version",
                                           json={"to": "register", "version": BIG}),
    "a move with a team past int4": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "team_id",
                                        json={"to": "register", "version": 1, "team_id": BIG}),
    "a move with a NUL in its note": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "note",
                                         json={"to": "reject", "version": 1, "note": "\x00"}),
    "a move whose body is not UTF-8": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "UTF-8",
                                          content=b'{"to": "\xc0\xaf", "version": 1}',
                                          headers={"content-type": "application/json"}),
    "a move to a NUL": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "to",
                           json={"to": "\x00", "version": 1}),
    "an If-Match that is no ETag": Bad("POST", f"{URL}/{{incident}}/transitions", 422, "If-Match",
                                       json={"to": "register"}, headers={"If-Match": '"v1"'}),
    "a merge into a NUL": Bad("POST", f"{URL}/{{incident}}/duplicate-of", 422, "original",
                              json={"original": "JS\x00", "version": 1}),
    "a merge whose body is not UTF-8": Bad("POST", f"{URL}/{{incident}}/duplicate-of", 422, "UTF-8",
                                           content=b'{"original": "\xff", "version": 1}', headers=JSON),
    "a facility edit whose body is not UTF-8": Bad("PATCH", "/api/v1/facilities/{facility}", 422, "UTF-8",
                                                   content=b'{"name": "\xfe"}', headers=JSON, who="admin"),
    "a booking whose body is not UTF-8": Bad("POST", "/api/v1/facilities/{facility}/bookings", 422, "UTF-8",
                                             content=b'{"community_code": "\xc3"}', headers=JSON, who="admin"),
    # -- patrols
    "a patrol id past int4": Bad("POST", f"/api/v1/patrols/{BIG}/stop", 422, "patrol_id"),
    "positions of a patrol id past int4": Bad("POST", f"/api/v1/patrols/{BIG}/points", 422, "patrol_id",
                                              json={"points": []}),
    # -- log-in
    "a log-in name with a NUL": Bad("POST", "/api/v1/auth/token", (400, 401, 422), "username",
                                    data={"username": "super\x00visor1", "password": "x"}, who="anonymous"),
    "a log-in form that is not UTF-8": Bad("POST", "/api/v1/auth/token", (400, 401, 422), "username",
                                           content=b"username=\xff&password=\xfe", who="anonymous",
                                           headers={"content-type": "application/x-www-form-urlencoded"}),
    # -- facilities and bookings
    "a unit named with a NUL": Bad("POST", "/api/v1/units", 422, "name",
                                   json={"name": "\x00", "kind": "government"}, who="admin"),
    "a manager id past int4": Bad("POST", "/api/v1/units/{unit}/managers", 422, "user_id",
                                  json={"user_id": BIG}, who="admin"),
    "a facility capacity past int4": Bad("POST", "/api/v1/units/{unit}/facilities", 422, "capacity",
                                         json={**HALL, "capacity": BIG}, who="admin"),
    "a facility capacity of true": Bad("POST", "/api/v1/units/{unit}/facilities", 422, "capacity",
                                       json={**HALL, "capacity": True}, who="admin"),
    "a facility footprint holding a NUL": Bad("PATCH", "/api/v1/facilities/{facility}", 422, "footprint",
                                              json={"footprint": {"type": "Polygon\x00", "coordinates": []}},
                                              who="admin"),
    "a booking quantity past int4": Bad("POST", "/api/v1/facilities/{facility}/bookings", 422, "quantity",
                                        json={"starts_at": "2026-03-02T10:00:00+08:00",
                                              "ends_at": "2026-03-02T11:00:00+08:00", "quantity": BIG},
                                        who="admin"),
    "a booking community with a NUL": Bad("POST", "/api/v1/facilities/{facility}/bookings", 422, "community_code",
                                          json={"community_code": "4331\x00", "starts_at": "2026-03-02T10:00:00+08:00",
                                                "ends_at": "2026-03-02T11:00:00+08:00"}, who="admin"),
    "a calendar from year 1": Bad("GET", "/api/v1/facilities/{facility}/calendar", 422, "start",
                                  params={"start": "0001-01-01T00:00:00Z", "end": "0001-01-02T00:00:00Z"}),
    # -- Open311 filing
    "an Open311 latitude of true": Bad("POST", "/open311/v2/requests.json", (400, 422), "lat",
                                       json={"service_code": "09006", "lat": True, "long": INSIDE_A[0]},
                                       who="grid_worker_key"),
    "an Open311 description with a NUL": Bad("POST", "/open311/v2/requests.json", (400, 422), "description",
                                             data={"service_code": "09006", "lat": str(INSIDE_A[1]),
                                                   "long": str(INSIDE_A[0]), "description": "\x00"},
                                             who="grid_worker_key"),
    "an Open311 body that is not UTF-8": Bad("POST", "/open311/v2/requests.json", (400, 422), "body",
                                             content=b'{"service_code": "\xff"}', who="grid_worker_key",
                                             headers={"content-type": "application/json"}),
    # -- photos
    "a photo that is no image": Bad("POST", f"{URL}/{{incident}}/photos", 422, "photos[0]",
                                    files={"photos": ("a.jpg", b"GIF89a not really", "image/jpeg")}),
    "a photo cut short": Bad("POST", f"{URL}/{{incident}}/photos", 422, "truncated",
                             files={"photos": ("a.png", PNG[: len(PNG) // 2], "image/png")}),
    "a photo of an unknown kind": Bad("POST", f"{URL}/{{incident}}/photos", 422, "kind", data={"kind": "during"},
                                      files={"photos": ("a.png", PNG, "image/png")}),
    # -- the bulk import
    "an import row with a NUL": Bad("POST", f"{URL}/import", 422, "description",
                                    files={"file": ("a.csv", f"lon,lat,category,description\n{INSIDE_A[0]},"
                                                    f"{INSIDE_A[1]},09006,a\x00b\n".encode(), "text/csv")}),
    "an import row with a longitude of true": Bad("POST", f"{URL}/import", 422, "lon",
                                                  files={"file": ("a.geojson", json.dumps({
                                                      "type": "FeatureCollection", "features": [{
                                                          "type": "Feature", "properties": {"category": "09006"},
                                                          "geometry": {"type": "Point",
                                                                       "coordinates": [True, INSIDE_A[1]]}}]}).encode(),
                                                      "application/geo+json")}),
    "an import row in year 1": Bad("POST", f"{URL}/import", 422, "reported_at",
                                   files={"file": ("a.csv", f"lon,lat,category,reported_at\n{INSIDE_A[0]},"
                                                   f"{INSIDE_A[1]},09006,0001-01-01T00:00:00+08:00\n".encode(),
                                                   "text/csv")}),
}


TABLES = (Incident, IncidentEvent, IncidentPhoto, Unit, Facility, Booking, User, ApiKey)


def counts(db: Session) -> dict[str, int]:
    return {model.__name__: db.scalar(select(func.count()).select_from(model)) or 0 for model in TABLES}


@pytest.fixture
def world(db: Session, street_world: StreetWorld, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=street_world.grid_worker).incident
    unit = facilities.create_unit(db, UnitSpec(name="州政府机关", kind="government"))
    facility = facilities.create_facility(db, unit=unit, spec=facility_spec(at=INSIDE_A))
    db.flush()
    return {"incident": incident.id, "unit": unit.id, "facility": facility.id, "photo": 1}


def test_the_catalogue_holds_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_a_clear_4xx_and_writes_nothing(
        client: TestClient, db: Session, street_world: StreetWorld, world: dict[str, Any],
        auth_headers: Callable[[User], dict[str, str]], api_key_headers: Callable[[User], dict[str, str]],
        name: str) -> None:
    case = CASES[name]
    if case.who == "anonymous":
        headers: dict[str, str] = {}
    elif case.who == "grid_worker_key":
        headers = {}
        case_params = {"api_key": api_key_headers(street_world.grid_worker)["X-API-Key"]}
    else:
        headers = auth_headers(street_world.user(case.who))
    params = dict(case.params or {})
    if case.who == "grid_worker_key":
        params.update(case_params)
    db.flush()
    before = counts(db)
    path = case.path.replace("{{", "{").replace("}}", "}").format(**world)
    response = client.request(case.method, path, headers={**headers, **case.headers}, params=params or None,
                              json=case.json, content=case.content, data=case.data, files=case.files)
    expected = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in expected, f"{name}: {response.status_code} {response.text[:500]}"
    assert case.says.lower() in response.text.lower(), f"{name}: {response.text[:500]}"
    assert "Traceback" not in response.text and "<class '" not in response.text and " object at 0x" not in response.text
    db.expire_all()
    assert counts(db) == before, name


# -- the CLI's import ---------------------------------------------------------------------------------------------
CLI_CASES = {
    "a NUL in a description": ("a.csv", f"lon,lat,category,description\n{INSIDE_A[0]},{INSIDE_A[1]},09006,a\x00b\n",
                               "description"),
    "a report in year 1": ("a.csv", f"lon,lat,category,reported_at\n{INSIDE_A[0]},{INSIDE_A[1]},09006,"
                           "0001-01-01T00:00:00+08:00\n", "reported_at"),
    "a longitude of true": ("a.geojson", json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"category": "09006"},
        "geometry": {"type": "Point", "coordinates": [True, INSIDE_A[1]]}}]}), "lon"),
    "a longitude past the world": ("a.csv", f"lon,lat,category\n1e400,{INSIDE_A[1]},09006\n", "lon"),
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_the_cli_import_refuses_bad_rows_by_name_and_writes_nothing(
        cli: Any, db: Session, street_world: StreetWorld, tmp_path: Path, name: str) -> None:
    file_name, text, says = CLI_CASES[name]
    path = tmp_path / file_name
    path.write_text(text, encoding="utf-8")
    db.flush()
    before = counts(db)
    result = cli("incidents", "import", path)
    assert result.exit_code == 1, result.output
    assert says in result.output and "Traceback" not in result.output, result.output
    db.expire_all()
    assert counts(db) == before
