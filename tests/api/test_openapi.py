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
