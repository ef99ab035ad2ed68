import csv
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents import bulk_copy
from gis.incidents.bulk_import import import_incidents
from gis.incidents.sources import SourceOptions, parse_columns
from gis.models import Incident, IncidentEvent
from gis.settings import Settings
from gis.spatial.crs import wgs84_to_gcj02
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B, INSIDE_A, INSIDE_B, StreetWorld

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HEADER = ["lon", "lat", "category", "description", "reported_at", "status", "source", "closed_at", "address"]


def write_csv(folder: Path, rows: list[dict[str, object]], name: str = "cases.csv") -> Path:
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in HEADER})
    return path


def good(**changes: object) -> dict[str, object]:
    return {"lon": INSIDE_A[0], "lat": INSIDE_A[1], "category": "09006", "description": "门店出店经营",
            "reported_at": "2025-06-01T10:00:00+08:00", "status": "closed", "source": "hotline_12345",
            "closed_at": "2025-06-02T10:00:00+08:00", **changes}


def counts(db: Session) -> tuple[int, int]:
    return (db.scalar(select(func.count()).select_from(Incident)) or 0,
            db.scalar(select(func.count()).select_from(IncidentEvent)) or 0)


def test_good_rows_are_located_and_written_with_one_import_event_each(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    text_with_everything = '<script>alert(1)</script>\t制表\n换行 \\ 反斜杠 "引号"'
    path = write_csv(tmp_path, [
        good(description=text_with_everything, address="  "),
        good(lon=INSIDE_B[0], lat=INSIDE_B[1], status="", source="", closed_at="", reported_at="2025-06-03 08:00"),
    ])
    report = import_incidents(db, path, now=NOW, actor=street_world.supervisor)
    assert (report.total, report.imported, report.refused) == (2, 2, [])
    first, second = db.scalars(select(Incident).order_by(Incident.id)).all()
    assert (first.community_code, first.cell_code, first.subdistrict_code, first.team_id) == (
        COMMUNITY_A, f"{COMMUNITY_A}002", "433101004000", street_world.subdistrict_team.id)
    assert first.description == text_with_everything and first.address is None
    assert (first.status, first.source, first.version) == ("closed", "hotline_12345", 1)
    assert first.closed_at == datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
    assert first.public_id == f"JS-2025-{first.id:06d}"
    assert (second.community_code, second.team_id) == (COMMUNITY_B, street_world.community_b_team.id)
    assert (second.status, second.source, second.closed_at) == ("reported", "import", None)
    assert second.reported_at == datetime(2025, 6, 3, 0, 0, tzinfo=UTC)  # no zone: Beijing time
    events = db.scalars(select(IncidentEvent).order_by(IncidentEvent.incident_id)).all()
    assert [(e.incident_id, e.action, e.from_status, e.to_status, e.actor_id) for e in events] == [
        (first.id, "import", None, "closed", street_world.supervisor.id),
        (second.id, "import", None, "reported", street_world.supervisor.id),
    ]
    assert events[1].data == {"file": "cases.csv", "row": 3}
    lon, lat = db.execute(select(func.ST_X(Incident.location), func.ST_Y(Incident.location))
                          .where(Incident.id == first.id)).one()
    assert (lon, lat) == pytest.approx(INSIDE_A, abs=1e-9)


BAD_ROWS = [
    (good(category=""), "category", "required"),
    (good(category="99999"), "category", "unknown or inactive code '99999'"),
    (good(lon="200"), "lon", "200.0 is outside [-180, 180]"),
    (good(lat="-95"), "lat", "-95.0 is outside [-90, 90]"),
    (good(lon="NaN"), "lon", "finite number"),
    (good(lat="Infinity"), "lat", "finite number"),
    (good(lon="east"), "lon", "finite number"),
    (good(lon=INSIDE_A[1], lat=INSIDE_A[0]), "lon/lat", "swapped"),
    (good(lon=109.725, lat=28.305), "location", "outside every community; the nearest is 万溶江社区 (433101004002)"),
    (good(description="占" * 4001), "description", "4001 characters is more than 4000"),
    (good(status="finished"), "status", "unknown 'finished'"),
    (good(status="duplicate"), "status", "unknown 'duplicate'"),
    (good(source="pigeon"), "source", "unknown 'pigeon'"),
    (good(reported_at="yesterday"), "reported_at", "not an ISO 8601 date-time"),
    (good(reported_at="2027-01-01T00:00:00+08:00", closed_at=""), "reported_at", "in the future"),
    (good(status="dispatched"), "closed_at", "not closed, rejected or void"),
    (good(closed_at="2025-05-01T00:00:00+08:00"), "closed_at", "before reported_at"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD_ROWS, ids=[f"{f}:{r[:20]}" for _, f, r in BAD_ROWS])
def test_a_bad_row_is_refused_with_its_row_field_and_reason_and_nothing_is_written(
    db: Session, street_world: StreetWorld, tmp_path: Path, row, field, reason
) -> None:
    report = import_incidents(db, write_csv(tmp_path, [good(), row, good()]), now=NOW)
    assert report.imported == 0 and counts(db) == (0, 0)
    assert [(r.row, r.field) for r in report.refused] == [(3, field)]
    assert reason in report.refused[0].reason


def test_the_distance_to_the_nearest_community_is_in_metres(db: Session, street_world, tmp_path: Path) -> None:
    report = import_incidents(db, write_csv(tmp_path, [good(lon=109.725, lat=28.305)]), now=NOW)
    metres = float(report.refused[0].reason.split(", ")[-1].split(" m")[0].replace(",", ""))
    assert 480 < metres < 500  # 0.005° of longitude at 28.3°N


def test_a_point_a_few_metres_outside_goes_to_the_nearest_community(db: Session, street_world, tmp_path: Path) -> None:
    metre = 1 / (111_320 * math.cos(math.radians(28.305)))
    path = write_csv(tmp_path, [good(lon=109.72 + 3 * metre, lat=28.305), good(lon=109.72 + 8 * metre, lat=28.305)])
    report = import_incidents(db, path, all_or_nothing=False, now=NOW)
    assert report.imported == 1 and [(r.row, r.field) for r in report.refused] == [(3, "location")]
    assert "8 m away" in report.refused[0].reason
    assert db.execute(select(Incident.community_code, Incident.cell_code)).one() == (COMMUNITY_B, f"{COMMUNITY_B}003")


def test_skip_bad_writes_the_good_rows_and_reports_the_others(db: Session, street_world, tmp_path: Path) -> None:
    path = write_csv(tmp_path, [good(), good(category="99999", lon="NaN"), good(), good(status="nope")])
    report = import_incidents(db, path, all_or_nothing=False, now=NOW)
    assert (report.imported, report.refused_rows) == (2, 2)
    assert [(r.row, r.field) for r in report.refused] == [(3, "category"), (3, "lon"), (5, "status")]
    assert counts(db) == (2, 2)
    assert str(report).startswith("2 of 4 incidents imported")


def test_a_gcj02_file_is_converted_before_it_is_located(db: Session, street_world, tmp_path: Path) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(109.7095, 28.305)  # GCJ-02 form lies in B; the true point is in A
    report = import_incidents(db, write_csv(tmp_path, [good(lon=gcj_lon, lat=gcj_lat)]), datum="gcj02", now=NOW)
    assert report.imported == 1
    assert db.scalar(select(Incident.community_code)) == COMMUNITY_A


def test_a_geojson_file_is_read_from_its_points(db: Session, street_world, tmp_path: Path) -> None:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(INSIDE_B)},
         "properties": {"category": "06010", "description": "垃圾", "reported_at": "2025-01-05T09:00:00+08:00"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[109.7, 28.3], [109.71, 28.3]]},
         "properties": {"category": "06010"}},
        {"type": "Feature", "geometry": None, "properties": {"category": "06010"}},
    ]
    path = tmp_path / "cases.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    report = import_incidents(db, path, all_or_nothing=False, now=NOW)
    assert report.imported == 1
    assert [(r.row, r.field) for r in report.refused if r.field == "geometry"] == [(2, "geometry"), (3, "geometry")]
    assert db.scalar(select(Incident.community_code)) == COMMUNITY_B


