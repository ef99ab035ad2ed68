import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents import photos
from gis.incidents import service as incidents
from gis.models import Incident, IncidentPhoto
from tests.gis.conftest import COMMUNITY_A, INSIDE_A


def image_bytes(
    fmt: str, colour: tuple[int, int, int] = (200, 30, 30), gps: tuple[float, float] | None = None
) -> bytes:
    """A small image in ``fmt``; with ``gps`` = (lon, lat) written as EXIF degrees/minutes/seconds."""
    image = Image.new("RGB", (32, 24), colour)
    exif = Image.Exif()
    if gps is not None:
        lon, lat = gps
        block = exif.get_ifd(0x8825)
        block[1], block[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        block[3], block[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    buffer = io.BytesIO()
    if fmt == "HEIF":
        photos._register_heif()
        image.save(buffer, fmt, exif=exif.tobytes())
    else:
        image.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"), ("HEIF", "image/heic"),
])
def test_jpeg_png_webp_and_heic_are_recognised_by_their_content(fmt, content_type) -> None:
    data = image_bytes(fmt)
    checked = photos.check_photo(data)
    assert (checked.content_type, checked.width, checked.height) == (content_type, 32, 24)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()
    assert checked.location is None


def test_a_text_file_renamed_jpg_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^photo: not a readable"):
        photos.check_photo(b"this is not a photo, just text saved as photo.jpg\n" * 10)


def test_a_truncated_jpeg_is_refused() -> None:
    data = image_bytes("JPEG")
    with pytest.raises(InvalidInput, match="not a readable"):
        photos.check_photo(data[: len(data) // 2])


def test_an_image_of_another_format_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "BMP")
    with pytest.raises(InvalidInput, match="BMP images are not accepted"):
        photos.check_photo(buffer.getvalue())


def test_an_oversized_or_empty_photo_is_refused() -> None:
    data = image_bytes("JPEG")
    assert photos.check_photo(data, max_bytes=len(data)).sha256
    with pytest.raises(InvalidInput, match=rf"more than the limit of {len(data) - 1:,} bytes"):
        photos.check_photo(data, max_bytes=len(data) - 1)
    with pytest.raises(InvalidInput, match="empty"):
        photos.check_photo(b"")


@pytest.mark.parametrize("fmt", ["JPEG", "HEIF"])
def test_exif_gps_gives_the_position_in_degrees(fmt) -> None:
    checked = photos.check_photo(image_bytes(fmt, gps=(109.70512, 28.30488)))
    assert checked.location == pytest.approx((109.70512, 28.30488), abs=1e-6)
    west_south = photos.check_photo(image_bytes("JPEG", gps=(-87.65, -41.5)))
    assert west_south.location == pytest.approx((-87.65, -41.5), abs=1e-6)


def test_a_photo_is_stored_once_under_its_content_hash(db: Session, street_world, tmp_path: Path) -> None:
    incident = incidents.create(db, category_code="06010", lon=INSIDE_A[0], lat=INSIDE_A[1]).incident
    data = image_bytes("JPEG")
    first = photos.store_photo(db, incident=incident, photo=data, photo_dir=tmp_path, uploader=street_world.grid_worker)
    again = photos.store_photo(db, incident=incident, photo=data, photo_dir=tmp_path)
    sha = hashlib.sha256(data).hexdigest()
    assert again.id == first.id and first.path == f"{sha[:2]}/{sha}.jpg"
    assert photos.photo_file(tmp_path, first).read_bytes() == data
    assert (first.kind, first.content_type, first.bytes) == ("before", "image/jpeg", len(data))


def test_a_seventh_photo_is_refused(db: Session, street_world, tmp_path: Path) -> None:
    incident = incidents.create(db, category_code="06010", lon=INSIDE_A[0], lat=INSIDE_A[1]).incident
    for shade in range(6):
        photos.store_photo(db, incident=incident, photo=image_bytes("PNG", (shade, 0, 0)), photo_dir=tmp_path)
    with pytest.raises(InvalidInput, match="at most 6"):
        photos.store_photo(db, incident=incident, photo=image_bytes("PNG", (99, 0, 0)), photo_dir=tmp_path)
    assert db.scalar(select(func.count()).where(IncidentPhoto.incident_id == incident.id)) == 6


def test_an_unknown_photo_kind_is_refused(db: Session, street_world, tmp_path: Path) -> None:
    incident = incidents.create(db, category_code="06010", lon=INSIDE_A[0], lat=INSIDE_A[1]).incident
    with pytest.raises(InvalidInput, match=r"^kind: "):
        photos.store_photo(db, incident=incident, photo=image_bytes("PNG"), photo_dir=tmp_path, kind="during")


def test_a_report_without_lon_lat_takes_its_position_from_the_photo(db: Session, street_world, tmp_path: Path) -> None:
    created = incidents.create(db, category_code="06010", photos=[image_bytes("JPEG", gps=INSIDE_A)],
                               photo_dir=tmp_path, reporter=street_world.grid_worker)
    incident = created.incident
    assert incident.community_code == COMMUNITY_A
    assert [(p.kind, p.event_id) for p in incident.photos] == [("before", incident.events[0].id)]


def test_a_report_with_a_fake_photo_writes_nothing(db: Session, street_world, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^photos\[1\]: not a readable"):
        incidents.create(db, category_code="06010", lon=INSIDE_A[0], lat=INSIDE_A[1], photo_dir=tmp_path,
                         photos=[image_bytes("PNG"), b"GIF89a? no, plain text"])
    assert db.scalar(select(func.count()).select_from(Incident)) == 0
    assert not any(tmp_path.iterdir())


def test_a_report_without_position_or_gps_photo_is_refused(db: Session, street_world, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^lon/lat: required"):
        incidents.create(db, category_code="06010", photos=[image_bytes("PNG")], photo_dir=tmp_path)


def test_a_photo_for_a_merged_duplicate_goes_to_the_original(db: Session, street_world, tmp_path: Path) -> None:
    original, copy = (incidents.create(db, category_code="06010", lon=INSIDE_A[0], lat=INSIDE_A[1]).incident
                      for _ in range(2))
    incidents.mark_duplicate(db, incident=copy, of=original, actor=street_world.supervisor, expected_version=1)
    stored = photos.store_photo(db, incident=copy, photo=image_bytes("PNG"), photo_dir=tmp_path)
    assert stored.incident_id == original.id
