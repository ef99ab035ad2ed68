"""The incidents API over HTTP: create, read, list (JSON and GeoJSON), move, history, photos, duplicates.

Every bad input is a 4xx that names the field, and leaves the database as it was. The world is the gis
tests' ``street_world`` (two communities A and B of one subdistrict, three cells each, two teams, one user
of every role).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.main import create_app
from gis.models import Incident, IncidentEvent, IncidentPhoto, User
from gis.spatial.crs import wgs84_to_bd09, wgs84_to_gcj02
from tests.gis.conftest import BOX_A, COMMUNITY_A, COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld, street_world

__all__ = ["street_world"]  # the fixture, imported so that pytest finds it here

Headers = dict[str, str]
URL = "/api/v1/incidents"


# -- helpers ------------------------------------------------------------------------------------------------
def image(fmt: str = "JPEG", gps: tuple[float, float] | None = None, colour: tuple[int, int, int] = (200, 30, 30),
          size: tuple[int, int] = (32, 24)) -> bytes:
    """A small image; with ``gps`` = (lon, lat) written into its EXIF as degrees, minutes, seconds."""
    picture = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if gps is not None:
        block = exif.get_ifd(0x8825)
        block[1], block[2] = "N", _dms(gps[1])
        block[3], block[4] = "E", _dms(gps[0])
    buffer = io.BytesIO()
    picture.save(buffer, fmt, exif=exif)
    return buffer.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


def counts(db: Session) -> tuple[int, int, int]:
    return tuple(db.scalar(select(func.count()).select_from(model)) or 0  # type: ignore[return-value]
                 for model in (Incident, IncidentEvent, IncidentPhoto))


@pytest.fixture
def as_user(auth_headers: Callable[[User], Headers], street_world: StreetWorld) -> Callable[[str], Headers]:
    """Headers of the world's user of a role: ``as_user("supervisor")``; ``officer_b`` names the other team's."""
    def headers(who: str) -> Headers:
        user = street_world.officer_b if who == "officer_b" else street_world.user(who)
        return auth_headers(user)

    return headers


def report(client: TestClient, headers: Headers, at: tuple[float, float] = INSIDE_A, category: str = "09006",
           **fields: Any) -> dict[str, Any]:
    response = client.post(URL, json={"category_code": category, "lon": at[0], "lat": at[1], **fields},
                           headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def move(client: TestClient, headers: Headers, incident: dict[str, Any], to: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"{URL}/{incident['id']}/transitions", json={"to": to, **fields},
                           headers={**headers, "If-Match": f'"{incident["version"]}"'})
    assert response.status_code == 200, response.text
    return response.json()


# -- create ---------------------------------------------------------------------------------------------------
def test_a_report_is_created_located_and_returned_with_its_version(client, as_user, street_world, db) -> None:
    payload = {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "description": "门店占道经营",
               "source": "patrol"}
    response = client.post(URL, json=payload, headers=as_user("grid_worker"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["public_id"].startswith("JS-") and body["status"] == "reported" and body["version"] == 1
    assert (body["community_code"], body["cell_code"]) == (COMMUNITY_A, f"{COMMUNITY_A}002")
    assert body["team_id"] == street_world.subdistrict_team.id
    assert (body["lon"], body["lat"]) == pytest.approx(INSIDE_A)
    assert (body["category_code"], body["category_name"]) == ("09006", "占道经营")
    assert body["reporter"]["username"] == street_world.grid_worker.username  # the reporter sees themself
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{URL}/{body['id']}"
    assert counts(db) == (1, 1, 0)


def test_the_category_may_be_sent_as_category_as_simple_forms_do(client, as_user) -> None:
    response = client.post(URL, json={"category": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]},
                           headers=as_user("grid_worker"))
    assert response.status_code == 201, response.text
    assert response.json()["category_code"] == "09006"


@pytest.mark.parametrize(("datum", "to_datum"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_gcj02_and_bd09_positions_are_stored_as_wgs84(client, as_user, datum, to_datum) -> None:
    # 50 m inside community A in WGS84; the offset forms lie hundreds of metres east, in B.
    lon, lat = to_datum(109.7095, 28.305)
    body = report(client, as_user("grid_worker"), at=(float(lon), float(lat)), datum=datum)
    assert body["community_code"] == COMMUNITY_A
    assert (body["lon"], body["lat"]) == pytest.approx((109.7095, 28.305), abs=1e-6)


def test_cgcs2000_is_taken_as_wgs84(client, as_user) -> None:
    body = report(client, as_user("grid_worker"), datum="cgcs2000")
    assert (body["lon"], body["lat"]) == pytest.approx(INSIDE_A)


def test_a_multipart_report_with_photos_stores_them_and_serves_them_back(client, as_user, tmp_path) -> None:
    photos = [("photos", ("a.jpg", image(), "image/jpeg")), ("photos", ("b.png", image("PNG"), "image/png"))]
    fields = {"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1]), "description": "两张照片"}
    response = client.post(URL, data=fields, files=photos, headers=as_user("grid_worker"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert [p["content_type"] for p in body["photos"]] == ["image/jpeg", "image/png"]
    served = client.get(body["photos"][1]["url"], headers=as_user("grid_worker"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.content == image("PNG")


def test_a_photo_with_gps_supplies_the_location_when_none_is_given(client, as_user) -> None:
    photo = image(gps=INSIDE_B)
    response = client.post(URL, data={"category_code": "09006"}, files=[("photos", ("p.jpg", photo, "image/jpeg"))],
                           headers=as_user("grid_worker"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["community_code"] == COMMUNITY_B
    assert (body["lon"], body["lat"]) == pytest.approx(INSIDE_B, abs=1e-5)


def test_possible_duplicates_come_back_with_the_new_report(client, as_user) -> None:
    first = report(client, as_user("grid_worker"))
    second = report(client, as_user("grid_worker"), at=(INSIDE_A[0] + 0.0001, INSIDE_A[1]))  # about 10 m away
    other_category = report(client, as_user("grid_worker"), category="06001")
    assert [d["public_id"] for d in second["possible_duplicates"]] == [first["public_id"]]
    assert other_category["possible_duplicates"] == []
    # one definition of a possible duplicate: the create names it as /duplicates and /nearby do, metres and all
    named = second["possible_duplicates"][0]
    assert named["distance_m"] == pytest.approx(9.8, abs=0.5)
    listed = client.get(f"{URL}/{second['id']}/duplicates", headers=as_user("supervisor")).json()["possible"]
    assert listed == second["possible_duplicates"]
    nearby = client.get(f"{URL}/nearby", params={"lon": second["lon"], "lat": second["lat"], "category": "09006"},
                        headers=as_user("grid_worker")).json()
    assert [d for d in nearby if d["id"] == first["id"]] == [named]


@pytest.mark.parametrize("change", [{"description": "另一处"}, {"lon": INSIDE_A[0] + 0.001}, {"category_code": "06010"},
                                    {"source": "resident"}])
def test_an_idempotency_key_reused_with_a_different_body_is_422_and_writes_nothing(client, as_user, db,
                                                                                   change) -> None:
    headers = {**as_user("grid_worker"), "Idempotency-Key": "phone-42-report-8"}
    payload = {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "description": "占道"}
    assert client.post(URL, json=payload, headers=headers).status_code == 201
    before = counts(db)
    response = client.post(URL, json={**payload, **change}, headers=headers)
    assert response.status_code == 422 and "Idempotency-Key" in response.json()["detail"], response.text
    assert counts(db) == before
    assert client.post(URL, json=payload, headers=headers).json()["replayed"] is True


def test_a_repeated_idempotency_key_returns_the_first_result_and_writes_nothing_more(client, as_user, db) -> None:
    headers = {**as_user("grid_worker"), "Idempotency-Key": "phone-42-report-7"}
    payload = {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]}
    first = client.post(URL, json=payload, headers=headers)
    again = client.post(URL, json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["replayed"] is True and first.json()["replayed"] is False
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(db) == (1, 1, 0)


def test_the_same_idempotency_key_of_another_user_is_another_report(client, as_user, db) -> None:
    payload = {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]}
    one = client.post(URL, json=payload, headers={**as_user("grid_worker"), "Idempotency-Key": "k1"})
    two = client.post(URL, json=payload, headers={**as_user("supervisor"), "Idempotency-Key": "k1"})
    assert one.json()["id"] != two.json()["id"]
    assert counts(db)[0] == 2


def test_html_in_text_is_stored_and_returned_as_text(client, as_user) -> None:
    script = '<script>alert("x")</script><img src=x onerror=alert(1)> & 占道'
    created = report(client, as_user("grid_worker"), description=script, address="<b>乾州</b>")
    read = client.get(f"{URL}/{created['id']}", headers=as_user("supervisor"))
    assert read.headers["content-type"].startswith("application/json")
    assert read.json()["description"] == script and read.json()["address"] == "<b>乾州</b>"
    feature = client.get(URL, params={"format": "geojson"}, headers=as_user("supervisor")).json()["features"][0]
    assert feature["properties"]["description"] == script


# -- refused creates: a 4xx naming the field, nothing written ---------------------------------------------------
BAD_CREATES: list[tuple[str, dict[str, Any], int, str]] = [
    ("missing category", {"lon": INSIDE_A[0], "lat": INSIDE_A[1]}, 422, "category_code"),
    ("unknown category", {"category_code": "99999", "lon": INSIDE_A[0], "lat": INSIDE_A[1]}, 422, "unknown code"),
    ("lon out of range", {"category_code": "09006", "lon": 181.0, "lat": 28.3}, 422, "lon: 181.0 is outside"),
    ("lat out of range", {"category_code": "09006", "lon": 109.7, "lat": -91.0}, 422, "lat: -91.0 is outside"),
    ("swapped lon/lat", {"category_code": "09006", "lon": INSIDE_A[1], "lat": INSIDE_A[0]}, 422, "swapped"),
    ("outside every community", {"category_code": "09006", "lon": 109.75, "lat": 28.305}, 422,
     "nearest is 万溶江社区"),
    ("description too long", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1],
                              "description": "长" * 4001}, 422, "description"),
    ("unknown field", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "priority": 1}, 422,
     "priority"),
    ("unknown source", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "source": "import"}, 422,
     "source"),
    ("unknown datum", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "datum": "utm"}, 422,
     "datum"),
    ("naive reported_at", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1],
                           "reported_at": "2026-03-02T09:00:00"}, 422, "reported_at"),
    ("future reported_at", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1],
                            "reported_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, 422, "future"),
    ("lon without lat", {"category_code": "09006", "lon": INSIDE_A[0]}, 422, "lat: required"),
    ("no position at all", {"category_code": "09006"}, 422, "lon/lat: required"),
    ("NUL in text", {"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1], "description": "a\x00b"},
     422, "NUL"),
]


@pytest.mark.parametrize(("payload", "status", "message"), [c[1:] for c in BAD_CREATES],
                         ids=[c[0] for c in BAD_CREATES])
def test_a_bad_create_is_refused_naming_the_problem_and_writes_nothing(client, as_user, db, payload, status,
                                                                       message) -> None:
    response = client.post(URL, json=payload, headers=as_user("grid_worker"))
    assert response.status_code == status, response.text
    assert message in response.text
    assert counts(db) == (0, 0, 0)


def test_the_outside_message_names_the_nearest_community_and_its_distance(client, as_user) -> None:
    response = client.post(URL, json={"category_code": "09006", "lon": 109.73, "lat": 28.305},
                           headers=as_user("grid_worker"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "万溶江社区" in detail and f"({COMMUNITY_B})" in detail
    # 109.72 → 109.73 at 28.3°N is about 980 m.
    assert any(f"{m:,} m away" in detail for m in range(970, 990))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client, as_user, db, literal) -> None:
    body = f'{{"category_code": "09006", "lon": {literal}, "lat": 28.305}}'
    response = client.post(URL, content=body, headers={**as_user("grid_worker"), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "lon"]
    assert counts(db) == (0, 0, 0)


def test_nan_in_a_form_is_refused(client, as_user, db) -> None:
    response = client.post(URL, data={"category_code": "09006", "lon": "nan", "lat": "28.305"},
                           files=[("photos", ("a.jpg", image(), "image/jpeg"))], headers=as_user("grid_worker"))
    assert response.status_code == 422, response.text
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize("body", ['{"category_code": "09006", "lon": 109.7', "not json", "[1, 2]", ""])
def test_malformed_json_is_a_422_not_a_500(client, as_user, db, body) -> None:
    response = client.post(URL, content=body, headers={**as_user("grid_worker"), "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert counts(db) == (0, 0, 0)


def test_an_unsupported_content_type_is_refused(client, as_user) -> None:
    response = client.post(URL, content="category_code=09006", headers={
        **as_user("grid_worker"), "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_a_fake_photo_is_refused_and_nothing_is_written(client, as_user, db, settings) -> None:
    fake = b"just text, renamed to look like a photo\n" * 20
    response = client.post(URL, data={"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])},
                           files=[("photos", ("evil.jpg", fake, "image/jpeg"))], headers=as_user("grid_worker"))
    assert response.status_code == 422 and "photos[0]" in response.json()["detail"]
    assert counts(db) == (0, 0, 0)
    assert not Path(settings.photo_dir).exists() or not any(Path(settings.photo_dir).rglob("*.*"))


def test_an_oversized_photo_is_refused(client, as_user, db, app) -> None:
    app.state.settings.__dict__["photo_max_bytes"] = 2_000  # a small limit for the test
    big = image(size=(400, 400), colour=(10, 200, 90))
    noisy = Image.effect_noise((400, 400), 90).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=95)
    big = buffer.getvalue()
    assert len(big) > 2_000
    response = client.post(URL, data={"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])},
                           files=[("photos", ("big.jpg", big, "image/jpeg"))], headers=as_user("grid_worker"))
    assert response.status_code == 422 and "more than the limit" in response.json()["detail"]
    assert counts(db) == (0, 0, 0)


def test_more_than_six_photos_are_refused(client, as_user, db) -> None:
    files = [("photos", (f"{i}.png", image("PNG", colour=(i * 30, 0, 0)), "image/png")) for i in range(7)]
    response = client.post(URL, data={"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])},
                           files=files, headers=as_user("grid_worker"))
    assert response.status_code == 422 and "at most 6" in response.text
    assert counts(db) == (0, 0, 0)


def test_a_create_without_credentials_is_a_401(client) -> None:
    response = client.post(URL, json={"category_code": "09006", "lon": INSIDE_A[0], "lat": INSIDE_A[1]})
    assert response.status_code == 401 and "authentication required" in response.json()["detail"]


# -- read -----------------------------------------------------------------------------------------------------
def test_an_incident_is_read_by_id_or_public_id(client, as_user) -> None:
    created = report(client, as_user("grid_worker"))
    by_id = client.get(f"{URL}/{created['id']}", headers=as_user("supervisor"))
    by_public = client.get(f"{URL}/{created['public_id']}", headers=as_user("supervisor"))
    assert by_id.status_code == by_public.status_code == 200
    assert by_id.json() == by_public.json()
    assert by_id.headers["ETag"] == '"1"'


def test_a_read_with_the_current_etag_is_not_modified(client, as_user) -> None:
    created = report(client, as_user("grid_worker"))
    response = client.get(f"{URL}/{created['id']}", headers={**as_user("supervisor"), "If-None-Match": '"1"'})
    assert response.status_code == 304


def test_a_ref_that_is_neither_an_id_nor_a_public_id_is_422_naming_it(client, as_user) -> None:
    response = client.get(f"{URL}/nonsense", headers=as_user("supervisor"))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path", "ref"]


@pytest.mark.parametrize("ref", ["999999", "JS-2026-999999", "2147483648"])
def test_unknown_ids_are_404(client, as_user, ref) -> None:
    assert client.get(f"{URL}/{ref}", headers=as_user("supervisor")).status_code == 404
    response = client.post(f"{URL}/{ref}/transitions", json={"to": "register", "version": 1},
                           headers=as_user("supervisor"))
    assert response.status_code == 404


def test_the_centre_sees_the_reporter_and_an_officer_does_not(client, as_user, street_world) -> None:
    created = report(client, as_user("grid_worker"))
    centre = client.get(f"{URL}/{created['id']}", headers=as_user("supervisor")).json()
    officer = client.get(f"{URL}/{created['id']}", headers=as_user("officer")).json()
    assert centre["reporter"]["phone"] == street_world.grid_worker.phone
    assert officer["reporter"] is None and officer["description"] == created["description"]


def test_a_planner_reads_the_depersonalised_view(client, as_user) -> None:
    created = report(client, as_user("grid_worker"), description="张三 13800000000 门口摆摊", address="某路1号")
    planner = client.get(f"{URL}/{created['id']}", headers=as_user("planner"))
    assert planner.status_code == 200
    body = planner.json()
    assert body["description"] is None and body["address"] is None and body["reporter"] is None
    assert body["photos"] == [] and body["moves"] == []
    assert body["category_code"] == "09006" and body["cell_code"] == created["cell_code"]
    assert "13800000000" not in planner.text


# -- lists ----------------------------------------------------------------------------------------------------
@pytest.fixture
def three(client, as_user) -> list[dict[str, Any]]:
    """Three reports: two in A (categories 09006 and 06001), one in B."""
    worker = as_user("grid_worker")
    return [report(client, worker), report(client, worker, category="06001", at=(109.701, 28.301)),
            report(client, worker, at=INSIDE_B)]


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    body = response.json()
    items = body["features"] if "features" in body else body["items"]
    return sorted(item.get("public_id") or item["properties"]["public_id"] for item in items)


def test_lists_filter_by_bbox_category_community_cell_and_status(client, as_user, three) -> None:
    sup = as_user("supervisor")
    a1, a2, b1 = (i["public_id"] for i in three)
    assert ids(client.get(URL, params={"bbox": ",".join(map(str, BOX_A))}, headers=sup)) == sorted([a1, a2])
    assert ids(client.get(URL, params={"category": "06001"}, headers=sup)) == [a2]
    assert ids(client.get(URL, params={"category": "06001,09006"}, headers=sup)) == sorted([a1, a2, b1])
    assert ids(client.get(URL, params={"community": COMMUNITY_B}, headers=sup)) == [b1]
    assert ids(client.get(URL, params={"cell": three[0]["cell_code"]}, headers=sup)) == [a1]
    assert ids(client.get(URL, params={"status": "reported"}, headers=sup)) == sorted([a1, a2, b1])
    assert ids(client.get(URL, params={"status": "closed"}, headers=sup)) == []
    assert ids(client.get(URL, params={"status": "open"}, headers=sup)) == sorted([a1, a2, b1])
    assert ids(client.get(URL, params={"subdistrict": "433101004000"}, headers=sup)) == sorted([a1, a2, b1])


def test_lists_filter_by_time_window_and_team(client, as_user, three, street_world) -> None:
    sup = as_user("supervisor")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert len(ids(client.get(URL, params={"reported_from": past, "reported_to": future}, headers=sup))) == 3
    assert ids(client.get(URL, params={"reported_from": future}, headers=sup)) == []
    assert ids(client.get(URL, params={"updated_to": past}, headers=sup)) == []
    team_b = street_world.community_b_team.id
    assert ids(client.get(URL, params={"team_id": team_b}, headers=sup)) == [three[2]["public_id"]]


def test_lists_sort_and_page_by_offset_and_cursor(client, as_user, three) -> None:
    sup = as_user("supervisor")
    by_id = [i["public_id"] for i in sorted(three, key=lambda i: i["id"])]
    first = client.get(URL, params={"sort": "id", "limit": 2}, headers=sup).json()
    assert [i["public_id"] for i in first["items"]] == by_id[:2]
    second = client.get(URL, params={"sort": "id", "limit": 2, "offset": 2}, headers=sup).json()
    assert [i["public_id"] for i in second["items"]] == by_id[2:]
    following = client.get(URL, params={"sort": "id", "limit": 2, "cursor": first["next_cursor"]}, headers=sup).json()
    assert [i["public_id"] for i in following["items"]] == by_id[2:] and following["next_cursor"] is None
    descending = client.get(URL, params={"sort": "-id"}, headers=sup).json()
    assert [i["public_id"] for i in descending["items"]] == by_id[::-1]


def test_the_geojson_list_is_a_feature_collection_with_the_map_properties(client, as_user, three) -> None:
    response = client.get(URL, params={"format": "geojson", "sort": "id"}, headers=as_user("supervisor"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    collection = response.json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 3
    feature = collection["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    assert feature["geometry"]["coordinates"] == pytest.approx(list(INSIDE_A))
    props = feature["properties"]
    for name in ("id", "category_code", "category_name", "status", "reported_at", "deadline_at", "overdue",
                 "description", "cell_code"):
        assert name in props, name
    assert props["id"] == three[0]["id"] and props["overdue"] is False
    assert client.get(URL, headers={**as_user("supervisor"), "Accept": "application/geo+json"}).json()["type"] == (
        "FeatureCollection")


def test_the_map_list_travels_gzipped_to_clients_that_accept_it_and_photos_as_they_are(
    client, as_user, three
) -> None:
    """The map's GeoJSON (three staff features, past the 1 KB threshold) is compressed for a phone that accepts
    gzip; a photo, already compressed, is served byte for byte whatever the client accepts."""
    supervisor = as_user("supervisor")
    zipped = client.get(URL, params={"format": "geojson"}, headers={**supervisor, "Accept-Encoding": "gzip"})
    plain = client.get(URL, params={"format": "geojson"}, headers={**supervisor, "Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.json() == plain.json() and len(plain.json()["features"]) == 3

    noise = io.BytesIO()
    Image.frombytes("RGB", (64, 64), bytes(range(256)) * 48).save(noise, "PNG")  # ~12 KB that PNG cannot shrink
    fields = {"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])}
    created = client.post(URL, data=fields, files=[("photos", ("n.png", noise.getvalue(), "image/png"))],
                          headers=as_user("grid_worker"))
    assert created.status_code == 201, created.text
    served = client.get(created.json()["photos"][0]["url"],
                        headers={**as_user("grid_worker"), "Accept-Encoding": "gzip"})
    assert "content-encoding" not in served.headers and served.content == noise.getvalue()


def test_an_officer_lists_only_the_team_jurisdiction(client, as_user, three) -> None:
    # officer_b's team answers for community B only.
    assert ids(client.get(URL, headers=as_user("officer_b"))) == [three[2]["public_id"]]
    assert len(ids(client.get(URL, headers=as_user("officer")))) == 3  # the subdistrict team
    geo = client.get(URL, params={"format": "geojson"}, headers=as_user("officer_b")).json()
    assert [f["id"] for f in geo["features"]] == [three[2]["public_id"]]  # the map's path, the same scope


def test_a_planner_lists_the_depersonalised_geojson(client, as_user, three) -> None:
    response = client.get(URL, params={"format": "geojson"}, headers=as_user("planner"))
    props = response.json()["features"][0]["properties"]
    assert "description" not in props and "reporter_id" not in props and "address" not in props


@pytest.mark.parametrize(("params", "message"), [
    ({"bbox": "109.72,28.30,109.70,28.31"}, "min must not exceed max"),
    ({"bbox": "1,2,3"}, "four numbers"),
    ({"limt": "5"}, "unknown query parameter 'limt'"),
    ({"status": "lost"}, "status: unknown lost"),
    ({"sort": "colour"}, "sort"),
    ({"limit": "0"}, "limit"),
    ({"reported_from": "2026-03-02T00:00:00"}, "reported_from"),
    ({"cursor": "garbage"}, "cursor"),
    ({"format": "kml"}, "format"),
])
def test_bad_list_parameters_are_422(client, as_user, params, message) -> None:
    response = client.get(URL, params=params, headers=as_user("supervisor"))
    assert response.status_code == 422, response.text
    assert message in response.text


def test_overdue_lists_cases_past_their_deadline(client, as_user, three, db) -> None:
    sup = as_user("supervisor")
    late = move(client, sup, move(client, sup, three[0], "register"), "dispatch")
    db.get(Incident, late["id"]).deadline_at = datetime.now(UTC) - timedelta(hours=1)  # type: ignore[union-attr]
    db.flush()
    assert ids(client.get(f"{URL}/overdue", headers=sup)) == [late["public_id"]]
    assert ids(client.get(URL, params={"overdue": "true"}, headers=sup)) == [late["public_id"]]
    assert len(ids(client.get(URL, params={"overdue": "false"}, headers=sup))) == 2
    geo = client.get(f"{URL}/overdue", params={"format": "geojson"}, headers=sup).json()
    assert geo["features"][0]["properties"]["overdue"] is True


# -- the handling cycle ---------------------------------------------------------------------------------------
def test_a_case_goes_through_the_whole_cycle_and_its_history_tells_it(client, as_user, street_world) -> None:
    case = report(client, as_user("grid_worker"))
    sup, officer = as_user("supervisor"), as_user("officer")
    case = move(client, sup, case, "register")
    case = move(client, sup, case, "dispatch")
    assert case["deadline_at"] is not None and case["status"] == "dispatched"
    case = move(client, officer, case, "take")
    photo = client.post(f"{URL}/{case['id']}/photos", data={"kind": "after"},
                        files=[("photos", ("after.jpg", image(colour=(0, 90, 200)), "image/jpeg"))], headers=officer)
    assert photo.status_code == 201, photo.text
    case = client.get(f"{URL}/{case['id']}", headers=officer).json()  # the photo does not change the version
    case = move(client, officer, case, "handle", note="已清理", photo_ids=[photo.json()[0]["id"]])
    case = move(client, as_user("grid_worker"), case, "verify")
    case = move(client, sup, case, "close")
    assert case["status"] == "closed" and case["closed_at"] is not None and case["version"] == 7
    history = client.get(f"{URL}/{case['id']}/history", headers=sup).json()
    assert [e["action"] for e in history] == ["report", "register", "dispatch", "take", "handle", "verify", "close"]
    assert history[4]["photo_ids"] == [photo.json()[0]["id"]] and history[4]["note"] == "已清理"
    assert history[1]["actor"] == street_world.supervisor.username


def test_a_stale_version_is_409_and_changes_nothing(client, as_user, db) -> None:
    case = report(client, as_user("grid_worker"))
    sup = as_user("supervisor")
    move(client, sup, case, "register")  # now at version 2
    stale = client.post(f"{URL}/{case['id']}/transitions", json={"to": "reject", "note": "重复"},
                        headers={**sup, "If-Match": '"1"'})
    assert stale.status_code == 409 and "version 2, not 1" in stale.json()["detail"]
    current = client.get(f"{URL}/{case['id']}", headers=sup).json()
    assert (current["status"], current["version"]) == ("registered", 2)
    assert counts(db)[1] == 2  # report + register, no third event


def test_the_version_may_come_in_the_body(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/transitions", json={"to": "register", "version": 1},
                           headers=as_user("supervisor"))
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    stale = client.post(f"{URL}/{case['id']}/transitions", json={"to": "dispatch", "version": 1},
                        headers=as_user("supervisor"))
    assert stale.status_code == 409


def test_an_update_without_a_version_is_428(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/transitions", json={"to": "register"}, headers=as_user("supervisor"))
    assert response.status_code == 428 and "If-Match" in response.json()["detail"]


@pytest.mark.parametrize(("to", "status", "message"), [
    ("teleported", 422, "unknown state or action 'teleported'"),
    ("close", 409, "cannot close a case that is reported"),
    ("handled", 403, "role supervisor may not handled"),  # rights first: not "cannot handle a reported case"
])
def test_unknown_or_impossible_moves_are_refused(client, as_user, to, status, message) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/transitions", json={"to": to, "version": 1},
                           headers=as_user("supervisor"))
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_a_move_the_role_may_not_make_is_403_with_the_reason(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/transitions", json={"to": "register", "version": 1},
                           headers=as_user("officer"))
    assert response.status_code == 403
    assert "role officer may not register" in response.json()["detail"]


def test_a_bad_transition_body_is_422(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    for body in ({"to": "register", "version": 1, "colour": "red"}, {"to": "extend", "version": 1, "hours": "NaN"},
                 {"version": 1}, {"to": "register", "version": 0}):
        response = client.post(f"{URL}/{case['id']}/transitions", json=body, headers=as_user("supervisor"))
        assert response.status_code == 422, (body, response.text)


def test_if_match_and_body_version_must_agree(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/transitions", json={"to": "register", "version": 2},
                           headers={**as_user("supervisor"), "If-Match": '"1"'})
    assert response.status_code == 422 and "If-Match says 1" in response.text


# -- duplicates -----------------------------------------------------------------------------------------------
def test_a_report_is_merged_into_the_case_it_repeats(client, as_user) -> None:
    sup = as_user("supervisor")
    first = report(client, as_user("grid_worker"))
    second = report(client, as_user("grid_worker"), at=(INSIDE_A[0] + 0.0001, INSIDE_A[1]))
    candidates = client.get(f"{URL}/{second['id']}/duplicates", headers=sup).json()
    assert [c["public_id"] for c in candidates["possible"]] == [first["public_id"]]
    assert candidates["possible"][0]["distance_m"] == pytest.approx(9.8, abs=0.3)  # 0.0001° of longitude at 28° N
    response = client.post(f"{URL}/{second['id']}/duplicate-of", json={"original": first["public_id"]},
                           headers={**sup, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "duplicate" and response.json()["duplicate_of"] == first["public_id"]
    merged = client.get(f"{URL}/{first['id']}/duplicates", headers=sup).json()["merged"]
    assert [m["public_id"] for m in merged] == [second["public_id"]]
    again = client.post(f"{URL}/{second['id']}/transitions", json={"to": "register", "version": 2}, headers=sup)
    assert again.status_code == 409 and first["public_id"] in again.json()["detail"]


def test_merging_into_an_unknown_case_is_422(client, as_user) -> None:
    case = report(client, as_user("grid_worker"))
    response = client.post(f"{URL}/{case['id']}/duplicate-of", json={"original": "JS-2026-999999", "version": 1},
                           headers=as_user("supervisor"))
    assert response.status_code == 422 and "original" in response.json()["detail"]


# -- photos ---------------------------------------------------------------------------------------------------
def test_photos_are_listed_and_a_fake_one_is_refused(client, as_user, db) -> None:
    case = report(client, as_user("grid_worker"))
    worker = as_user("grid_worker")
    good = client.post(f"{URL}/{case['id']}/photos", files=[("file", ("a.webp", image("WEBP"), "image/webp"))],
                       headers=worker)
    assert good.status_code == 201 and good.json()[0]["content_type"] == "image/webp"
    fake = client.post(f"{URL}/{case['id']}/photos", files=[("photos", ("x.jpg", b"<html>not</html>", "image/jpeg"))],
                       headers=worker)
    assert fake.status_code == 422
    listed = client.get(f"{URL}/{case['id']}/photos", headers=worker).json()
    assert [p["content_type"] for p in listed] == ["image/webp"]
    assert counts(db)[2] == 1


def test_photos_are_served_only_to_those_who_may_see_the_case(client, as_user) -> None:
    photo = [("photos", ("a.jpg", image(), "image/jpeg"))]
    response = client.post(URL, data={"category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])},
                           files=photo, headers=as_user("grid_worker"))
    url = response.json()["photos"][0]["url"]
    assert client.get(url, headers=as_user("officer")).status_code == 200
    assert client.get(url, headers=as_user("officer_b")).status_code == 404  # community A is not team B's
    assert client.get(url, headers=as_user("planner")).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url.rsplit("/", 1)[0] + "/999999", headers=as_user("supervisor")).status_code == 404


def test_the_openapi_document_lists_the_incident_operations(client) -> None:
    spec = client.get("/openapi.json").json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"create_incident", "get_incident", "list_incidents", "transition_incident", "incident_history",
            "add_incident_photos", "incident_duplicates", "list_overdue_incidents", "list_categories"} <= operations
    create = spec["paths"][URL]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(create)


def test_categories_are_listed_for_the_report_form(client) -> None:
    response = client.get("/api/v1/categories")
    assert response.status_code == 200
    by_code = {c["code"]: c for c in response.json()}
    assert by_code["09006"]["name_zh"] == "占道经营" and by_code["09006"]["major_name"] == "街面秩序类"
    assert client.get("/api/v1/categories/99999").status_code == 404


def test_json_in_responses_is_plain_json(client, as_user) -> None:
    created = report(client, as_user("grid_worker"), description="引号\"和反斜杠\\")
    assert json.loads(client.get(f"{URL}/{created['id']}", headers=as_user("supervisor")).text)["description"] == (
        "引号\"和反斜杠\\")


# -- bulk import ------------------------------------------------------------------------------------------------
IMPORT_CSV = (
    "lon,lat,category,description,reported_at,status\n"
    f"{INSIDE_A[0]},{INSIDE_A[1]},09006,历史案件一,2025-06-01T09:00:00+08:00,closed\n"
    f"{INSIDE_B[0]},{INSIDE_B[1]},06001,历史案件二,2025-06-02 10:00,reported\n"
    f"{INSIDE_A[1]},{INSIDE_A[0]},09006,经纬度写反,2025-06-03T09:00:00+08:00,reported\n"
    "109.9,28.305,77777,未知类别且在外面,,\n"
)


def test_an_import_with_refused_rows_writes_nothing_by_default_and_lists_them(client, as_user, db) -> None:
    response = client.post(f"{URL}/import", files={"file": ("hotline.csv", IMPORT_CSV.encode(), "text/csv")},
                           headers=as_user("supervisor"))
    assert response.status_code == 422, response.text
    report = response.json()
    assert (report["total"], report["imported"], report["all_or_nothing"]) == (4, 0, True)
    refused = {(r["row"], r["field"]) for r in report["refused"]}
    assert (4, "lon/lat") in refused and (5, "category") in refused and (5, "location") in refused
    assert counts(db)[0] == 0


def test_an_import_may_keep_the_good_rows(client, as_user, db) -> None:
    response = client.post(f"{URL}/import", data={"all_or_nothing": "false"},
                           files={"file": ("hotline.csv", IMPORT_CSV.encode(), "text/csv")},
                           headers=as_user("supervisor"))
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 2 and {r["row"] for r in response.json()["refused"]} == {4, 5}
    stored = db.scalars(select(Incident).order_by(Incident.reported_at)).all()
    assert [(i.category_code, i.community_code, i.status) for i in stored] == [
        ("09006", COMMUNITY_A, "closed"), ("06001", COMMUNITY_B, "reported")]


def test_a_geojson_import_is_read_too(client, as_user, db) -> None:
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(INSIDE_B)},
         "properties": {"category": "09006", "description": "<script>x</script>"}}]}
    response = client.post(f"{URL}/import", files={"file": ("old.geojson", json.dumps(collection).encode(),
                                                            "application/geo+json")}, headers=as_user("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["imported"] == 1
    assert db.scalar(select(Incident.description)) == "<script>x</script>"


def test_an_import_of_another_kind_of_file_is_refused(client, as_user) -> None:
    response = client.post(f"{URL}/import", files={"file": ("cases.xlsx", b"PK\x03\x04", "application/zip")},
                           headers=as_user("supervisor"))
    assert response.status_code == 422 and "neither .csv nor .geojson" in response.json()["detail"]
    broken = client.post(f"{URL}/import", files={"file": ("cases.geojson", b"{not json", "application/json")},
                         headers=as_user("supervisor"))
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]


# -- what a grid worker sees -----------------------------------------------------------------------------------
def test_a_grid_worker_reads_the_cases_of_their_cells_and_their_own_reports_only(
    client, as_user, street_world, db
) -> None:
    from gis.people.users import assign_cells

    worker = street_world.grid_worker
    assign_cells(db, worker, [f"{COMMUNITY_A}002"])
    db.flush()
    in_my_cell = report(client, as_user("supervisor"), at=INSIDE_A)
    elsewhere = report(client, as_user("supervisor"), at=INSIDE_B)
    mine_elsewhere = report(client, as_user("grid_worker"), at=INSIDE_B)

    listed = client.get(URL, headers=as_user("grid_worker")).json()
    ids = {item["id"] for item in (listed["items"] if isinstance(listed, dict) else listed)}
    assert ids == {in_my_cell["id"], mine_elsewhere["id"]}
    geo = client.get(URL, params={"format": "geojson"}, headers=as_user("grid_worker")).json()
    assert {f["properties"]["id"] for f in geo["features"]} == ids  # the worker's map: the same cases
    assert client.get(f"{URL}/{in_my_cell['id']}", headers=as_user("grid_worker")).status_code == 200
    assert client.get(f"{URL}/{mine_elsewhere['id']}", headers=as_user("grid_worker")).status_code == 200
    refused = client.get(f"{URL}/{elsewhere['id']}", headers=as_user("grid_worker"))
    assert refused.status_code == 404  # the same answer as for no case at all
    assert "patrols" not in refused.json()["detail"]


def test_nearby_lists_open_cases_of_the_category_with_their_distance_before_a_report(client, as_user) -> None:
    first = report(client, as_user("grid_worker"))
    report(client, as_user("grid_worker"), category="06001")  # another category: not a duplicate
    x, y = INSIDE_A
    response = client.get(f"{URL}/nearby", params={"lon": x + 0.0002, "lat": y, "category": "09006"},
                          headers=as_user("grid_worker"))
    assert response.status_code == 200, response.text
    found = response.json()
    assert [f["public_id"] for f in found] == [first["public_id"]]
    assert found[0]["distance_m"] == pytest.approx(19.6, abs=0.5)
    far = client.get(f"{URL}/nearby", params={"lon": x + 0.002, "lat": y, "category": "09006"},
                     headers=as_user("grid_worker"))
    assert far.json() == []
    bad = client.get(f"{URL}/nearby", params={"lon": x, "lat": y, "category": "x"}, headers=as_user("grid_worker"))
    assert bad.status_code == 422
    assert client.get(f"{URL}/nearby", params={"lon": x, "lat": y, "category": "09006"},
                      headers=as_user("planner")).status_code == 403


def test_the_apps_own_settings_number_its_cases_on_both_create_paths(
    settings, sessions, street_world: StreetWorld, auth_headers: Callable[[User], Headers]
) -> None:
    # A deployment's case prefix is the app's setting, not whatever the process's environment says: the
    # one-statement path (JSON, no photo) and the detailed one (a photo) both take it from create_app.
    other_city = create_app(settings.model_copy(update={"case_prefix": "XY"}), sessions=sessions)
    headers = auth_headers(street_world.grid_worker)
    with TestClient(other_city) as client:
        fast = report(client, headers)
        detailed = client.post(URL, headers=headers, data={
            "category_code": "09006", "lon": str(INSIDE_A[0]), "lat": str(INSIDE_A[1])},
            files={"photos": ("a.jpg", image(), "image/jpeg")})
    assert fast["public_id"].startswith("XY-"), fast["public_id"]
    assert detailed.status_code == 201, detailed.text
    assert detailed.json()["public_id"].startswith("XY-")