@pytest.mark.parametrize(("name", "content", "message"), [
    ("cases.csv", "lon,lat,description\n109.7,28.3,x\n", "missing column"),
    ("cases.txt", "whatever", "cannot be read .* — fix: give a GeoJSON"),  # GDAL tried every format it knows
    ("cases.geojson", '{"type": "Feature"}', "FeatureCollection"),
    ("cases.geojson", "{not json", "not valid JSON"),
])
def test_an_unreadable_file_is_refused_whole(db: Session, street_world, tmp_path: Path, name, content, message) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        import_incidents(db, path, now=NOW)


def test_an_empty_file_imports_nothing(db: Session, street_world, tmp_path: Path) -> None:
    report = import_incidents(db, write_csv(tmp_path, []), now=NOW)
    assert (report.total, report.imported, report.refused) == (0, 0, [])


def test_a_bulk_load_restores_every_foreign_key(
    db: Session, street_world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the planner's estimate of the table's size after earlier tests: every load here is "bulk".
    monkeypatch.setattr(bulk_copy, "drops_indexes", lambda session, rows: rows >= 2)
    keys = text("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid IN ('incident'::regclass, 'incident_event'::regclass)")
    before = db.scalar(keys)
    report = import_incidents(db, write_csv(tmp_path, [good(), good(), good()]), now=NOW, offline=True)
    assert report.imported == 3 and db.scalar(keys) == before == 6
    with pytest.raises(Exception, match="fk_incident_team_id_team"), db.begin_nested():
        db.execute(text("UPDATE incident SET team_id = 987654 WHERE id = (SELECT min(id) FROM incident)"))


# -- the bulk path drops indexes and foreign keys: every one must come back, on success and on failure -----
# Indexes and constraints on the incident tables and keys from other tables into them, with the full
# definition as PostgreSQL prints it (columns, method, partial predicate, ON DELETE, validated or not).
CATALOGUE = text("""
    SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), i.indisvalid::text
    FROM pg_index i
    WHERE i.indrelid IN ('incident'::regclass, 'incident_event'::regclass)
    UNION ALL
    SELECT 'constraint ' || c.contype::text, c.conrelid::regclass::text || '.' || c.conname,
           pg_get_constraintdef(c.oid), c.convalidated::text
    FROM pg_constraint c
    WHERE c.conrelid IN ('incident'::regclass, 'incident_event'::regclass)
       OR c.confrelid IN ('incident'::regclass, 'incident_event'::regclass)
    ORDER BY 1, 2
""")


def catalogue(db: Session) -> list[tuple[str, ...]]:
    return [tuple(row) for row in db.execute(CATALOGUE)]


@pytest.fixture
def bulk(monkeypatch: pytest.MonkeyPatch, db: Session) -> Iterator[list[str]]:
    """Every load of two rows or more takes the bulk path; yields the DDL statements the session sends."""
    # Whatever the planner's estimate of the table's size after earlier tests: every load here is "bulk".
    monkeypatch.setattr(bulk_copy, "drops_indexes", lambda session, rows: rows >= 2)
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("DROP ", "ALTER ", "CREATE ")):
            sent.append(statement.strip())

    connection = db.connection()
    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


