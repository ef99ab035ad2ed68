"""Photos of incidents: checked by their content, stored under their content hash, read for their GPS.

A photo is accepted when Pillow (with pillow-heif for iPhone HEIC) decodes it as JPEG, PNG, WebP or HEIC,
whatever its name or declared type says: a text file renamed ``.jpg`` is refused. Files live under
``settings.photo_dir`` as ``ab/abcdef….jpg`` (the SHA-256 of the bytes), so the same photo sent twice is
stored once. A file written for a transaction that is then rolled back stays behind unreferenced; that costs
disk, never correctness (names are content hashes).

EXIF GPS coordinates are taken as WGS84: phones record the satellite fix, not the GCJ-02 offset that map
apps display.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.models import Incident, IncidentEvent, IncidentPhoto, PhotoKind, User

MAX_PHOTOS_PER_INCIDENT = 6
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# Pillow format name → (content type, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
    "HEIF": ("image/heic", ".heic"),
}
_GPS_IFD = 0x8825


@dataclass(frozen=True)
class CheckedPhoto:
    """A photo that passed :func:`check_photo`, with what it told us."""

    data: bytes
    content_type: str
    extension: str
    sha256: str
    width: int
    height: int
    lon: float | None  # EXIF GPS, WGS84; None when the photo has no usable position
    lat: float | None

    @property
    def location(self) -> tuple[float, float] | None:
        return None if self.lon is None or self.lat is None else (self.lon, self.lat)


def check_photo(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str = "photo") -> CheckedPhoto:
    """Decode ``data`` and return what it is; InvalidInput (naming ``name``) for anything that is not a
    complete JPEG/PNG/WebP/HEIC image of at most ``max_bytes`` bytes."""
    if not data:
        raise InvalidInput(f"{name}: the file is empty")
    if len(data) > max_bytes:
        raise InvalidInput(f"{name}: {len(data):,} bytes is more than the limit of {max_bytes:,} bytes")
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format or ""
                if image_format not in FORMATS:
                    raise InvalidInput(f"{name}: {image_format or 'unknown'} images are not accepted; "
                                       "send JPEG, PNG, WebP or HEIC")
                image.load()  # decode it all: a truncated or corrupt file fails here, not later in a browser
                width, height = image.size
                position = gps_position(image)
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        # Pillow's words name its Python objects ("<_io.BytesIO object at 0x…>"): say what is wrong, in ours.
        why = "too many pixels" if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning) \
            else "truncated or corrupt" if isinstance(exc, OSError) and not isinstance(exc, UnidentifiedImageError) \
            else "not an image file"
        raise InvalidInput(f"{name}: not a readable JPEG, PNG, WebP or HEIC image ({why})") from None
    content_type, extension = FORMATS[image_format]
    lon, lat = position if position else (None, None)
    return CheckedPhoto(data=data, content_type=content_type, extension=extension,
                        sha256=hashlib.sha256(data).hexdigest(), width=width, height=height, lon=lon, lat=lat)


def gps_position(image: Image.Image) -> tuple[float, float] | None:
    """(lon, lat) in degrees from the image's EXIF GPS block; None when absent or unusable."""
    try:
        gps = image.getexif().get_ifd(_GPS_IFD)
    except Exception:  # a malformed EXIF block must not make a good photo unusable
        return None
    try:
        lat = _degrees(gps[2], gps.get(1, "N"))
        lon = _degrees(gps[4], gps.get(3, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    if lon == 0 and lat == 0:  # what cameras write when they had no fix
        return None
    return lon, lat


def store_photo(
    session: Session,
    *,
    incident: Incident,
    photo: bytes | CheckedPhoto,
    photo_dir: Path,
    kind: PhotoKind | str = PhotoKind.before,
    uploader: User | None = None,
    event: IncidentEvent | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> IncidentPhoto:
    """Check ``photo``, write it under ``photo_dir`` and attach it to ``incident``; flush.

    A photo of a merged duplicate goes to the original case. The same photo sent again for the same case
    returns the row already there. Raises InvalidInput for a bad photo or kind, or when the case already
    has :data:`MAX_PHOTOS_PER_INCIDENT` photos."""
    try:
        photo_kind = PhotoKind(kind)
    except ValueError:
        raise InvalidInput(f"kind: must be one of {', '.join(PhotoKind)} (got “{kind}”)") from None
    checked = photo if isinstance(photo, CheckedPhoto) else check_photo(photo, max_bytes=max_bytes)
    target = incident.canonical
    existing = session.scalar(
        select(IncidentPhoto).where(IncidentPhoto.incident_id == target.id, IncidentPhoto.sha256 == checked.sha256)
    )
    if existing is not None:
        return existing
    count = session.scalar(select(func.count()).where(IncidentPhoto.incident_id == target.id)) or 0
    if count >= MAX_PHOTOS_PER_INCIDENT:
        raise InvalidInput(f"photos: incident {target.public_id} already has {count} photos "
                           f"(at most {MAX_PHOTOS_PER_INCIDENT})")
    relative = write_photo_file(photo_dir, checked)
    row = IncidentPhoto(
        incident_id=target.id, event=event, kind=photo_kind.value, path=relative, content_type=checked.content_type,
        bytes=len(checked.data), sha256=checked.sha256, uploader_id=uploader.id if uploader else None,
    )
    session.add(row)
    session.flush()
    return row


def write_photo_file(photo_dir: Path, photo: CheckedPhoto) -> str:
    """Write the photo's bytes (once) and return its path relative to ``photo_dir``."""
    relative = f"{photo.sha256[:2]}/{photo.sha256}{photo.extension}"
    path = photo_dir / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        partial.write_bytes(photo.data)
        os.replace(partial, path)  # atomic: a reader never sees half a photo
    return relative


def photo_file(photo_dir: Path, photo: IncidentPhoto) -> Path:
    """Where the photo's bytes are (for the API to stream them)."""
    return photo_dir / photo.path


def _degrees(dms: tuple[float, ...], ref: str) -> float:
    degrees, minutes, seconds = (float(v) for v in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if str(ref).strip().upper() in {"S", "W"} else value


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True
