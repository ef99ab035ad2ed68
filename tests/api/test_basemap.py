"""/basemap: tiles of a local MBTiles file, XYZ rows flipped to the file's TMS rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from gis.settings import Settings

PNG = b"\x89PNG\r\n\x1a\n" + b"tile"


def _mbtiles(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
        db.execute("INSERT INTO tiles VALUES (2, 1, 3, ?)", (PNG,))  # TMS row 3 at z2 = XYZ row 0
    return path


def test_a_local_base_map_is_served_by_xyz_and_missing_tiles_are_404(
    tmp_path: Path, sessions: sessionmaker[Session],
) -> None:
    settings = Settings(database_url="postgresql://unused/unused", state_dir=tmp_path, basemap="mbtiles",
                        basemap_mbtiles=_mbtiles(tmp_path / "city.mbtiles"))
    with TestClient(create_app(settings, sessions=sessions)) as client:
        answer = client.get("/basemap/2/1/0")
        assert (answer.status_code, answer.content, answer.headers["content-type"]) == (200, PNG, "image/png")
        assert client.get("/basemap/2/1/1").status_code == 404
        assert client.get("/basemap/2/9/0").status_code == 404
        assert client.get("/basemap/2/1/-1").status_code == 422


def test_without_the_setting_there_is_no_base_map(client: TestClient) -> None:
    assert client.get("/basemap/2/1/0").status_code == 404