def test_only_a_load_of_bulk_size_and_at_least_the_table_s_size_drops_indexes(db: Session) -> None:
    assert not bulk_copy.drops_indexes(db, bulk_copy.BULK_ROWS - 1)
    assert bulk_copy.drops_indexes(db, 10**9)
    estimate = db.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'incident'::regclass")) or 0
    db.execute(text("UPDATE pg_class SET reltuples = 10e6 WHERE oid = 'incident'::regclass"))  # rolled back
    assert not bulk_copy.drops_indexes(db, bulk_copy.BULK_ROWS)  # small beside the table
    assert estimate < 10e6


def test_the_catalogue_query_sees_the_indexes_and_keys_of_the_incident_tables(db: Session) -> None:
    names = {row[1] for row in catalogue(db)}
    assert {"ix_incident_open_status", "ix_incident_open_deadline", "idx_incident_location",
            "ix_incident_event_incident_id", "incident.fk_incident_team_id_team",
            "incident_event.fk_incident_event_incident_id_incident"} <= names
    assert any(name.startswith("incident_photo.") for name in names)  # keys into incident from elsewhere


def test_a_bulk_load_gives_back_every_index_and_foreign_key_as_it_was(
    db: Session, street_world, tmp_path: Path, bulk: list[str]
) -> None:
    before = catalogue(db)
    report = import_incidents(db, write_csv(tmp_path, [good(), good(lon=INSIDE_B[0], lat=INSIDE_B[1]), good()]),
                              now=NOW, offline=True)
    assert report.imported == 3 and counts(db) == (3, 3)
    assert any(s.startswith("DROP INDEX") for s in bulk) and any("DROP CONSTRAINT" in s for s in bulk), (
        "the bulk path was not taken")
    after = catalogue(db)
    assert [row[1] for row in after] == [row[1] for row in before]  # no index or key missing, none added
    assert after == before  # same columns, method, predicates, ON DELETE, valid
    with pytest.raises(Exception, match="fk_incident_event_incident_id_incident"), db.begin_nested():
        db.execute(text("UPDATE incident_event SET incident_id = 987654 "
                        "WHERE id = (SELECT min(id) FROM incident_event)"))


