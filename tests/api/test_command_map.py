"""/map and /api/v1/map/classes: the page, and class bounds equal to mapclassify over the database's counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.models import User
from gis.people import users
from maps.classes import classify
from tests.api.test_tiles import add_tile_world
from tests.factories import WORLD_CELLS

Headers = dict[str, str]
VIEW = {"bbox": "109.699,28.249,109.704,28.252", "z": "16"}


@pytest.fixture
def world(db: Session) -> Session:
    return add_tile_world(db)  # 1 + 2 cases in the first two cells


def test_the_page_loads_without_signing_in_and_carries_no_data(client: TestClient, world: Session) -> None:
    answer = client.get("/map")
    assert answer.status_code == 200 and "WanggeMap.start" in answer.text
    assert WORLD_CELLS[0] not in answer.text


def test_class_bounds_are_mapclassifys_over_the_views_counts(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    headers = auth_headers(make_user("supervisor"))
    for scheme in ("quantiles", "fisher_jenks", "equal_interval"):
        body = client.get("/api/v1/map/classes", headers=headers, params={**VIEW, "scheme": scheme, "k": 3,
                                                                          "field": "incidents"}).json()
        expected = classify([1, 2, 0], scheme, 3)
        assert (body["bounds"], body["counts"], body["level"]) == (expected.bounds, expected.counts, "cell")
    user = client.get("/api/v1/map/classes", headers=headers,
                      params={**VIEW, "scheme": "user", "breaks": "0,1", "field": "incidents"}).json()
    assert (user["bounds"], user["counts"]) == ([0, 1, 2], [1, 1, 1])
    filtered = client.get("/api/v1/map/classes", headers=headers,
                          params={**VIEW, "field": "incidents", "category": "01001", "k": 2}).json()
    assert filtered["bounds"] == classify([0, 1, 0], "quantiles", 2).bounds


def test_a_grid_workers_classes_count_only_their_cases(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    worker = make_user("grid_worker")
    users.assign_cells(world, worker, [WORLD_CELLS[0]])
    body = client.get("/api/v1/map/classes", headers=auth_headers(worker),
                      params={**VIEW, "field": "incidents", "k": 2}).json()
    assert body["bounds"] == classify([1, 0, 0], "quantiles", 2).bounds


@pytest.mark.parametrize(("params", "field"), [
    ({"field": "code"}, "field"), ({"scheme": "pretty"}, "scheme"), ({"scheme": "user", "breaks": "a"}, "breaks"),
    ({"scheme": "user"}, "breaks"), ({"scheme": "user", "breaks": ",".join(["1"] * 10_000)}, "breaks"),
    ({"scheme": "user", "breaks": "1,inf"}, "breaks"), ({"k": 12}, "k"), ({"bbox": None}, "bbox"), ({"z": None}, "z"),
    ({"layer": "nope"}, None),
])
def test_bad_class_requests_are_4xx_naming_the_field(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
    params: dict[str, object], field: str | None,
) -> None:
    query = {k: v for k, v in {**VIEW, **params}.items() if v is not None}
    answer = client.get("/api/v1/map/classes", headers=auth_headers(make_user("supervisor")), params=query)
    assert 400 <= answer.status_code < 500, answer.text
    if field:
        assert field in answer.text


def test_take_away_maps_from_the_api_follow_the_readers_rights(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    centre = auth_headers(make_user("supervisor"))
    html = client.get("/api/v1/map/density.html", headers=centre, params={"area": WORLD_CELLS[0][:12]})
    assert html.status_code == 200 and WORLD_CELLS[1] in html.text and "<script src=" not in html.text
    png = client.get("/api/v1/map/density.png", headers=centre, params={"level": "community"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    manager = auth_headers(make_user("unit_manager"))
    assert client.get("/api/v1/map/density.html", headers=manager).status_code == 403
    assert client.get("/api/v1/map/sharing.png", headers=manager).status_code == 200
    assert client.get("/api/v1/map/heat.png", headers=centre).status_code == 422
