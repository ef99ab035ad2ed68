"""OGC API – Features Part 2: answers in EPSG:4490, 4546 and the metric CRS, bboxes in them, read by GDAL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.routes.ogc import CONFORMANCE
from api.routes.ogc_crs import CONFORMANCE_CRS, CRS84, EPSG_URI
from gis.models import Role
from gis.people import users
from tests.api.test_ogc import CELLS, OGC, get
from tests.factories import WORLD_CELLS, add_user
from tests.layer_world import add_layer_world
from tests.live import committed_database, serve_in_process

GK = f"{EPSG_URI}4546"


@pytest.fixture
def key(db: Session) -> str:
    add_layer_world(db)
    return users.create_api_key(db, add_user(db, Role.grid_worker))


def first_ring(feature: dict[str, Any]) -> np.ndarray:
    return np.asarray(feature["geometry"]["coordinates"][0][0], dtype=float)


def test_part_2_is_declared_and_every_collection_offers_the_crss(client: TestClient, key: str) -> None:
    assert CONFORMANCE_CRS in CONFORMANCE
    assert CONFORMANCE_CRS in get(client, f"{OGC}/conformance", key).json()["conformsTo"]
    api = get(client, f"{OGC}/api", key).json()
    assert GK in api["components"]["parameters"]["crs"]["schema"]["enum"]


@pytest.mark.parametrize(("code", "north_first"), [(4546, True), (4490, True), (4326, True), (3857, False)])
def test_items_come_in_the_crs_asked_for_in_its_axis_order(
    client: TestClient, key: str, code: int, north_first: bool
) -> None:
    lonlat = get(client, f"{CELLS}/items", key).json()["features"]
    response = get(client, f"{CELLS}/items", key, crs=f"{EPSG_URI}{code}")

    assert response.headers["content-crs"] == f"<{EPSG_URI}{code}>"
    moved = response.json()["features"]
    assert [f["id"] for f in moved] == [f["id"] for f in lonlat]
    # pyproj in the authority's axis order (always_xy=False) is the independent reference.
    to_crs = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}")
    for plain, projected in zip(lonlat, moved, strict=True):
        ring = first_ring(plain)
        a, b = to_crs.transform(ring[:, 0], ring[:, 1])
        tolerance = 1e-6 if code in (4326, 4490) else 2e-3
        assert first_ring(projected) == pytest.approx(np.column_stack([a, b]), abs=tolerance)
    if north_first and code == 4546:
        assert first_ring(moved[0])[0][0] > 3_000_000  # northing (~3,133,000 m) first, easting (~372,000 m) second


def test_a_bbox_in_the_metric_crs_finds_what_the_lon_lat_bbox_finds(client: TestClient, key: str) -> None:
    lonlat_box = (109.7000, 28.2500, 109.7009, 28.2509)
    northing_easting = Transformer.from_crs("OGC:CRS84", "EPSG:4546")
    lo = northing_easting.transform(lonlat_box[0] + 1e-6, lonlat_box[1] + 1e-6)
    hi = northing_easting.transform(lonlat_box[2] - 1e-6, lonlat_box[3] - 1e-6)
    box = ",".join(repr(v) for v in (min(lo[0], hi[0]), min(lo[1], hi[1]), max(lo[0], hi[0]), max(lo[1], hi[1])))

    in_gk = get(client, f"{CELLS}/items", key, bbox=box, **{"bbox-crs": GK}).json()
    in_lonlat = get(client, f"{CELLS}/items", key, bbox=",".join(map(repr, lonlat_box))).json()

    assert [f["id"] for f in in_gk["features"]] == [f["id"] for f in in_lonlat["features"]] == WORLD_CELLS[:1]


def test_one_feature_comes_in_the_crs_asked_for(client: TestClient, key: str) -> None:
    response = get(client, f"{CELLS}/items/{WORLD_CELLS[0]}", key, crs=GK)
    assert response.headers["content-crs"] == f"<{GK}>"


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Engine]]:
    with committed_database(database_url, "ogccrs") as engine:
        with sessionmaker(engine)() as session, session.begin():
            add_layer_world(session)
            key = users.create_api_key(session, add_user(session, Role.grid_worker))
        with serve_in_process(engine, tmp_path_factory.mktemp("ogc-crs-state")) as base:
            yield base, key, engine


@pytest.mark.parametrize("code", [4546, 4490])
def test_gdal_reads_a_collection_in_a_crs_of_part_2(live: tuple[str, str, Engine], code: int) -> None:
    base, key, _ = live
    source = f"OAPIF:{base}{OGC}?api_key={key}"
    plain = pyogrio.read_dataframe(source, layer="grid_cells")

    moved = pyogrio.read_dataframe(source, layer="grid_cells", CRS=f"EPSG:{code}")

    assert moved.crs.to_epsg() == code
    assert moved["code"].tolist() == plain["code"].tolist()
    expected = gpd.GeoSeries(plain.geometry.values, crs="OGC:CRS84").to_crs(code)
    # GDAL put the axes back in GIS order (easting, northing / lon, lat) from the CRS's definition.
    for got, want in zip(moved.geometry, expected, strict=True):
        assert shapely.equals_exact(got.normalize(), want.normalize(), tolerance=2e-3 if code == 4546 else 1e-7)
    assert CRS84 not in str(moved.crs)