def test_a_bulk_load_leaves_partial_indexes_and_their_predicates_as_the_migrations_made_them(
    db: Session, street_world, tmp_path: Path, bulk: list[str]
) -> None:
    before = catalogue(db)
    assert import_incidents(db, write_csv(tmp_path, [good(), good()]), now=NOW, offline=True).imported == 2
    assert any(s.startswith("DROP INDEX") for s in bulk), "the bulk path was not taken"
    assert not any("ix_incident_open_" in s for s in bulk)
    assert catalogue(db) == before  # word for word: a re-created predicate would come back reworded


def test_an_online_load_of_bulk_size_drops_nothing_so_the_city_keeps_running(
    db: Session, street_world, tmp_path: Path, bulk: list[str]
) -> None:
    before = catalogue(db)
    report = import_incidents(db, write_csv(tmp_path, [good(), good(), good()]), now=NOW)
    assert report.imported == 3 and bulk == [] and catalogue(db) == before


def test_an_all_or_nothing_import_refusing_a_row_leaves_every_index_and_key_alone(
    db: Session, street_world, tmp_path: Path, bulk: list[str]
) -> None:
    before = catalogue(db)
    report = import_incidents(db, write_csv(tmp_path, [good(), good(category="99999"), good()]), now=NOW, offline=True)
    assert report.imported == 0 and counts(db) == (0, 0)
    assert bulk == [] and catalogue(db) == before


