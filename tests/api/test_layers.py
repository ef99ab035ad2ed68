"""api.routes.layers: the layer catalogue and GeoJSON of one layer in a bbox, for signed-in users."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.models import Role, User
from tests.factories import WORLD_CELLS, add_world
from tests.layer_world import INCIDENT_IDS, add_layer_world

LAYERS = "/api/v1/layers"
Headers = dict[str, str]


@pytest.fixture
def headers(db: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers]) -> Headers:
    add_world(db)
    return auth_headers(make_user(Role.grid_worker))


def test_the_catalogue_lists_the_published_layers_with_titles_and_styles(
    client: TestClient, headers: Headers
) -> None:
    response = client.get(LAYERS, headers=headers)
    assert response.status_code == 200, response.text
    layers = {layer["id"]: layer for layer in response.json()}
    assert {"subdistricts", "communities", "compounds", "grid_cells"} <= set(layers)
    cells = layers["grid_cells"]
    assert (cells["title"], cells["title_en"]) == ("单元网格", "Unit grid cells")
    assert cells["geometry_type"] == "MultiPolygon"
    assert "code" in [field["name"] for field in cells["fields"]]
    assert "color" in cells["style"]


@pytest.mark.parametrize("path", [LAYERS, f"{LAYERS}/grid_cells"])
def test_layers_need_a_signed_in_user(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


def test_a_layer_comes_as_geojson_of_the_features_in_the_bbox(client: TestClient, headers: Headers) -> None:
    # The world's cells lie in a row from 109.700 E; this box holds the first two.
    response = client.get(f"{LAYERS}/grid_cells", params={"bbox": "109.7001,28.2501,109.7015,28.2509"},
                          headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    body = json.loads(response.content)
    assert body["type"] == "FeatureCollection"
    assert sorted(f["properties"]["code"] for f in body["features"]) == WORLD_CELLS[:2]
    assert response.headers["X-Returned"] == "2"


def test_coordinates_are_rounded_for_the_screen(client: TestClient, headers: Headers) -> None:
    body = client.get(f"{LAYERS}/communities", headers=headers).json()
    coordinates = json.dumps([f["geometry"]["coordinates"] for f in body["features"]])
    decimals = max(len(number.split(".")[1]) for number in coordinates.replace("[", " ").replace("]", " ")
                   .replace(",", " ").split() if "." in number)
    assert decimals <= 6


def test_limit_caps_the_features_returned(client: TestClient, headers: Headers) -> None:
    response = client.get(f"{LAYERS}/grid_cells", params={"limit": 1}, headers=headers)
    assert len(response.json()["features"]) == 1
    assert response.headers["X-Limit"] == "1"


def test_an_unknown_layer_is_a_404_pointing_to_the_catalogue(client: TestClient, headers: Headers) -> None:
    response = client.get(f"{LAYERS}/roads", headers=headers)
    assert response.status_code == 404
    assert "GET /api/v1/layers" in response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        {"bbox": "109.70,28.25,109.71"},  # three numbers
        {"bbox": "28.25,109.70,28.26,109.71"},  # lat,lon: 109.70 is no latitude
        {"bbox": "109.71,28.25,109.70,28.26"},  # min > max
        {"limit": 0},
        {"limit": 100_000},
        {"bbx": "109.70,28.25,109.71,28.26"},  # a typo must not silently return everything
        {"datetime": "yesterday"},
        {"datetime": "2026-03-02/2026-03-01"},  # start after end
    ],
)
def test_bad_query_parameters_are_a_422(client: TestClient, headers: Headers, params: dict) -> None:
    response = client.get(f"{LAYERS}/grid_cells", params=params, headers=headers)
    assert response.status_code == 422, response.text


def test_a_datetime_keeps_the_incidents_reported_in_it(
    db: Session, client: TestClient, make_user: Callable[..., User], auth_headers: Callable[[User], Headers]
) -> None:
    add_layer_world(db)  # three cases reported 1, 2 and 3 days ago
    headers = auth_headers(make_user(Role.planner))
    since = (datetime.now(UTC) - timedelta(hours=36)).isoformat()
    response = client.get(f"{LAYERS}/incidents", params={"datetime": f"{since}/.."}, headers=headers)
    assert response.status_code == 200, response.text
    assert [f["id"] for f in response.json()["features"]] == INCIDENT_IDS[:1]
    everything = client.get(f"{LAYERS}/incidents", headers=headers).json()["features"]
    assert sorted(f["id"] for f in everything) == INCIDENT_IDS
