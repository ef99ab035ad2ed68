"""A raster base map from a local MBTiles file (``WANGGE_BASEMAP=mbtiles``), for networks that reach nothing.

MBTiles (1.3) keeps tiles by TMS row (y grows northwards); the route takes XYZ like every slippy map and flips
the row. The file is opened read-only per request (SQLite opens in microseconds); no tile is a 404.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api.deps import SettingsDep
from gis.errors import NotFound

router = APIRouter(prefix="/basemap", tags=["basemap"])
_TYPES = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def _media_type(data: bytes) -> str:
    return next((kind for magic, kind in _TYPES.items() if data.startswith(magic)), "application/octet-stream")


@router.get("/{z}/{x}/{y}", operation_id="basemap_tile", summary="One tile of the local MBTiles base map",
            response_class=Response)
def basemap_tile(
    settings: SettingsDep,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    path = settings.basemap_mbtiles
    if settings.basemap != "mbtiles" or path is None or not path.is_file():
        raise NotFound("no local base map: set WANGGE_BASEMAP=mbtiles and WANGGE_BASEMAP_MBTILES")
    if x >= 1 << z or y >= 1 << z:
        raise NotFound(f"no tile {z}/{x}/{y}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        row = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                         (z, x, (1 << z) - 1 - y)).fetchone()
    if row is None:
        raise NotFound(f"no tile {z}/{x}/{y} in the base map")
    data = bytes(row[0])
    return Response(data, media_type=_media_type(data), headers={"Cache-Control": "public, max-age=86400"})
