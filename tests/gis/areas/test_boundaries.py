from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, Point, box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.areas.boundaries import import_boundaries
from gis.areas.import_summary import ImportSummary
from gis.areas.schemes import CodeScheme
from gis.errors import ValidationFailed
from gis.models import AdminArea, AdminLevel
from gis.settings import PROJECT_ROOT, Settings
from gis.spatial.crs import InputDatum, convert_geometry
from tests.common import (
    CITY,
    COMMUNITIES,
    PREFECTURE,
    QIANZHOU,
    area,
    bow_tie,
    jishou_world,
    replace,
    write_geojson,
    write_raw_geojson,
    write_shapefile,
)

SETTINGS = Settings(database_url="postgresql://unused/unused")
SOUTH, NORTH = "433101004001", "433101004002"  # the two communities of 乾州街道, meeting at lat 28.29


def load(db: Session, path: Path, **options: object) -> ImportSummary:
    return import_boundaries(db, path, settings=SETTINGS, **options)  # type: ignore[arg-type]


def current(db: Session) -> dict[str, AdminArea]:
    rows = db.scalars(select(AdminArea).where(AdminArea.valid_to.is_(None))).all()
    return {row.code: row for row in rows}


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(AdminArea)) or 0


def failure(db: Session, path: Path, **options: object) -> ValidationFailed:
    before = count(db)
    with pytest.raises(ValidationFailed) as caught:
        load(db, path, **options)
    assert count(db) == before
    return caught.value


def messages(failed: ValidationFailed) -> str:
    return "\n".join(str(p) for p in failed.errors)


def metric_area(geom: shapely.Geometry) -> float:
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(SETTINGS.metric_crs).area.iloc[0])


def test_a_world_of_eight_areas_is_imported_with_its_levels_and_parents(db: Session, tmp_path: Path) -> None:
    summary = load(db, write_geojson(tmp_path, jishou_world()))

    assert (summary.added, summary.changed, summary.unchanged) == (8, 0, 0)
    stored = current(db)
    assert stored[QIANZHOU].name == "乾州街道"
    assert stored[QIANZHOU].level == "subdistrict"
    assert stored[QIANZHOU].parent_code == CITY
    assert stored[PREFECTURE].parent_code is None
    assert stored[SOUTH].valid_from == date.today()
    assert to_shape(stored[SOUTH].geom).equals(MultiPolygon([box(109.70, 28.25, 109.73, 28.29)]))
    assert (stored[SOUTH].source or "").endswith("areas.geojson")


def test_progress_is_reported_per_stage_up_to_its_total(db: Session, tmp_path: Path) -> None:
    reports: list[tuple[str, int, int | None]] = []

    load(db, write_geojson(tmp_path, jishou_world()), progress=lambda *report: reports.append(report))

    last = {stage: (done, total) for stage, done, total in reports}
    assert last == {"reading": (1, 1), "validating": (8, 8), "writing": (8, 8)}
    assert reports[0][0] == "reading"


def test_levels_and_parents_are_derived_from_the_codes_when_the_file_lacks_them(
    db: Session, tmp_path: Path
) -> None:
    rows = [{k: v for k, v in row.items() if k not in ("level", "parent_code")} for row in jishou_world()]

    load(db, write_geojson(tmp_path, rows))

    stored = current(db)
    assert {code: (a.level, a.parent_code) for code, a in stored.items() if code in (CITY, SOUTH)} == {
        CITY: ("city", PREFECTURE), SOUTH: ("community", QIANZHOU)}


def test_reimporting_the_same_file_changes_nothing(db: Session, tmp_path: Path) -> None:
    path = write_geojson(tmp_path, jishou_world())
    load(db, path)
    ids = {code: a.id for code, a in current(db).items()}

    again = load(db, path)

    assert str(again) == "0 added, 0 changed, 8 unchanged"
    assert {code: a.id for code, a in current(db).items()} == ids
    assert count(db) == 8


def test_a_redrawn_border_gives_both_communities_a_new_version_and_keeps_the_old(
    db: Session, tmp_path: Path
) -> None:
    load(db, write_geojson(tmp_path, jishou_world()))
    moved = replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.30))
    moved = replace(moved, NORTH, geometry=box(109.70, 28.30, 109.73, 28.33))

    summary = load(db, write_geojson(tmp_path, moved, "moved.geojson"))

    assert (summary.added, summary.changed, summary.unchanged) == (0, 2, 6)
    versions = db.scalars(select(AdminArea).where(AdminArea.code == SOUTH).order_by(AdminArea.id)).all()
    assert [(v.valid_from, v.valid_to) for v in versions] == [(date.today(), date.today()), (date.today(), None)]
    assert to_shape(versions[0].geom).bounds[3] == pytest.approx(28.29)
    assert to_shape(versions[1].geom).bounds[3] == pytest.approx(28.30)
    assert count(db) == 10


