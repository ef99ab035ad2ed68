"""/tiles: vector tiles of the layers over HTTP — checked input, the caller's scope, caching, TileJSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.incidents.categories import load_categories
from gis.layers.tiles import tile_for
from gis.models import User
from gis.people import users
from tests.factories import WORLD_CELLS, add_world
from tests.gis.layers.test_tiles import LAT, add_incident, read_tile

Headers = dict[str, str]
TILE = tile_for(109.7015, LAT, 16)
URL = f"/tiles/incident_density/{TILE.z}/{TILE.x}/{TILE.y}.mvt"
POINTS = f"/tiles/incidents/{TILE.z}/{TILE.x}/{TILE.y}.mvt"


def add_tile_world(db: Session) -> Session:
    """The test world's cells with one case in the first and two (of two categories) in the second."""
    add_world(db)
    load_categories(db)
    add_incident(db, WORLD_CELLS[0], 109.7004)
    add_incident(db, WORLD_CELLS[1], 109.7015, category="01001")
    add_incident(db, WORLD_CELLS[1], 109.7016)
    return db


@pytest.fixture
def world(db: Session) -> Session:
    return add_tile_world(db)


def _counts(client: TestClient, url: str, headers: Headers, tmp_path: Path, layer: str = "incident_density",
            **params: str) -> dict[str, int]:
    answer = client.get(url, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    if not answer.content:
        return {}
    frame = read_tile(tmp_path / str(len(list(tmp_path.iterdir()))), answer.content, TILE, layer)
    if layer == "incidents":
        return frame["cell_code"].value_counts().to_dict()
    return dict(zip(frame["code"], frame["incidents"], strict=True))


def test_tiles_need_a_signed_in_caller(client: TestClient, world: Session) -> None:
    assert client.get(URL).status_code == 401


def test_the_centre_sees_every_count_and_a_grid_worker_only_their_cells(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
    tmp_path: Path,
) -> None:
    centre = auth_headers(make_user("supervisor"))
    worker = make_user("grid_worker")
    users.assign_cells(world, worker, [WORLD_CELLS[0]])
    mine = auth_headers(worker)
    assert _counts(client, URL, centre, tmp_path)[WORLD_CELLS[1]] == 2
    theirs = _counts(client, URL, mine, tmp_path)
    assert (theirs[WORLD_CELLS[0]], theirs[WORLD_CELLS[1]]) == (1, 0)
    assert _counts(client, POINTS, centre, tmp_path, "incidents") == {WORLD_CELLS[0]: 1, WORLD_CELLS[1]: 2}
    assert _counts(client, POINTS, mine, tmp_path, "incidents") == {WORLD_CELLS[0]: 1}
    planner = auth_headers(make_user("planner"))  # the de-personalised view: every count, no reporter
    assert _counts(client, URL, planner, tmp_path)[WORLD_CELLS[1]] == 2


def test_a_role_that_reads_no_incident_gets_no_density_but_boundaries(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    manager = auth_headers(make_user("unit_manager"))
    assert client.get(URL, headers=manager).status_code == 403
    assert client.get(f"/tiles/communities/{TILE.z}/{TILE.x}/{TILE.y}.mvt", headers=manager).status_code == 200


def test_the_incident_filters_are_the_lists_own(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
    tmp_path: Path,
) -> None:
    centre = auth_headers(make_user("supervisor"))
    assert _counts(client, URL, centre, tmp_path, category="01001")[WORLD_CELLS[1]] == 1
    assert _counts(client, URL, centre, tmp_path, status="closed")[WORLD_CELLS[1]] == 0
    listed = client.get("/api/v1/incidents", headers=centre, params={"category": "09006", "cell": WORLD_CELLS[1]})
    assert _counts(client, URL, centre, tmp_path, category="09006")[WORLD_CELLS[1]] == len(listed.json()["items"])


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/tiles/incident_density/23/0/0.mvt", 422, "z"),
        ("/tiles/incident_density/3/8/0.mvt", 422, "x"),
        ("/tiles/incident_density/3/0/-1.mvt", 422, "y"),
        ("/tiles/incident_density/a/0/0.mvt", 422, "z"),
        ("/tiles/nope/3/0/0.mvt", 404, None),
        ("/tiles/communities/3/0/0.mvt?category=01001", 422, "category"),
        ("/tiles/incident_density/3/0/0.mvt?categroy=01001", 422, "categroy"),
        ("/tiles/incident_density/3/0/0.mvt?status=nonsense", 422, "status"),
        ("/tiles/facility_sharing/14/0/0.mvt?radius_m=10", 422, "radius_m"),
    ],
)
def test_bad_requests_are_clear_4xx(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
    path: str, status: int, field: str | None,
) -> None:
    answer = client.get(path, headers=auth_headers(make_user("supervisor")))
    assert answer.status_code == status, answer.text
    if field:
        assert field in answer.text


def test_tiles_carry_an_etag_and_answer_304_to_it(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    headers = auth_headers(make_user("supervisor"))
    first = client.get(URL, headers=headers)
    assert first.headers["cache-control"].startswith("private")
    again = client.get(URL, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content
    other = client.get(URL, headers={**headers, "If-None-Match": first.headers["etag"]}, params={"category": "01001"})
    assert other.status_code == 200 and other.headers["etag"] != first.headers["etag"]


def test_below_a_layers_tile_zoom_the_tile_is_empty(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    tile = tile_for(109.7015, LAT, 10)
    answer = client.get(f"/tiles/grid_cells/10/{tile.x}/{tile.y}.mvt", headers=auth_headers(make_user("supervisor")))
    assert answer.status_code == 200 and answer.content == b""


def test_tilejson_names_the_tiles_with_the_same_filters(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
) -> None:
    answer = client.get("/tiles/incident_density.json", headers=auth_headers(make_user("supervisor")),
                        params={"category": "01001"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].endswith("/tiles/incident_density/{z}/{x}/{y}.mvt?category=01001")
    assert body["vector_layers"][0]["id"] == "incident_density"
    assert body["vector_layers"][0]["fields"]["incidents"] == "Number"
    west, south, east, north = body["bounds"]
    assert west < 109.7005 < east and south < LAT < north


def test_a_cached_tile_is_served_again_and_a_new_case_shows_at_once(
    client: TestClient, world: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers],
    tmp_path: Path,
) -> None:
    centre = auth_headers(make_user("supervisor"))
    worker = make_user("grid_worker")
    users.assign_cells(world, worker, [WORLD_CELLS[0]])
    mine = auth_headers(worker)
    assert _counts(client, URL, centre, tmp_path)[WORLD_CELLS[1]] == 2
    cache = client.app.state.tile_cache  # type: ignore[attr-defined]
    assert cache.enabled and len(cache) == 1
    assert _counts(client, URL, centre, tmp_path)[WORLD_CELLS[1]] == 2
    assert cache.hits == 1
    assert _counts(client, URL, mine, tmp_path)[WORLD_CELLS[1]] == 0  # another scope: not the centre's tile
    add_incident(world, WORLD_CELLS[1], 109.7017)  # the write moves the data version
    assert _counts(client, URL, centre, tmp_path)[WORLD_CELLS[1]] == 3
    assert cache.hits == 1
