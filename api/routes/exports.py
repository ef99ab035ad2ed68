"""Planner downloads: one layer as a file, ``GET /api/v1/exports/{layer_id}.{gpkg|geojson|zip}``.

The file is written by ``gis.layers.export`` (the same code as ``wangge export``) into a scratch folder, streamed,
and deleted once sent; ``zip`` holds the layer's Shapefile set with its ``.cpg`` and field-name sidecar.
Needs ``export.read`` (planners, the supervision centre, admins). ``crs`` writes another CRS than
EPSG:4326 (``metric`` for the settings' metric CRS), ``bbox`` keeps the features it touches.
"""

from __future__ import annotations

import enum
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import BBoxDep, LayersDep, SessionDep, forbid_extra_query, require
from gis.errors import NotFound
from gis.incidents.visibility import readable_layer
from gis.layers.export import export_layers
from gis.models import User
from gis.people.permissions import Action

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], dependencies=[Depends(forbid_extra_query)])


class FileFormat(enum.StrEnum):
    gpkg = "gpkg"
    geojson = "geojson"
    zip = "zip"  # Shapefile set, zipped


MEDIA_TYPES = {
    FileFormat.gpkg: "application/geopackage+sqlite3",
    FileFormat.geojson: "application/geo+json",
    FileFormat.zip: "application/zip",
}


@router.get(
    "/{layer_id}.{file_format}",
    operation_id="export_layer",
    summary="One layer as a GeoPackage, GeoJSON or zipped Shapefile (no personal data)",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}, "description": "The file"}},
)
def export_layer(
    request: Request,
    layer_id: str,
    file_format: FileFormat,
    session: SessionDep,
    user: Annotated[User, require(Action.export_read)],
    bbox: BBoxDep,
    layers: LayersDep,
    crs: Annotated[str | None, Query(description="EPSG code (e.g. 4546) or 'metric'; default 4326")] = None,
) -> FileResponse:
    settings = request.app.state.settings
    if layer_id not in layers:
        raise NotFound(f"no layer {layer_id!r}; GET /api/v1/layers lists them")
    readable = {layer_id: readable_layer(session, user, layers[layer_id])}  # the one visibility rule
    scratch = Path(tempfile.mkdtemp(prefix="wangge-download-"))
    try:
        fmt = "shp" if file_format is FileFormat.zip else file_format.value
        out = scratch / (layer_id if fmt == "shp" else f"{layer_id}.{fmt}")
        report = export_layers(session, [layer_id], out, fmt=fmt, settings=settings,  # type: ignore[arg-type]
                               crs=crs, bbox=bbox, layers=readable)
        if file_format is FileFormat.zip:
            path = scratch / f"{layer_id}.zip"
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for part in report.files:
                    archive.write(part, arcname=part.name)
        else:
            path = out
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return FileResponse(
        path, media_type=MEDIA_TYPES[file_format], filename=f"{layer_id}.{file_format.value}",
        background=BackgroundTask(shutil.rmtree, scratch, ignore_errors=True),
    )
