"""Photos of incidents (add, list, serve with access checks) and the bulk import of historic incidents.

Photos are checked by their content (``gis.incidents.photos``): JPEG, PNG, WebP or HEIC within the size limit, whatever
the file name or declared type says; they are served only to callers who may read the whole case, with
their stored type and ``nosniff``. The import takes a CSV or GeoJSON file and answers with the rows it
refused; all or nothing by default (``gis.incidents.bulk_import``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, get_args

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from starlette.datastructures import UploadFile as StarletteUpload

from api.deps import CurrentUser, Id, IncidentRef, SessionDep, require
from api.routes.incident_views import body_error, max_photo_bytes, photo_read, visible_incident
from api.schemas.incidents import MAX_PHOTOS, Datum, ImportReport, PhotoRead, RefusedRow
from gis.errors import Forbidden, InvalidInput, NotFound
from gis.incidents.bulk_import import import_incidents
from gis.incidents.photos import check_photo, photo_file, store_photo
from gis.models import Incident, IncidentPhoto, User
from gis.people import permissions
from gis.people.permissions import Action

router = APIRouter()  # included by api.routes.incidents, under its prefix, tags and checks
MAX_IMPORT_BYTES = 512 * 1024 * 1024

# -- photos ---------------------------------------------------------------------------------------------------
@router.get("/{ref}/photos", operation_id="list_incident_photos", summary="Photos of a case")
def list_photos(ref: IncidentRef, session: SessionDep, user: CurrentUser) -> list[PhotoRead]:
    incident, full = visible_incident(session, user, ref)
    if not full:
        return []
    return [photo_read(incident, p) for p in incident.photos]


class PhotoUpload:
    def __init__(self, kind: str, photos: list[bytes]) -> None:
        self.kind = kind
        self.photos = photos


async def photo_upload(request: Request) -> PhotoUpload:
    """Read ``kind`` and up to six files (as ``photos``, or ``file`` as simple forms send one)."""
    limit = max_photo_bytes(request)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_PHOTOS * limit + 1_000_000:
        raise InvalidInput(f"photos: the request is larger than {MAX_PHOTOS} photos of {limit:,} bytes")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Content-Type: send photos as multipart/form-data")
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=8)
    kind = form.get("kind") or "before"
    files = [v for k, v in form.multi_items() if k in ("photos", "file") and isinstance(v, StarletteUpload)]
    if not files:
        raise body_error("photos", "send at least one image file as 'photos'")
    if len(files) > MAX_PHOTOS:
        raise InvalidInput(f"photos: at most {MAX_PHOTOS} per incident")
    return PhotoUpload(str(kind), [await f.read(limit + 1) for f in files])


# The caller, their role and the case are checked before the photos are read (dependencies run in order).
async def photo_adder(user: CurrentUser) -> User:
    """The caller, if their role may add photos of some kind (before: reporters; after: officers)."""
    if not permissions.can(user, Action.incident_handle):
        permissions.require(user, Action.incident_create)
    return user


def photo_target(ref: IncidentRef, session: SessionDep, user: Annotated[User, Depends(photo_adder)]
                 ) -> tuple[Incident, bool]:
    return visible_incident(session, user, ref)


@router.post(
    "/{ref}/photos",
    status_code=status.HTTP_201_CREATED,
    operation_id="add_incident_photos",
    summary="Add photos to a case: kind=before (reporting) or after (proof of handling)",
    openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["photos"],
        "properties": {"kind": {"type": "string", "enum": ["before", "after"], "default": "before"},
                       "photos": {"type": "array", "maxItems": MAX_PHOTOS,
                                  "items": {"type": "string", "format": "binary"}}}}}}}},
)
def add_photos(
    request: Request, session: SessionDep, user: Annotated[User, Depends(photo_adder)],
    target: Annotated[tuple[Incident, bool], Depends(photo_target)],
    upload: Annotated[PhotoUpload, Depends(photo_upload)],
) -> list[PhotoRead]:
    permissions.require(user, Action.incident_handle if upload.kind == "after" else Action.incident_create)
    incident, full = target
    if not full:
        raise Forbidden(f"role {user.role} may not add photos")
    limit = max_photo_bytes(request)
    photo_dir = request.app.state.settings.photo_dir
    checked = [check_photo(data, max_bytes=limit, name=f"photos[{i}]") for i, data in enumerate(upload.photos)]
    stored = [store_photo(session, incident=incident, photo=photo, photo_dir=photo_dir, kind=upload.kind,
                          uploader=user) for photo in checked]
    return [photo_read(incident, p) for p in stored]


@router.get("/{ref}/photos/{photo_id}", operation_id="get_incident_photo", summary="The photo's bytes",
            response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def get_photo(ref: IncidentRef, photo_id: Id, request: Request, session: SessionDep, user: CurrentUser) -> Response:
    permissions.require(user, Action.incident_read)  # the de-personalised view has no photos
    incident, full = visible_incident(session, user, ref)
    if not full:
        raise Forbidden(f"role {user.role} reads the de-personalised view, which has no photos")
    photo = session.get(IncidentPhoto, photo_id)
    if photo is None or photo.incident_id != incident.id:
        raise NotFound(f"no photo {photo_id} of incident {incident.public_id}")
    path = photo_file(request.app.state.settings.photo_dir, photo)
    if not path.is_file():
        raise NotFound(f"the file of photo {photo_id} is missing from the photo store")
    # nosniff: the browser must not guess another type from the bytes (the type was checked on upload).
    headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff",
               "ETag": f'"{photo.sha256}"'}
    return Response(path.read_bytes(), media_type=photo.content_type, headers=headers)





# -- bulk import ----------------------------------------------------------------------------------------------
class ImportUpload:
    """An import as it arrived: the file (spooled by Starlette's form parser) and the two options."""

    def __init__(self, file: StarletteUpload, all_or_nothing: bool, datum: str) -> None:
        self.file = file
        self.all_or_nothing = all_or_nothing
        self.datum = datum


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


async def import_upload(request: Request) -> ImportUpload:
    """Read the form, once the route's other dependencies (the caller and their role) have passed: a body
    declared as ``File()`` would be read, up to its 512 MiB, before the caller is known."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "Content-Type: send the file as multipart/form-data")
    form = await request.form(max_files=1, max_fields=8)
    file = form.get("file")
    if not isinstance(file, StarletteUpload):
        raise body_error("file", "send the CSV or GeoJSON file as the form field 'file'")
    flag = str(form.get("all_or_nothing") or "true").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise body_error("all_or_nothing", "give true or false")
    datum = str(form.get("datum") or "wgs84").strip().lower()
    if datum not in get_args(Datum):
        raise body_error("datum", f"one of {', '.join(get_args(Datum))}")
    return ImportUpload(file, flag in _TRUE, datum)


_IMPORT_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "CSV (lon,lat,category,…) or GeoJSON FeatureCollection"},
        "all_or_nothing": {"type": "boolean", "default": True, "description": "Write nothing when any row is refused"},
        "datum": {"type": "string", "enum": list(get_args(Datum)), "default": "wgs84",
                  "description": "Datum of the file's lon/lat"},
    }}}}}


@router.post(
    "/import",
    operation_id="import_incidents",
    summary="Bulk-load historic incidents from CSV or GeoJSON; the report lists refused rows",
    responses={422: {"description": "All or nothing, and some rows were refused: nothing was written"}},
    openapi_extra={"requestBody": _IMPORT_BODY},
)
def import_file(
    request: Request,
    response: Response,
    session: SessionDep,
    user: Annotated[User, require(Action.incident_import)],
    upload: Annotated[ImportUpload, Depends(import_upload)],
) -> ImportReport:
    file, all_or_nothing, datum = upload.file, upload.all_or_nothing, upload.datum
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in (".csv", ".geojson", ".json"):
        raise InvalidInput(f"file: {file.filename!r} is neither .csv nor .geojson")
    if file.size is not None and file.size > MAX_IMPORT_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"file: larger than {MAX_IMPORT_BYTES:,} bytes")
    with tempfile.TemporaryDirectory(prefix="wangge-import-") as folder:
        # The reader wants a path whose suffix says the format; the name keeps the user's for row messages.
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as target:
            shutil.copyfileobj(file.file, target)
        report = import_incidents(session, path, all_or_nothing=all_or_nothing,
                                  datum="wgs84" if datum == "cgcs2000" else datum, actor=user,
                                  settings=request.app.state.settings)
    refused = [RefusedRow(row=r.row, field=r.field, reason=r.reason) for r in report.refused]
    if refused and all_or_nothing:
        response.status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return ImportReport(total=report.total, imported=report.imported, refused=refused,
                        all_or_nothing=all_or_nothing, seconds=round(report.seconds, 3))
