"""api.routes.ogc: OGC API – Features, checked by its rules and by real clients.

The first part asks the app in the test transaction (TestClient) about each rule of Part 1: Core; the
second serves a committed copy of the same world with uvicorn (in a child process: pyogrio holds the GIL
while it pages) and lets GDAL's OAPIF driver (Debian's
ogrinfo and pyogrio's bundled GDAL) and OWSLib read it, as QGIS would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyogrio
import pytest
from fastapi.testclient import TestClient
from owslib.ogcapi.features import Features
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.routes.ogc import CONFORMANCE, MAX_LIMIT
from gis.layers import registry
from gis.models import Role
from gis.people import users
from gis.settings import Settings
from tests.factories import WORLD_CELLS, add_user
from tests.layer_world import COMPOUND_NAME, INCIDENT_IDS, SECRETS, add_layer_world
from tests.live import committed_database, serve_in_process

OGC = "/ogc"
GEOJSON = "application/geo+json"
CELLS = f"{OGC}/collections/grid_cells"


@pytest.fixture
def key(db: Session) -> str:
    """An API key of a planner (who reads every layer, de-personalised) in a world where every layer has
    features."""
    add_layer_world(db)
    return users.create_api_key(db, add_user(db, Role.planner))


def get(client: TestClient, url: str, key: str, **params: Any) -> Any:
    response = client.get(url, params={"api_key": key, **params})
    assert response.status_code == 200, response.text
    return response


def hrefs(body: dict[str, Any], rel: str) -> list[str]:
    return [link["href"] for link in body["links"] if link["rel"] == rel]


# -- the rules, one by one ------------------------------------------------------------------------------
def test_every_path_needs_a_signed_in_user(client: TestClient, key: str) -> None:
    for path in ("", "/conformance", "/collections", "/collections/grid_cells/items", "/api"):
        assert client.get(OGC + path).status_code == 401
    assert client.get(OGC, params={"api_key": "wg_not-a-key"}).status_code == 401
    assert client.get(OGC, headers={"X-API-Key": key}).status_code == 200


def test_landing_page_links_the_definition_conformance_and_collections(client: TestClient, key: str) -> None:
    body = get(client, OGC, key).json()
    rels = {link["rel"]: link for link in body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert all("type" in link for link in body["links"])
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert urlsplit(rels["data"]["href"]).path == f"{OGC}/collections"
    assert parse_qs(urlsplit(rels["data"]["href"]).query)["api_key"] == [key]  # clients follow links signed in


def test_conformance_declares_core_geojson_and_openapi(client: TestClient, key: str) -> None:
    assert set(get(client, f"{OGC}/conformance", key).json()["conformsTo"]) == set(CONFORMANCE)
    assert any(c.endswith("/conf/core") for c in CONFORMANCE) and any(c.endswith("/conf/geojson") for c in CONFORMANCE)


def test_api_definition_is_openapi_3_0_with_the_limit_range_and_every_collection(
    client: TestClient, key: str, settings: Settings
) -> None:
    response = get(client, f"{OGC}/api", key)
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = response.json()
    assert doc["openapi"].startswith("3.0.")
    params = doc["components"]["parameters"]
    assert params["limit"]["schema"]["maximum"] == MAX_LIMIT
    assert set(params["collectionId"]["schema"]["enum"]) == set(registry(settings))
    assert "/collections/{collectionId}/items/{featureId}" in doc["paths"]


def test_the_app_openapi_lists_the_ogc_operations_and_a_trailing_slash_still_finds_the_landing_page(
    client: TestClient, key: str
) -> None:
    operations = {op["operationId"] for path in client.get("/openapi.json").json()["paths"].values()
                  for op in path.values()}
    assert {"ogc_landing_page", "ogc_items", "ogc_item"} <= operations
    response = client.get(f"{OGC}/", params={"api_key": key})
    assert response.status_code == 200 and hrefs(response.json(), "data")


def test_every_registered_layer_is_a_collection_with_its_extent(
    client: TestClient, key: str, settings: Settings
) -> None:
    body = get(client, f"{OGC}/collections", key).json()
    by_id = {c["id"]: c for c in body["collections"]}
    assert list(by_id) == list(registry(settings))
    cells = by_id["grid_cells"]
    assert cells["title"] == "单元网格" and cells["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    assert cells["extent"]["spatial"]["bbox"][0] == pytest.approx([109.700, 28.250, 109.703, 28.251])
    items = [link for link in cells["links"] if link["rel"] == "items"]
    assert items[0]["type"] == GEOJSON and urlsplit(items[0]["href"]).path == f"{CELLS}/items"
    assert get(client, CELLS, key).json() == cells


def test_items_are_geojson_with_ids_counts_and_a_timestamp(client: TestClient, key: str) -> None:
    response = get(client, f"{CELLS}/items", key)
    assert response.headers["content-type"] == GEOJSON
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == WORLD_CELLS  # the cell code is the feature id
    assert (body["numberMatched"], body["numberReturned"]) == (3, 3)
    assert body["timeStamp"].endswith("Z")
    assert hrefs(body, "self") and not hrefs(body, "next")


def test_next_links_page_through_every_feature_once_and_keep_the_key(client: TestClient, key: str) -> None:
    url, seen, pages = f"{CELLS}/items?limit=2&api_key={key}", [], 0
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        assert body["numberMatched"] == 3 and body["numberReturned"] == len(body["features"]) <= 2
        nexts = hrefs(body, "next")
        url, pages = (nexts[0] if nexts else ""), pages + 1
        if url:
            assert parse_qs(urlsplit(url).query)["api_key"] == [key]
    assert seen == WORLD_CELLS and pages == 2


def test_bbox_selects_the_features_it_touches(client: TestClient, key: str) -> None:
    body = get(client, f"{CELLS}/items", key, bbox="109.7000,28.2500,109.7009,28.2509").json()
    assert [f["id"] for f in body["features"]] == WORLD_CELLS[:1] and body["numberMatched"] == 1
    six = get(client, f"{CELLS}/items", key, bbox="109.7000,28.2500,0,109.7019,28.2509,100").json()
    assert [f["id"] for f in six["features"]] == WORLD_CELLS[:2]
    assert get(client, f"{CELLS}/items", key, bbox="100,20,100.1,20.1").json()["numberMatched"] == 0


def test_a_datetime_selects_everything_in_a_layer_without_time(client: TestClient, key: str) -> None:
    for value in ("2026-01-01T00:00:00Z", "2025-01-01/..", "../2026-06-30T12:00:00+08:00", "2026-01-01"):
        assert get(client, f"{CELLS}/items", key, datetime=value).json()["numberReturned"] == 3


def test_a_datetime_keeps_the_incidents_reported_in_it(client: TestClient, key: str) -> None:
    # The layer world's three cases were reported 1, 2 and 3 days ago.
    now = datetime.now(UTC)

    def ids(value: str) -> list[str]:
        body = get(client, f"{OGC}/collections/incidents/items", key, datetime=value).json()
        assert body["numberMatched"] == body["numberReturned"]
        return sorted(f["id"] for f in body["features"])

    day_and_a_half_ago = (now - timedelta(hours=36)).isoformat()
    assert ids(f"{day_and_a_half_ago}/..") == INCIDENT_IDS[:1]
    assert ids(f"../{day_and_a_half_ago}") == INCIDENT_IDS[1:]
    assert ids(f"{(now - timedelta(hours=60)).isoformat()}/{day_and_a_half_ago}") == INCIDENT_IDS[1:2]
    assert ids("2000-01-01/2000-12-31") == []
    assert ids("2000-01-01/..") == INCIDENT_IDS


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"}, {"limit": "ten"}, {"limit": "-5"}, {"offset": "-1"},
        {"bbox": "109.7,28.2"}, {"bbox": "a,b,c,d"}, {"bbox": "109.8,28.2,109.7,28.3"}, {"bbox": "0,95,1,96"},
        {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326", "bbox": "1,2,3,4"},
        {"datetime": "yesterday"}, {"datetime": "../.."}, {"f": "html"}, {"limt": "5"},
    ],
)
def test_bad_or_unknown_parameters_are_a_400(client: TestClient, key: str, params: dict[str, str]) -> None:
    response = client.get(f"{CELLS}/items", params={"api_key": key, **params})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "BadParameter"


def test_a_limit_above_the_maximum_is_served_as_the_maximum(client: TestClient, key: str) -> None:
    body = get(client, f"{CELLS}/items", key, limit=str(MAX_LIMIT * 10)).json()
    assert body["numberReturned"] == 3
    assert parse_qs(urlsplit(hrefs(body, "self")[0]).query)["limit"] == [str(MAX_LIMIT)]


def test_one_feature_by_its_id(client: TestClient, key: str) -> None:
    response = get(client, f"{CELLS}/items/{WORLD_CELLS[1]}", key)
    assert response.headers["content-type"] == GEOJSON
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == WORLD_CELLS[1]
    assert feature["properties"]["code"] == WORLD_CELLS[1]
    assert urlsplit(hrefs(feature, "collection")[0]).path == CELLS
    incident = get(client, f"{OGC}/collections/incidents/items/{INCIDENT_IDS[0]}", key).json()
    assert incident["id"] == INCIDENT_IDS[0] and incident["geometry"]["type"] == "Point"


def test_an_integer_id_is_found_by_number_and_a_non_number_is_a_404(client: TestClient, key: str) -> None:
    first = get(client, f"{OGC}/collections/facilities/items", key).json()["features"][0]
    assert isinstance(first["id"], int)
    assert get(client, f"{OGC}/collections/facilities/items/{first['id']}", key).json()["id"] == first["id"]
    assert client.get(f"{OGC}/collections/facilities/items/abc", params={"api_key": key}).status_code == 404


@pytest.mark.parametrize("path", ["/collections/nope", "/collections/nope/items", "/collections/grid_cells/items/x"])
def test_unknown_collections_and_features_are_a_404(client: TestClient, key: str, path: str) -> None:
    assert client.get(OGC + path, params={"api_key": key}).status_code == 404


def test_no_collection_carries_personal_data(client: TestClient, key: str, settings: Settings) -> None:
    for layer_id in registry(settings):
        text = get(client, f"{OGC}/collections/{layer_id}/items", key, limit="1000").text
        assert '"features":[{' in text, layer_id  # the world gives every layer features
        for secret in SECRETS:
            assert secret not in text, (layer_id, secret)


# -- real clients against a real server -----------------------------------------------------------------
@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Engine]]:
    """(base URL, API key of a planner, engine) of a served, committed copy of the layer world."""
    with committed_database(database_url, "ogc") as engine:
        with sessionmaker(engine)() as session, session.begin():
            add_layer_world(session)
            key = users.create_api_key(session, add_user(session, Role.planner))
        with serve_in_process(engine, tmp_path_factory.mktemp("ogc-state")) as base:
            yield base, key, engine


def ogrinfo(*args: str) -> str:
    exe = shutil.which("ogrinfo")
    if exe is None:
        pytest.fail("ogrinfo is missing: run `scripts/ensure-system.sh gdal` (installs Debian's gdal-bin)")
    done = subprocess.run([exe, "-ro", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def counts(summary: str) -> dict[str, int]:
    out, name = {}, None
    for line in summary.splitlines():
        if line.startswith("Layer name: "):
            name = line.removeprefix("Layer name: ").strip()
        elif line.startswith("Feature Count: ") and name:
            out[name] = int(line.removeprefix("Feature Count: "))
    return out


@pytest.fixture(scope="module")
def expected_counts(live: tuple[str, str, Engine]) -> dict[str, int]:
    with sessionmaker(live[2])() as session:
        return {layer_id: layer.count(session) for layer_id, layer in registry(Settings()).items()}


def test_ogrinfo_lists_every_layer_with_its_feature_count(
    live: tuple[str, str, Engine], expected_counts: dict[str, int]
) -> None:
    base, key, _ = live
    assert counts(ogrinfo("-so", "-al", f"OAPIF:{base}{OGC}?api_key={key}")) == expected_counts


def test_ogrinfo_pages_through_next_links_with_the_key(live: tuple[str, str, Engine]) -> None:
    base, key, _ = live
    dump = ogrinfo("-al", "-oo", "PAGE_SIZE=1", f"OAPIF:{base}{OGC}?api_key={key}", "incidents")
    assert all(f"public_id (String) = {public_id}" in dump for public_id in INCIDENT_IDS)
    assert "张三" not in dump and "13800000000" not in dump


def test_pyogrio_reads_chinese_text_and_filters_by_bbox(live: tuple[str, str, Engine]) -> None:
    base, key, _ = live
    source = f"OAPIF:{base}{OGC}?api_key={key}"
    compounds = pyogrio.read_dataframe(source, layer="compounds")
    assert compounds["name"].tolist() == [COMPOUND_NAME]
    assert compounds.crs.to_epsg() == 4326 or compounds.crs.to_string() == "OGC:CRS84"
    cells = pyogrio.read_dataframe(source, layer="grid_cells", bbox=(109.7000, 28.2500, 109.7009, 28.2509))
    assert cells["code"].tolist() == WORLD_CELLS[:1]


def test_owslib_reads_collections_and_items(live: tuple[str, str, Engine], settings: Settings) -> None:
    base, key, _ = live
    api = Features(f"{base}{OGC}/", headers={"X-API-Key": key})
    assert {c["id"] for c in api.collections()["collections"]} == set(registry(settings))
    page = api.collection_items("grid_cells", limit=2)
    assert [f["id"] for f in page["features"]] == WORLD_CELLS[:2] and page["numberMatched"] == 3
    assert api.collection_item("incidents", INCIDENT_IDS[2])["properties"]["public_id"] == INCIDENT_IDS[2]


def test_incident_collections_keep_to_what_the_caller_may_read(client: TestClient, db: Session, key: str) -> None:
    # The one visibility rule (gis.incidents.visibility): a grid worker reads the cases of the cells they
    # patrol, a role that reads no incident is refused before anything is counted.
    worker = add_user(db, Role.grid_worker)
    users.assign_cells(db, worker, WORLD_CELLS[:1])
    worker_key = users.create_api_key(db, worker)
    items = get(client, f"{OGC}/collections/incidents/items", worker_key).json()
    assert [f["id"] for f in items["features"]] == INCIDENT_IDS[:1] and items["numberMatched"] == 1
    assert get(client, f"{OGC}/collections/incidents/items", key).json()["numberMatched"] == 3
    other = client.get(f"{OGC}/collections/incidents/items/{INCIDENT_IDS[1]}", params={"api_key": worker_key})
    assert other.status_code == 404
    manager = users.create_api_key(db, add_user(db, Role.unit_manager))
    refused = client.get(f"{OGC}/collections/incidents/items", params={"api_key": manager})
    assert refused.status_code == 403
    assert client.get(f"{CELLS}/items", params={"api_key": manager}).status_code == 200  # not a layer of cases
