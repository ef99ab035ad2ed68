"""The one table from domain errors to HTTP, through a probe route that raises what it is told."""

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.deps import token_config
from api.errors import DATABASE_UNAVAILABLE, STATUS, error_body, status_for
from api.main import create_app
from gis import errors
from gis.errors import Problem, ValidationFailed
from gis.people import security
from gis.settings import Settings

PROBLEMS = [
    Problem("error", "433101004001", "ring self-intersects", fix="repair with ST_MakeValid"),
    Problem("warning", "row 3", "name has trailing spaces"),
]


class PaymentMissing(errors.Conflict):
    """A subclass the table does not list: it answers as its parent."""


RAISABLE: dict[str, errors.WanggeError] = {
    "not_found": errors.NotFound("no incident 42"),
    "invalid": errors.InvalidInput("bbox: give four numbers"),
    "validation": ValidationFailed(PROBLEMS, what="boundaries.geojson"),
    "conflict": errors.Conflict("the booking overlaps another"),
    "stale": errors.StaleVersion("incident 42 changed since version 3"),
    "unauthenticated": errors.Unauthenticated("log in"),
    "forbidden": errors.Forbidden("role planner may not incident.close"),
    "outside": errors.OutsideJurisdiction("433101005001 is outside the jurisdiction"),
    "setup": errors.SetupError("PostGIS is not installed"),
    "plain": errors.WanggeError("something else"),
    "subclass": PaymentMissing("pay first"),
}

probe = APIRouter()


class Point(BaseModel):
    lon: float = Field(ge=-180, le=180)


@probe.post("/probe/point")
def take_point(point: Point) -> dict[str, float]:
    return {"lon": point.lon}


@probe.get("/probe/raise/{name}")
def raise_it(name: str) -> None:
    raise RAISABLE[name]


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(probe)
    return app


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("not_found", 404, "NotFound"),
        ("invalid", 422, "InvalidInput"),
        ("validation", 422, "ValidationFailed"),
        ("conflict", 409, "Conflict"),
        ("stale", 409, "StaleVersion"),
        ("unauthenticated", 401, "Unauthenticated"),
        ("forbidden", 403, "Forbidden"),
        ("outside", 403, "OutsideJurisdiction"),
        ("setup", 503, "SetupError"),
        ("plain", 400, "WanggeError"),
        ("subclass", 409, "PaymentMissing"),
    ],
)
def test_each_domain_error_answers_with_its_status_and_class(
    client: TestClient, name: str, status: int, code: str
) -> None:
    response = client.get(f"/probe/raise/{name}")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"].startswith(str(RAISABLE[name]).splitlines()[0])


def test_only_a_401_carries_www_authenticate(client: TestClient) -> None:
    assert client.get("/probe/raise/unauthenticated").headers["WWW-Authenticate"] == "Bearer"
    assert "WWW-Authenticate" not in client.get("/probe/raise/forbidden").headers


def test_a_failed_validation_lists_its_problems(client: TestClient) -> None:
    body = client.get("/probe/raise/validation").json()
    assert body["detail"] == "boundaries.geojson: 1 error(s), nothing was written"
    assert body["problems"] == [
        {"severity": "error", "feature": "433101004001", "message": "ring self-intersects",
         "fix": "repair with ST_MakeValid"},
        {"severity": "warning", "feature": "row 3", "message": "name has trailing spaces", "fix": ""},
    ]


