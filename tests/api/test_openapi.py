"""``api.openapi``: the document names the errors each route answers, in the shape they come (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def test_every_route_that_needs_a_caller_documents_401_and_403(client: TestClient, document) -> None:
    for method, path, op in operations(document):
        anonymous = client.request(method.upper(), path.replace("{fmt}", "json"))
        if anonymous.status_code == 401:
            assert {"401", "403"} <= set(op["responses"]), (method, path)


def test_versioned_moves_document_409_and_428_and_paths_404(document) -> None:
    moves = document["paths"]["/api/v1/incidents/{ref}/transitions"]["post"]["responses"]
    assert {"401", "403", "404", "409", "413", "415", "422", "428", "503"} <= set(moves)
    assert "429" in document["paths"]["/api/v1/auth/token"]["post"]["responses"]


def test_the_422_is_documented_as_it_is_returned(client: TestClient, document, auth_headers, make_user) -> None:
    schema = document["components"]["schemas"]["HTTPValidationError"]
    returned = client.get("/api/v1/incidents", params={"limit": "0"}, headers=auth_headers(make_user("supervisor")))
    assert returned.status_code == 422
    assert set(schema["required"]) <= set(returned.json()) and set(returned.json()) <= set(schema["properties"])


def test_open311_documents_xml_beside_json(document) -> None:
    services = document["paths"]["/open311/v2/services.{fmt}"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/xml"} <= set(services)


def test_a_422_is_documented_as_either_shape_it_comes_in(client: TestClient, document, auth_headers,
                                                         make_user) -> None:
    """A domain 422 (``InvalidInput`` naming the field) is no FastAPI field list: the document says both."""
    answer = document["paths"]["/api/v1/evaluation"]["get"]["responses"]["422"]["content"]["application/json"]
    assert answer["schema"] == {"$ref": "#/components/schemas/UnprocessableContent"}
    refs = {option["$ref"] for option in document["components"]["schemas"]["UnprocessableContent"]["anyOf"]}
    assert refs == {"#/components/schemas/HTTPValidationError", "#/components/schemas/Error"}
    returned = client.get("/api/v1/evaluation", params={"by": "planet"}, headers=auth_headers(make_user("supervisor")))
    assert returned.status_code == 422 and isinstance(returned.json()["detail"], str)


def test_open311_errors_are_documented_as_georeports_list_in_json_and_xml(client: TestClient, document) -> None:
    responses = document["paths"]["/open311/v2/requests/{service_request_id}.{fmt}"]["get"]["responses"]
    for status in ("400", "401", "404"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Open311Errors"}
        assert "text/xml" in responses[status]["content"]
    returned = client.get("/open311/v2/requests/999999.json")
    assert returned.status_code == 404 and returned.json()[0]["code"] == 404


def test_open311_filing_documents_its_form_body(document) -> None:
    body = document["paths"]["/open311/v2/requests.{fmt}"]["post"]["requestBody"]["content"]
    assert {"application/x-www-form-urlencoded", "multipart/form-data"} <= set(body)
    assert {"413", "415"} <= set(document["paths"]["/open311/v2/requests.{fmt}"]["post"]["responses"])


def test_routes_that_read_a_token_document_401_even_where_none_is_needed(document) -> None:
    assert "401" in document["paths"]["/open311/v2/requests.{fmt}"]["get"]["responses"]


def test_a_throttled_log_in_answers_with_a_code_like_every_error(client: TestClient) -> None:
    for _ in range(6):
        response = client.post("/api/v1/auth/token", data={"username": "nobody-at-all", "password": "wrong-password"})
    assert response.status_code == 429
    assert response.json()["code"] == "TooManyAttempts" and response.headers["Retry-After"]
