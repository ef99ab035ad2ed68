"""api.routes.exports: one layer as a downloaded file, for roles with export.read; read back by GDAL."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyogrio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from gis.models import Role, User
from tests.layer_world import COMPOUND_NAME, SECRETS, add_layer_world

Headers = dict[str, str]
EXPORTS = "/api/v1/exports"


@pytest.fixture
def planner(db: Session, make_user: Callable[..., User], auth_headers: Callable[[User], Headers]) -> Headers:
    add_layer_world(db)
    return auth_headers(make_user(Role.planner))


def download(client: TestClient, url: str, headers: Headers, tmp_path: Path, **params: str) -> Path:
    response = client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert "attachment" in response.headers["content-disposition"]
    path = tmp_path / url.rsplit("/", 1)[1]
    path.write_bytes(response.content)
    return path


def test_a_planner_downloads_a_geopackage_gdal_reads(client: TestClient, planner: Headers, tmp_path: Path) -> None:
    path = download(client, f"{EXPORTS}/compounds.gpkg", planner, tmp_path)
    frame = pyogrio.read_dataframe(path, layer="compounds")
    assert frame["name"].tolist() == [COMPOUND_NAME] and frame.crs.to_epsg() == 4326


def test_a_geopackage_is_never_gzipped(client: TestClient, planner: Headers) -> None:
    """GIS clients read a GeoPackage by its size and by ranges, which a compressed answer would hide."""
    response = client.get(f"{EXPORTS}/compounds.gpkg", headers={**planner, "Accept-Encoding": "gzip"})
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content) > 1024


def test_geojson_downloads_in_the_metric_crs_on_request(client: TestClient, planner: Headers, tmp_path: Path) -> None:
    response = client.get(f"{EXPORTS}/grid_cells.geojson", headers=planner, params={"crs": "metric"})
    assert response.headers["content-type"] == "application/geo+json"
    path = tmp_path / "cells.geojson"
    path.write_bytes(response.content)
    assert pyogrio.read_dataframe(path).crs.to_epsg() == 4546


def test_a_zip_holds_the_shapefile_set_with_its_encoding_and_field_names(
    client: TestClient, planner: Headers, tmp_path: Path
) -> None:
    response = client.get(f"{EXPORTS}/incidents.zip", headers=planner)
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert set(archive.namelist()) == {f"incidents{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".fields.csv")}
    archive.extractall(tmp_path)
    frame = pyogrio.read_dataframe(tmp_path / "incidents.shp")
    assert len(frame) == 3
    everything = b"".join(archive.read(name) for name in archive.namelist()).decode("utf-8", errors="replace")
    assert not [s for s in SECRETS if s in everything]


def test_bbox_keeps_what_it_touches(client: TestClient, planner: Headers, tmp_path: Path) -> None:
    path = download(client, f"{EXPORTS}/grid_cells.gpkg", planner, tmp_path, bbox="109.7000,28.2500,109.7009,28.2509")
    assert pyogrio.read_info(path, layer="grid_cells")["features"] == 1


@pytest.mark.parametrize("role", [Role.grid_worker, Role.officer, Role.community_staff])
def test_roles_without_export_read_are_refused(
    client: TestClient, make_user: Callable[..., User], auth_headers: Callable[[User], Headers], role: Role
) -> None:
    response = client.get(f"{EXPORTS}/grid_cells.gpkg", headers=auth_headers(make_user(role)))
    assert response.status_code == 403
    assert "export.read" in response.json()["detail"]


def test_anonymous_callers_unknown_layers_and_formats_are_refused(client: TestClient, planner: Headers) -> None:
    assert client.get(f"{EXPORTS}/grid_cells.gpkg").status_code == 401
    assert client.get(f"{EXPORTS}/nope.gpkg", headers=planner).status_code == 404
    assert client.get(f"{EXPORTS}/grid_cells.kml", headers=planner).status_code == 422
    assert client.get(f"{EXPORTS}/grid_cells.gpkg", headers=planner, params={"crs": "EPSG:999999"}).status_code == 422