def test_a_renamed_area_gets_a_new_version(db: Session, tmp_path: Path) -> None:
    load(db, write_geojson(tmp_path, jishou_world()))

    summary = load(db, write_geojson(tmp_path, replace(jishou_world(), SOUTH, name="乾州新区社区"), "b.geojson"))

    assert (summary.changed, summary.unchanged) == (1, 7)
    assert current(db)[SOUTH].name == "乾州新区社区"
    assert db.scalar(select(func.count()).where(AdminArea.code == SOUTH)) == 2


def test_areas_missing_from_the_file_stay_unless_told_to_retire_them(db: Session, tmp_path: Path) -> None:
    load(db, write_geojson(tmp_path, jishou_world()))
    # 乾州街道 now has one community covering it all; 万溶江社区 is gone from the file.
    merged = [r for r in replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.33))
              if r["code"] != NORTH]
    path = write_geojson(tmp_path, merged, "merged.geojson")

    with pytest.raises(ValidationFailed) as caught:  # the stored 万溶江社区 would overlap the new shape
        load(db, path)
    assert NORTH in messages(caught.value)

    summary = load(db, path, retire_missing=True)
    assert (summary.changed, summary.retired) == (1, 1)
    assert NORTH not in current(db)
    assert db.scalar(select(AdminArea.valid_to).where(AdminArea.code == NORTH)) == date.today()


def test_a_file_of_communities_can_rely_on_parents_already_stored(db: Session, tmp_path: Path) -> None:
    world = jishou_world()
    load(db, write_geojson(tmp_path, [r for r in world if r["level"] != "community"], "upper.geojson"))

    summary = load(db, write_geojson(tmp_path, [r for r in world if r["level"] == "community"]))

    assert summary.added == 4
    assert set(COMMUNITIES) <= set(current(db))


@pytest.mark.parametrize("epsg", [4546, 3857, 32649, 4490])
def test_a_file_in_another_crs_is_stored_in_lon_lat(db: Session, tmp_path: Path, epsg: int) -> None:
    load(db, write_shapefile(tmp_path, jishou_world(), crs=epsg))

    stored = to_shape(current(db)[SOUTH].geom)
    assert stored.bounds == pytest.approx((109.70, 28.25, 109.73, 28.29), abs=1e-7)


def test_gcj02_coordinates_are_moved_back_to_wgs84_by_a_few_hundred_metres(db: Session, tmp_path: Path) -> None:
    world = jishou_world()
    as_amap_publishes = [{**r, "geometry": convert_geometry(r["geometry"], InputDatum.wgs84, InputDatum.gcj02)}
                         for r in world]
    path = write_geojson(tmp_path, as_amap_publishes)

    load(db, path, datum=InputDatum.gcj02)

    stored = to_shape(current(db)[SOUTH].geom)
    truth = world[4]["geometry"]
    assert stored.bounds == pytest.approx(truth.bounds, abs=1e-8)
    gcj = as_amap_publishes[4]["geometry"]
    shift = gpd.GeoSeries([Point(gcj.bounds[:2]), Point(stored.bounds[:2])], crs=4326).to_crs(SETTINGS.metric_crs)
    assert 200 < shift.iloc[0].distance(shift.iloc[1]) < 800


def test_a_bow_tie_is_repaired_stored_valid_and_reported_as_a_warning(db: Session, tmp_path: Path) -> None:
    rows = replace(jishou_world(), SOUTH, geometry=bow_tie(109.70, 28.25, 0.03))

    summary = load(db, write_geojson(tmp_path, rows))

    assert summary.added == 8
    assert any(w.feature.startswith(SOUTH) and "repaired" in w.message for w in summary.warnings)
    assert any(w.feature.startswith(QIANZHOU) and "covered by none" in w.message for w in summary.warnings)
    assert db.scalar(select(func.ST_IsValid(AdminArea.geom)).where(AdminArea.code == SOUTH))
    assert len(to_shape(current(db)[SOUTH].geom).geoms) == 2


def test_a_child_reaching_outside_its_parent_is_reported_with_the_area_outside(
    db: Session, tmp_path: Path
) -> None:
    reaching = box(109.70, 28.25, 109.745, 28.29)  # half a kilometre into 镇溪街道 too: also overlaps
    rows = replace(jishou_world(), SOUTH, geometry=reaching)

    failed = failure(db, write_geojson(tmp_path, rows))

    outside = next(p for p in failed.errors if p.feature.startswith(SOUTH) and "outside" in p.message)
    expected = metric_area(box(109.73, 28.25, 109.745, 28.29))
    reported = float(outside.message.split(" m²")[0].replace(",", ""))
    assert reported == pytest.approx(expected, rel=1e-3)
    assert QIANZHOU in outside.message
    assert outside.fix


