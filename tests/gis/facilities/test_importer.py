from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.areas.boundaries import import_boundaries
from gis.errors import InvalidInput, ValidationFailed
from gis.facilities.importer import import_files, load_sample_facilities
from gis.models import Facility, FacilityType, Unit, UnitPairing
from gis.settings import PROJECT_ROOT, Settings
from tests.common import write_raw_geojson
from tests.facility_world import (
    FACILITY_HEADER,
    INSIDE,
    OUTSIDE,
    PAIRING_HEADER,
    UNIT_HEADER,
    facility_row,
    write_csv,
    write_import_files,
)
from tests.factories import FIRST_COMMUNITY, add_world

SAMPLE = PROJECT_ROOT / "data" / "facilities"
RONGCHANGPING = "433101007002"

@pytest.fixture
def files(db: Session, tmp_path: Path) -> dict[str, Path]:
    return write_import_files(db, tmp_path)


def counts(db: Session) -> tuple[int, int, int]:
    return (db.scalar(select(func.count()).select_from(Unit)) or 0,
            db.scalar(select(func.count()).select_from(UnitPairing)) or 0,
            db.scalar(select(func.count()).select_from(Facility)) or 0)


def test_units_pairings_and_facilities_are_imported_with_their_fields(db: Session, files: dict[str, Path]) -> None:
    summary = import_files(db, [files["facilities"], files["units"], files["pairings"]])
    assert str(summary) == ("units: 2 added, 0 changed, 0 unchanged; pairings: 1 added, 0 changed, 0 unchanged; "
                            "facilities: 3 added, 0 changed, 0 unchanged")
    lot = db.scalar(select(Facility).where(Facility.name == "停车场"))
    assert lot is not None
    assert (lot.community_code, lot.capacity_unit, lot.open_capacity) == (FIRST_COMMUNITY, "spaces", 90)
    assert lot.opening_hours == "Mo-Fr 18:30-07:30; Sa-Su 00:00-24:00"
    assert len(lot.holidays) == 3 and lot.booking_required is True


def test_importing_the_same_files_twice_changes_nothing(db: Session, files: dict[str, Path]) -> None:
    import_files(db, list(files.values()))
    again = import_files(db, list(files.values()))
    assert (again.units.unchanged, again.pairings.unchanged, again.facilities.unchanged) == (2, 1, 3)
    assert counts(db) == (2, 1, 3)


def test_a_changed_row_updates_its_facility(db: Session, files: dict[str, Path], tmp_path: Path) -> None:
    import_files(db, list(files.values()))
    changed = write_csv(tmp_path, "facilities.csv", FACILITY_HEADER, [facility_row(capacity=80)])
    summary = import_files(db, [changed])
    assert (summary.facilities.changed, summary.facilities.added) == (1, 0)
    assert db.scalar(select(Facility.open_capacity).where(Facility.name == "会议室")) == 40


def test_a_facility_outside_every_community_fails_the_whole_import(db: Session, files: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    bad = write_csv(tmp_path, "facilities.csv", FACILITY_HEADER, [facility_row(), facility_row("远处", at=OUTSIDE)])
    with pytest.raises(ValidationFailed) as failed:
        import_files(db, [files["units"], files["pairings"], bad])
    assert [p.feature for p in failed.value.errors] == ["facilities.csv row 3 远处"]
    assert "outside every community" in failed.value.errors[0].message
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(("changes", "names"), [
    ({"opening_hours": "Mo-Fr 25:00-26:00"}, "opening_hours"),
    ({"opening_hours": "周八 08:00-09:00"}, "unknown day"),
    ({"type": "swimming_pool"}, "type: 'swimming_pool'"),
    ({"capacity": "many"}, "capacity: 'many' is not a number"),
    ({"open_share": "130%"}, "open_share"),
    ({"booking_required": "maybe"}, "booking_required"),
    ({"holidays": "十月一日"}, "holidays"),
    ({"unit": "不存在的单位"}, "unit: no unit named"),
])
def test_each_bad_field_is_named_and_nothing_is_written(db: Session, files: dict[str, Path], tmp_path: Path,
                                                        changes: dict[str, object], names: str) -> None:
    bad = write_csv(tmp_path, "facilities.csv", FACILITY_HEADER, [facility_row(**changes)])
    with pytest.raises(ValidationFailed) as failed:
        import_files(db, [files["units"], bad])
    assert any(names in p.message for p in failed.value.errors), failed.value
    assert counts(db) == (0, 0, 0)


def test_bad_units_and_pairings_are_reported_together(db: Session, tmp_path: Path) -> None:
    add_world(db)
    units = write_csv(tmp_path, "units.csv", UNIT_HEADER, [
        ["甲", "bank", "", "", "", "", "", ""], ["乙", "school", "91433101MA1000011X", "", "", "", "", ""]])
    pairings = write_csv(tmp_path, "pairings.csv", PAIRING_HEADER, [
        ["乙", "433101999999", "2023-02-30", ""]])
    with pytest.raises(ValidationFailed) as failed:
        import_files(db, [units, pairings])
    messages = " | ".join(p.message for p in failed.value.errors)
    for expected in ("kind: 'bank'", "credit_code", "since: '2023-02-30'", "433101999999"):
        assert expected in messages


def test_duplicate_facility_names_of_one_unit_are_refused(db: Session, files: dict[str, Path],
                                                          tmp_path: Path) -> None:
    dup = write_csv(tmp_path, "facilities.csv", FACILITY_HEADER, [facility_row(), facility_row()])
    with pytest.raises(ValidationFailed, match="appears twice"):
        import_files(db, [files["units"], dup])


def test_a_geojson_point_file_is_imported_like_a_csv(db: Session, files: dict[str, Path], tmp_path: Path) -> None:
    from shapely.geometry import Point

    props = dict(zip(FACILITY_HEADER, facility_row("文化室", type="culture_room"), strict=True))
    del props["lon"], props["lat"]
    path = write_raw_geojson(tmp_path, [{"properties": props, "geometry": Point(*INSIDE)}], "facilities.geojson")
    summary = import_files(db, [files["units"], path])
    assert summary.facilities.added == 1


def test_a_file_of_unknown_columns_is_refused_naming_what_each_kind_needs(db: Session, tmp_path: Path) -> None:
    odd = write_csv(tmp_path, "odd.csv", ["foo", "bar"], [[1, 2]])
    with pytest.raises(InvalidInput, match="cannot tell what the file holds"):
        import_files(db, [odd])


def test_the_jishou_sample_loads_idempotently_with_every_type_and_the_press_named_units(db: Session) -> None:
    import_boundaries(db, PROJECT_ROOT / "data" / "boundaries" / "jishou_admin.geojson", settings=Settings())
    first = load_sample_facilities(db, SAMPLE)
    assert first.facilities.added >= 30
    again = load_sample_facilities(db, SAMPLE)
    assert (again.units.added, again.units.changed, again.facilities.added, again.facilities.changed) == (0, 0, 0, 0)
    types = set(db.scalars(select(Facility.type)))
    assert types == {t.value for t in FacilityType}
    paired = set(db.scalars(select(Unit.name).join(UnitPairing).where(UnitPairing.community_code == RONGCHANGPING)))
    assert {"湘西土家族苗族自治州人民医院", "吉首大学", "湘西州眼科医院"} <= paired
    opened = set(db.scalars(select(Facility.type).join(Unit).where(Unit.name.in_(paired))))
    assert {"parking_lot", "meeting_room"} <= opened


def test_the_sample_files_are_what_the_generator_makes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_jishou_facilities.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.build().items():
        assert (SAMPLE / name).read_text(encoding="utf-8") == text, name