def test_the_table_covers_the_base_class_so_every_domain_error_has_a_status() -> None:
    assert errors.WanggeError in STATUS
    assert status_for(PaymentMissing("x")) == 409
    assert error_body(errors.NotFound("gone")) == {
        "detail": "gone", "code": "NotFound", "message": "gone",
        "messages": {"zh-CN": "未找到所请求的对象", "en": "gone"},
    }


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_a_body_are_a_422_naming_the_field_not_a_500(client: TestClient, raw: str) -> None:
    body = '{"lon": ' + raw + '}'
    response = client.post("/probe/point", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "lon"]


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/incidents"])
def test_a_database_that_cannot_be_reached_is_a_503_that_says_to_retry(tmp_path, path: str) -> None:
    """Nothing listens on port 1: every request that needs the database gets a 503, not a 500."""
    url = "postgresql://wangge:unused@127.0.0.1:1/wangge?connect_timeout=2"
    app = create_app(Settings(database_url=url, state_dir=tmp_path), database_url=url)
    config = token_config(app.state.settings)
    token = security.create_access_token("1", secret=config.secret, minutes=5).token
    with TestClient(app) as client:
        if path.endswith("token"):
            response = client.post(path, data={"username": "someone", "password": "secret-enough"})
        else:
            response = client.post(path, json={"category_code": "09006", "lon": 109.7, "lat": 28.3},
                                   headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert (response.json()["detail"], response.json()["code"]) == (DATABASE_UNAVAILABLE, "DatabaseUnavailable")


def test_a_chinese_client_reads_the_error_in_chinese_with_the_field_and_the_same_code(client: TestClient) -> None:
    response = client.get("/probe/raise/invalid", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    body = response.json()
    assert response.status_code == 422 and body["code"] == "InvalidInput"
    assert body["detail"] == body["message"] == "输入有误，请检查后重试（地图范围）"
    assert body["messages"] == {"zh-CN": body["detail"], "en": "bbox: give four numbers"}
    assert response.headers["Content-Language"] == "zh-CN"
    english = client.get("/probe/raise/invalid", headers={"Accept-Language": "en-US,zh;q=0.5"}).json()
    assert english["detail"] == "bbox: give four numbers"


def test_a_subclass_without_its_own_sentence_gets_its_parents(client: TestClient) -> None:
    body = client.get("/probe/raise/subclass", headers={"Accept-Language": "zh"}).json()
    assert (body["code"], body["detail"]) == ("PaymentMissing", "操作与当前数据冲突")


def test_a_validation_error_names_the_field_in_chinese_and_keeps_fastapis_list(client: TestClient) -> None:
    response = client.post("/probe/point", json={"lon": 500}, headers={"Accept-Language": "zh-CN"})
    body = response.json()
    assert body["detail"][0]["loc"] == ["body", "lon"]
    assert body["message"] == "请求数据有误（经度）"
    assert body["messages"]["en"].startswith("body.lon: ")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path.replace("{fmt}", "json"))


def _json_body_routes(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, operations in document["paths"].items()
            for method, operation in operations.items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})]


def test_a_json_body_that_is_not_utf8_is_a_422_naming_the_body_on_every_route_that_takes_json(
        client: TestClient, make_user, auth_headers) -> None:
    """FastAPI answers JSON it cannot decode as text with a bare 400; the catalogue says 422, as for JSON it
    cannot parse, on every route (the create and the log-in read their bodies themselves)."""
    headers = {**auth_headers(make_user("admin")), "Content-Type": "application/json"}
    routes = _json_body_routes(client)
    assert len(routes) >= 12
    for method, path in routes:
        url = _concrete(path)
        response = client.request(method, url, content=b'{"to": "\xc0\xaf", "version": 1}', headers=headers)
        if path.startswith("/open311/"):  # GeoReport answers every bad field 400, in its own error list
            assert response.status_code == 400 and "JSON" in response.text, (method, path, response.text)
            continue
        assert response.status_code == 422, (method, path, response.status_code, response.text)
        body = response.json()
        assert body["code"] == "RequestValidationError" and body["detail"][0]["loc"][0] == "body", (path, body)


def test_a_transition_body_that_is_not_utf8_says_which_byte(client: TestClient, make_user, auth_headers) -> None:
    response = client.post("/api/v1/incidents/1/transitions", content=b'{"to": "\xc0\xaf"}',
                           headers={**auth_headers(make_user("supervisor")), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not UTF-8" in response.json()["detail"][0]["msg"] and "0xc0" in response.json()["detail"][0]["msg"]


def test_errors_raised_as_plain_http_exceptions_carry_a_stable_code_and_both_languages(client: TestClient) -> None:
    for response, code in ((client.get("/no/such/page"), "NotFound"),
                           (client.delete("/api/v1/incidents"), "MethodNotAllowed")):
        body = response.json()
        assert body["code"] == code, body
        assert set(body["messages"]) == {"zh-CN", "en"} and body["detail"] == body["messages"]["en"]


@pytest.mark.parametrize(("path", "allowed"), [
    ("/api/v1/incidents", "GET, POST"),
    ("/api/v1/incidents/import", "POST"),
    ("/api/v1/units", "GET, POST"),
    ("/api/v1/facilities/1", "GET, PATCH"),
    ("/open311/v2/requests.json", "GET, POST"),
])
def test_a_405_allows_every_method_of_the_resource_not_only_the_first_routes(
        client: TestClient, path: str, allowed: str) -> None:
    response = client.request("PUT", path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed


def test_every_documented_path_answers_an_undocumented_method_with_405_and_its_documented_allow(
        client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        declared = sorted(method.upper() for method in operations)
        unused = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in declared)
        url = _concrete(path)
        response = client.request(unused, url)
        assert response.status_code == 405, (path, unused, response.status_code)
        assert response.headers["Allow"] == ", ".join(declared), path