def test_a_sliver_outside_the_parent_within_tolerance_is_accepted(db: Session, tmp_path: Path) -> None:
    rows = replace(jishou_world(), SOUTH, geometry=box(109.69999, 28.25, 109.73, 28.29))  # ~1 m west

    summary = load(db, write_geojson(tmp_path, rows))

    assert summary.added == 8


def test_overlapping_siblings_are_reported_with_the_overlap_and_where_it_is(db: Session, tmp_path: Path) -> None:
    rows = replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.30))

    failed = failure(db, write_geojson(tmp_path, rows))

    overlap = next(p for p in failed.errors if "overlaps" in p.message)
    assert {SOUTH, NORTH} <= set((overlap.feature + overlap.message).replace(" ", "\n").split())
    expected = metric_area(box(109.70, 28.29, 109.73, 28.30))
    assert float(overlap.message.split("by ")[1].split(" m²")[0].replace(",", "")) == pytest.approx(expected, 1e-3)
    lon, lat = (float(v) for v in overlap.message.split("around ")[1].split(", "))
    assert 109.70 < lon < 109.73 and 28.29 < lat < 28.30


def test_a_gap_between_siblings_is_a_warning_with_its_area_and_place(db: Session, tmp_path: Path) -> None:
    rows = replace(jishou_world(), SOUTH, geometry=box(109.70, 28.25, 109.73, 28.28))

    summary = load(db, write_geojson(tmp_path, rows))

    gap = next(w for w in summary.warnings if "covered by none" in w.message)
    assert gap.feature.startswith(QIANZHOU)
    lon, lat = (float(v) for v in gap.message.split("around ")[1].split(", "))
    assert 109.70 < lon < 109.73 and 28.28 < lat < 28.29


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"code": "43310100400"}, "'43310100400' is not 12 digits"),
        ({"parent_code": "433101009000"}, "parent 433101009000 is neither in the file nor in the database"),
        ({"level": "subdistrict"}, "level column says subdistrict"),
        ({"name": None}, "has no name"),
        ({"geometry": Point(109.71, 28.26)}, "is a Point, not a polygon"),
    ],
)
def test_a_bad_community_is_reported_by_code_and_name_and_nothing_is_written(
    db: Session, tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    failed = failure(db, write_geojson(tmp_path, replace(jishou_world(), SOUTH, **change)))

    assert expected in messages(failed)
    assert all(p.fix for p in failed.errors)


def test_duplicate_codes_are_each_reported(db: Session, tmp_path: Path) -> None:
    rows = [*jishou_world(), area(SOUTH, "重复社区", "community", QIANZHOU, box(109.70, 28.25, 109.71, 28.26))]

    failed = failure(db, write_geojson(tmp_path, rows))

    duplicates = [p for p in failed.errors if "appears 2 times" in p.message]
    assert [p.feature for p in duplicates] == [f"{SOUTH} 乾州社区", f"{SOUTH} 重复社区"]


def test_swapped_lon_lat_and_empty_geometries_are_errors(db: Session, tmp_path: Path) -> None:
    world = jishou_world()
    swapped = shapely.transform(world[4]["geometry"], lambda xy: xy[:, ::-1])
    features = [{"properties": {k: v for k, v in r.items() if k != "geometry"}, "geometry": r["geometry"]}
                for r in world]
    features[4]["geometry"] = swapped
    features[5]["geometry"] = None

    failed = failure(db, write_raw_geojson(tmp_path, features))

    text = messages(failed)
    assert f"{SOUTH} 乾州社区: is not plausible lon/lat" in text and "lon/lat look swapped" in text
    assert f"{NORTH} 万溶江社区: has no geometry" in text
    assert not [p for p in failed.problems if "covered by none" in p.message]  # left-out areas are no gaps


def test_a_thousand_communities_import_in_a_few_seconds(db: Session, tmp_path: Path) -> None:
    rows = [r for r in jishou_world() if r["level"] != "community"]
    columns, width, height = 20, 0.03 / 20, 0.08 / 25  # 500 communities tile each subdistrict
    for parent, west in ((QIANZHOU, 109.70), ("433101005000", 109.73)):
        for i in range(500):
            x0, y0 = west + (i % columns) * width, 28.25 + (i // columns) * height
            rows.append(area(f"{parent[:9]}{i + 1:03d}", f"社区{i + 1}", "community", parent,
                             box(x0, y0, x0 + width, y0 + height)))
    path = write_geojson(tmp_path, rows)

    started = time.perf_counter()
    summary = load(db, path)
    elapsed = time.perf_counter() - started

    assert summary.added == 1004
    assert not summary.warnings
    assert elapsed < 5, f"{elapsed:.1f} s"


SAMPLE = PROJECT_ROOT / "data" / "boundaries" / "jishou_admin.geojson"


@pytest.mark.skipif(not SAMPLE.exists(), reason="the Jishou sample is not in data/boundaries yet")
def test_the_jishou_sample_imports_without_errors_and_again_without_change(db: Session) -> None:
    features = len(gpd.read_file(SAMPLE))

    first = load(db, SAMPLE)
    again = load(db, SAMPLE)

    assert (first.added, first.changed) == (features, 0)
    assert all(w.severity == "warning" for w in first.warnings)
    assert (again.added, again.changed, again.unchanged) == (0, 0, features)


# -- code schemes (issue 15) ------------------------------------------------------------------------

ANY = Settings(database_url="postgresql://unused/unused", code_scheme="any")


def _boroughs_world() -> list[dict[str, object]]:
    """A borough of two districts with foreign ids, and a district of another borough that is not loaded."""
    return [
        {"id": "B1", "name": "Borough One", "geometry": box(109.70, 28.25, 109.76, 28.33)},
        {"id": "101", "name": "District 101", "geometry": box(109.70, 28.25, 109.73, 28.33)},
        {"id": "102", "name": "District 102", "geometry": box(109.73, 28.25, 109.76, 28.33)},
    ]


def test_any_scheme_takes_foreign_ids_and_finds_parents_by_containment(db: Session, tmp_path: Path) -> None:
    world = _boroughs_world()
    borough = write_raw_geojson(tmp_path, [{"properties": {k: v for k, v in world[0].items() if k != "geometry"},
                                            "geometry": world[0]["geometry"]}], name="borough.geojson")
    districts = write_raw_geojson(tmp_path, [{"properties": {k: v for k, v in row.items() if k != "geometry"},
                                              "geometry": row["geometry"]} for row in world[1:]],
                                  name="districts.geojson")

    import_boundaries(db, borough, settings=ANY, code_field="id", level=AdminLevel.city)
    summary = import_boundaries(db, districts, settings=ANY, code_field="id", level=AdminLevel.community)

    assert summary.added == 2
    stored = current(db)
    assert stored["B1"].parent_code is None and stored["B1"].level == "city"
    assert stored["101"].parent_code == "B1" and stored["102"].parent_code == "B1"
    assert stored["101"].level == "community"


def test_any_scheme_without_a_level_asks_for_one(db: Session, tmp_path: Path) -> None:
    rows = _boroughs_world()[1:]
    path = write_raw_geojson(tmp_path, [{"properties": {"id": r["id"], "name": r["name"]}, "geometry": r["geometry"]}
                                        for r in rows])

    failed = failure(db, path, scheme=CodeScheme.any, code_field="id")

    assert "has no level" in messages(failed) and "--level" in str(failed.errors[0].fix)


def test_a_missing_level_is_derived_from_the_code_not_refused_as_nan(db: Session, tmp_path: Path) -> None:
    rows = jishou_world()
    rows = replace(rows, SOUTH, level=None)

    load(db, write_geojson(tmp_path, rows))

    assert current(db)[SOUTH].level == "community"


def test_a_datav_array_of_6_digit_adcodes_imports_as_it_comes(db: Session, tmp_path: Path) -> None:
    outline = shapely.geometry.shape(json.loads((PROJECT_ROOT / "data/realdata/jishou/433101.json").read_text()))
    datav = [{"type": "Feature", "geometry": shapely.geometry.mapping(outline),
              "properties": {"adcode": 433101, "name": "吉首市", "level": "district",
                             "parent": {"adcode": 433100}, "center": [109.73, 28.31]}}]
    path = tmp_path / "433101_datav.json"
    path.write_text(json.dumps(datav, ensure_ascii=False), encoding="utf-8")

    summary = import_boundaries(db, path, settings=SETTINGS, datum=InputDatum.gcj02, scheme=CodeScheme.adcode)

    assert summary.added == 1
    jishou = current(db)["433101000000"]
    assert (jishou.name, jishou.level, jishou.parent_code) == ("吉首市", "city", "433100000000")
    # Converted from GCJ-02: the stored outline is the file's, moved by the datum shift.
    stored = to_shape(jishou.geom)
    expected = convert_geometry(np.asarray([outline], dtype=object), InputDatum.gcj02)[0]
    assert shapely.equals_exact(stored.normalize(), MultiPolygon([expected]).normalize(), tolerance=1e-9)