@pytest.mark.parametrize("stage", ["copy incidents", "import events"])
def test_an_import_failing_half_way_and_rolled_back_loses_no_index_or_key(
    db: Session, street_world, tmp_path: Path, bulk: list[str], monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    before = catalogue(db)
    sent = bulk_copy._send

    def fail_at_stage(copy, columns, n, name, progress):  # type: ignore[no-untyped-def]
        if name == stage:
            raise RuntimeError(f"disk full during {name}")
        sent(copy, columns, n, name, progress)

    monkeypatch.setattr(bulk_copy, "_send", fail_at_stage)
    path = write_csv(tmp_path, [good(), good(), good()])
    # As the CLI and the API do: the import is one unit of work, rolled back whole when it raises.
    with pytest.raises(RuntimeError, match="disk full"), db.begin_nested():
        import_incidents(db, path, now=NOW, offline=True)
    assert any(s.startswith("DROP INDEX") for s in bulk), "the failure came before the indexes were dropped"
    assert counts(db) == (0, 0)
    assert catalogue(db) == before  # word for word: the rollback undid the drops
    monkeypatch.setattr(bulk_copy, "_send", sent)
    assert import_incidents(db, path, now=NOW).imported == 3  # and the next import goes through


# -- sources that do not speak our columns (issue 15) ---------------------------------------------


def test_times_without_a_zone_are_read_in_the_time_zone_asked_for(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    path = tmp_path / "311.csv"
    path.write_text("Longitude,Latitude,Complaint Type,Created Date\n"
                    f"{INSIDE_A[0]},{INSIDE_A[1]},Street vending,01/05/2017 09:15:00 PM\n", encoding="gbk")
    source = SourceOptions(columns=parse_columns('lon=Longitude,lat=Latitude,category="Complaint Type",'
                                                 'reported_at="Created Date"'),
                           categories={"Street vending": "09006"}, timezone="America/New_York",
                           time_format="%m/%d/%Y %I:%M:%S %p")

    report = import_incidents(db, path, now=NOW, source=source)

    assert (report.imported, report.refused) == (1, [])
    stored = db.scalar(select(Incident))
    assert stored is not None and stored.category_code == "09006"
    assert stored.reported_at == datetime(2017, 1, 6, 2, 15, tzinfo=UTC)  # 21:15 EST is 02:15 UTC next day


def test_a_case_number_takes_the_year_in_the_city_s_time_zone(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, [good(reported_at="2026-12-31 23:30", closed_at="", status="")])
    settings = Settings(database_url="postgresql://unused/unused", timezone="America/New_York", case_prefix="NYC")

    import_incidents(db, path, now=datetime(2027, 1, 2, tzinfo=UTC), settings=settings)

    stored = db.scalar(select(Incident))
    assert stored is not None and stored.reported_at == datetime(2027, 1, 1, 4, 30, tzinfo=UTC)
    assert stored.public_id == f"NYC-2026-{stored.id:06d}"  # the year in New York, not in Beijing (2027)


def test_the_settings_time_zone_is_the_default_for_naive_times(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, [good(reported_at="2025-06-03 08:00", closed_at="", status="")])
    settings = Settings(database_url="postgresql://unused/unused", timezone="America/Chicago")

    import_incidents(db, path, now=NOW, settings=settings)

    assert db.scalar(select(Incident.reported_at)) == datetime(2025, 6, 3, 13, 0, tzinfo=UTC)  # CDT is UTC-5


def test_values_missing_from_the_categories_map_are_refused_and_counted(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    path = write_csv(tmp_path, [good(category="Street vending"), good(category="Noise"), good(category="Noise")])

    report = import_incidents(db, path, now=NOW, all_or_nothing=False,
                              source=SourceOptions(categories={"Street vending": "09006"}))

    assert report.imported == 1 and report.unknown_categories == {"Noise": 2}
    missing = "'Noise' is not in the categories map"
    assert [(r.row, r.field, r.reason) for r in report.refused] == [(3, "category", missing), (4, "category", missing)]


def test_with_a_snap_tolerance_of_zero_a_point_just_outside_is_refused(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    metre = 1 / (111_320 * math.cos(math.radians(28.305)))
    path = write_csv(tmp_path, [good(lon=109.72 + 3 * metre, lat=28.305)])  # 3 m east of the streets' edge

    snapped = import_incidents(db, path, now=NOW, edge_tolerance_m=5)
    assert (snapped.imported, snapped.snapped) == (1, 1) and "1 points snapped" in str(snapped)
    refused = import_incidents(db, path, now=NOW, edge_tolerance_m=0)
    assert (refused.imported, refused.snapped, [r.field for r in refused.refused]) == (0, 0, ["location"])


def test_an_open311_requests_dump_of_another_system_is_a_source(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    requests = [
        {"service_request_id": "638344", "status": "closed", "service_name": "Street vending",
         "service_code": "SV-1", "description": "门店出店经营", "requested_datetime": "2025-06-01T10:00:00+08:00",
         "updated_datetime": "2025-06-02T10:00:00+08:00", "address": "乾州路 1 号", "lat": INSIDE_A[1],
         "long": INSIDE_A[0], "media_url": None},
        {"service_request_id": "638345", "status": "open", "service_code": "SV-1",
         "requested_datetime": "2025-06-03T08:00:00+08:00", "lat": INSIDE_B[1], "long": INSIDE_B[0]},
    ]
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(requests, ensure_ascii=False), encoding="utf-8")

    report = import_incidents(db, path, now=NOW, source=SourceOptions(categories={"SV-1": "09006"}))

    assert (report.imported, report.refused) == (2, [])
    first, second = db.scalars(select(Incident).order_by(Incident.id)).all()
    assert (first.status, first.category_code, first.address, first.community_code) == (
        "closed", "09006", "乾州路 1 号", COMMUNITY_A)
    assert first.closed_at == datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
    assert (second.status, second.community_code, second.closed_at) == ("reported", COMMUNITY_B, None)



def test_ids_and_case_numbers_follow_the_file(db: Session, street_world: StreetWorld, tmp_path: Path) -> None:
    rows = [good(lon=INSIDE_B[0], lat=INSIDE_B[1]), good(), good(lon=INSIDE_B[0], lat=INSIDE_B[1]), good()]
    import_incidents(db, write_csv(tmp_path, rows), now=NOW)

    stored = db.execute(select(Incident.id, Incident.public_id, Incident.community_code, IncidentEvent.data)
                        .join(IncidentEvent, IncidentEvent.incident_id == Incident.id).order_by(Incident.id)).all()
    assert [data["row"] for *_, data in stored] == [2, 3, 4, 5]  # the file's data rows, in id order
    assert [community for _, _, community, _ in stored] == [COMMUNITY_B, COMMUNITY_A, COMMUNITY_B, COMMUNITY_A]
    assert [public_id for _, public_id, *_ in stored] == sorted(public_id for _, public_id, *_ in stored)
