"""The Open311 GeoReport v2 facade, driven the way 311 clients drive it.

Reads go through ``georeport`` (PyPI), a maintained Python GeoReport v2 client, against a real uvicorn
server on 127.0.0.1 serving the test app (its sessions join the test transaction, so nothing persists).
That client has no POST, so filing is done with ``httpx`` sending a form, as FixMyStreet-style clients do;
XML is parsed with the standard library. Other GeoReport clients on PyPI (``three``, ``open311``) are
Python 2 only.
"""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from georeport import GeoReport
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from gis.incidents import service as incidents
from gis.models import Incident, User
from gis.people import users
from gis.settings import Settings
from tests.api.test_incidents_api import image
from tests.gis.conftest import COMMUNITY_A, INSIDE_A, INSIDE_B, StreetWorld, street_world

__all__ = ["street_world"]

V2 = "/open311/v2"


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for clients that open their own connections."""
    with serving(app) as base:
        yield base


@pytest.fixture
def new_york_server(settings: Settings, sessions: sessionmaker[Session]) -> Iterator[str]:
    """The same, for a deployment in New York (``WANGGE_TIMEZONE=America/New_York``)."""
    with serving(create_app(settings.model_copy(update={"timezone": "America/New_York"}),
                            sessions=sessions)) as base:
        yield base


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def key(db: Session, street_world: StreetWorld) -> Callable[[str], str]:
    """A fresh API key of the world's user of a role (``officer_b``: the community-B team's officer)."""
    def make(who: str) -> str:
        user: User = street_world.officer_b if who == "officer_b" else street_world.user(who)
        return users.create_api_key(db, user)

    return make


def file_request(base: str, fmt: str = "json", **fields: Any) -> httpx.Response:
    form = {"service_code": "09006", "lat": str(INSIDE_A[1]), "long": str(INSIDE_A[0]),
            "description": "菜市场门口占道经营", "email": "resident@example.org", "first_name": "三",
            "last_name": "张", "phone": "13800000000", **fields}
    return httpx.post(f"{base}{V2}/requests.{fmt}", data={k: v for k, v in form.items() if v is not None})


def xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def incident_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Incident)) or 0


# -- discovery and services -------------------------------------------------------------------------------------
def test_discovery_names_the_v2_endpoint_and_both_formats(server) -> None:
    document = httpx.get(f"{server}{V2}/discovery.json").json()
    endpoint = document["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{server}{V2}"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(httpx.get(f"{server}{V2}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_services_are_the_categories_by_national_code(server, street_world, fmt) -> None:
    client = GeoReport(f"{server}{V2}", output_format=fmt)
    services = {s["service_code"]: s for s in client.get_service_list()}
    assert services["09006"]["service_name"] == "占道经营"
    assert services["09006"]["group"] == "街面秩序类"
    assert str(services["09006"]["metadata"]).lower() == "false" and services["09006"]["type"] == "realtime"
    assert len(services) == 250
    definition = client.get_service_definition("09006")
    assert definition["service_code"] == "09006"


def test_an_unknown_service_definition_is_a_404_in_the_error_format(server) -> None:
    response = httpx.get(f"{server}{V2}/services/99999.json")
    assert response.status_code == 404
    assert response.json() == [{"code": 404, "description": "no incident category '99999'"}]
    root = xml(httpx.get(f"{server}{V2}/services/99999.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"  # type: ignore[union-attr]


# -- filing ------------------------------------------------------------------------------------------------------
def test_a_request_is_filed_with_an_api_key_and_followed_with_the_client(server, key, db, street_world) -> None:
    response = file_request(server, api_key=key("grid_worker"))
    assert response.status_code == 200, response.text
    [filed] = response.json()
    public_id = filed["service_request_id"]
    assert public_id.startswith("JS-") and public_id in filed["service_notice"]
    incident = db.scalar(select(Incident).where(Incident.public_id == public_id))
    assert incident is not None and incident.source == "resident" and incident.community_code == COMMUNITY_A
    assert incident.reporter_id == street_world.grid_worker.id
    assert "13800000000" not in (incident.description or "")  # contact fields are not stored

    for fmt in ("json", "xml"):
        case = GeoReport(f"{server}{V2}", output_format=fmt).get_service_request(public_id)
        assert case["service_request_id"] == public_id
        assert case["status"] == "open" and case["service_code"] == "09006"
        assert float(case["lat"]) == pytest.approx(INSIDE_A[1]) and float(case["long"]) == pytest.approx(INSIDE_A[0])
        assert case["requested_datetime"].endswith("+08:00")


def test_times_carry_the_city_s_own_offset(new_york_server, db, street_world, settings) -> None:
    new_york = settings.model_copy(update={"timezone": "America/New_York"})
    reported = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=street_world.grid_worker, reported_at=reported,
                                now=reported + timedelta(hours=1), settings=new_york).incident
    db.flush()
    case = GeoReport(f"{new_york_server}{V2}").get_service_request(incident.public_id)
    assert case["service_request_id"] == f"JS-2026-{incident.id:06d}"  # 2027 in Beijing
    assert case["requested_datetime"] == "2026-12-31T23:30:00-05:00"


def test_a_filed_request_answers_in_xml_when_asked(server, key) -> None:
    root = xml(file_request(server, "xml", api_key=key("grid_worker")))
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text.startswith("JS-")  # type: ignore[union-attr]


def test_photos_may_come_as_multipart_media(server, key, db) -> None:
    form = {"service_code": "09006", "lat": str(INSIDE_A[1]), "long": str(INSIDE_A[0]), "api_key": key("supervisor")}
    response = httpx.post(f"{server}{V2}/requests.json", data=form,
                          files={"media": ("photo.jpg", image(), "image/jpeg")})
    assert response.status_code == 200, response.text
    public_id = response.json()[0]["service_request_id"]
    incident = db.scalar(select(Incident).where(Incident.public_id == public_id))
    db.refresh(incident)
    assert [p.content_type for p in incident.photos] == ["image/jpeg"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"api_key": None}, 401, "api_key: required"),
    ({"api_key": "wg_not-a-real-key-at-all"}, 401, "not valid"),
    ({"service_code": "99999"}, 400, "unknown code"),
    ({"service_code": None}, 400, "service_code: required"),
    ({"lat": None, "long": None, "address_string": "人民路1号"}, 400, "does not geocode"),
    ({"lat": "28.305", "long": "109.75"}, 400, "outside every community"),
    ({"lat": str(INSIDE_A[0]), "long": str(INSIDE_A[1])}, 400, "swapped"),
    ({"lat": "NaN"}, 400, "finite"),
    ({"description": "长" * 4001}, 400, "description"),
])
def test_a_bad_filing_is_refused_in_the_error_format_and_writes_nothing(server, key, db, fields, status,
                                                                        message) -> None:
    fields = {"api_key": key("grid_worker"), **fields}
    for fmt in ("json", "xml"):
        response = file_request(server, fmt, **fields)
        assert response.status_code == status, response.text
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == status and message in error["description"]
        else:
            root = xml(response)
            assert root.tag == "errors" and message in (root.find("error/description").text or "")  # type: ignore[union-attr]
    assert incident_count(db) == 0


def test_a_planner_may_not_file(server, key, db) -> None:
    response = file_request(server, api_key=key("planner"))
    assert response.status_code == 403 and "incident.create" in response.json()[0]["description"]
    assert incident_count(db) == 0


# -- following ---------------------------------------------------------------------------------------------------
def _filed(server: str, api_key: str, **fields: Any) -> str:
    response = file_request(server, api_key=api_key, **fields)
    assert response.status_code == 200, response.text
    return str(response.json()[0]["service_request_id"])


def test_anonymous_reads_get_the_public_view_and_a_key_the_owner_view(server, key) -> None:
    public_id = _filed(server, key("grid_worker"), description="<b>张三</b> 门口堆放杂物", address_string="人民路1号")
    anonymous = httpx.get(f"{server}{V2}/requests/{public_id}.json").json()[0]
    assert anonymous["description"] is None and anonymous["address"] is None
    staff = httpx.get(f"{server}{V2}/requests/{public_id}.json", params={"api_key": key("supervisor")}).json()[0]
    assert staff["description"] == "<b>张三</b> 门口堆放杂物" and staff["address"] == "人民路1号"
    root = xml(httpx.get(f"{server}{V2}/requests/{public_id}.xml", params={"api_key": key("supervisor")}))
    assert root.find("request/description").text == "<b>张三</b> 门口堆放杂物"  # type: ignore[union-attr]
    assert b"<b>" not in httpx.get(f"{server}{V2}/requests/{public_id}.xml",
                                   params={"api_key": key("supervisor")}).content  # escaped, not markup


def test_status_deadline_and_closing_show_through_georeport(server, key, db, street_world) -> None:
    from gis.incidents import workflow

    public_id = _filed(server, key("grid_worker"))
    incident = db.scalar(select(Incident).where(Incident.public_id == public_id))
    sup = street_world.supervisor
    workflow.transition(db, incident=incident, to="register", actor=sup, expected_version=1)
    workflow.transition(db, incident=incident, to="dispatch", actor=sup, expected_version=2)
    client = GeoReport(f"{server}{V2}")
    case = client.get_service_request(public_id)
    assert case["status"] == "open" and case["status_notes"].startswith("派遣")
    assert case["expected_datetime"] is not None and case["agency_responsible"] == street_world.subdistrict_team.name
    workflow.transition(db, incident=incident, to="void", actor=sup, expected_version=3, note="重复上报")
    db.flush()
    case = client.get_service_request(public_id)
    assert case["status"] == "closed" and case["status_notes"].startswith("作废")
    assert "重复上报" not in case["status_notes"]  # the note is for those who may read the case


def test_requests_are_filtered_by_status_service_code_ids_and_dates(server, key, db, street_world) -> None:
    from gis.incidents import workflow

    worker = key("grid_worker")
    stall, shed, other = (_filed(server, worker), _filed(server, worker, service_code="06001"),
                          _filed(server, worker, lat=str(INSIDE_B[1]), long=str(INSIDE_B[0])))
    incident = db.scalar(select(Incident).where(Incident.public_id == shed))
    workflow.transition(db, incident=incident, to="reject", actor=street_world.supervisor, expected_version=1,
                        note="不属于城管")
    client = GeoReport(f"{server}{V2}")

    def found(**filters: str) -> list[str]:
        return sorted(r["service_request_id"] for r in client.get_service_requests(**filters))

    assert found() == sorted([stall, shed, other])
    assert found(status="closed") == [shed]
    assert found(status="open") == sorted([stall, other])
    assert found(service_code="09006") == sorted([stall, other])
    assert found(service_request_id=f"{stall},{other},JS-2026-999999") == sorted([stall, other])
    assert found(start_date="2999-01-01T00:00:00Z") == []
    xml_client = GeoReport(f"{server}{V2}", output_format="xml")
    listed = xml_client.get_service_requests(status="closed")  # one request: xmltodict gives a dict, not a list
    assert (listed["service_request_id"] if isinstance(listed, dict) else listed[0]["service_request_id"]) == shed


def test_a_key_sees_only_its_owner_s_reach(server, key) -> None:
    in_a = _filed(server, key("grid_worker"))
    in_b = _filed(server, key("grid_worker"), lat=str(INSIDE_B[1]), long=str(INSIDE_B[0]))
    listed = httpx.get(f"{server}{V2}/requests.json", params={"api_key": key("officer_b")}).json()
    assert [r["service_request_id"] for r in listed] == [in_b]
    # Asked for by id, a case outside the key's reach answers the public view, as without a key: the key
    # learns nothing more, not even that the case lies outside its owner's reach.
    public = httpx.get(f"{server}{V2}/requests/{in_a}.json").json()
    outside = httpx.get(f"{server}{V2}/requests/{in_a}.json", params={"api_key": key("officer_b")})
    assert outside.status_code == 200 and outside.json() == public
    assert "description" not in public[0] or not public[0]["description"]


@pytest.mark.parametrize(("params", "message"), [
    ({"status": "pending"}, "neither open nor closed"),
    ({"start_date": "yesterday"}, "start_date: not a W3C date-time"),
    ({"start_date": "2026-03-01T00:00:00"}, "time zone"),
    ({"start_date": "2026-03-02T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}, "after end_date"),
    ({"page_size": "5000"}, "page_size"),
    ({"api_key": "wg_nonsense-key"}, "not valid"),
])
def test_bad_request_queries_are_errors_in_the_format(server, params, message) -> None:
    response = httpx.get(f"{server}{V2}/requests.json", params=params)
    assert response.status_code in (400, 401), response.text
    assert message in response.json()[0]["description"]


def test_an_unknown_request_and_an_unknown_format_are_errors(server) -> None:
    missing = httpx.get(f"{server}{V2}/requests/JS-2026-999999.xml")
    assert missing.status_code == 404 and xml(missing).find("error/code").text == "404"  # type: ignore[union-attr]
    assert httpx.get(f"{server}{V2}/services.yaml").status_code == 400
