from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.areas.boundaries import import_boundaries
from gis.areas.compounds import import_compounds
from gis.areas.import_summary import ImportSummary
from gis.errors import ValidationFailed
from gis.models import Compound
from gis.settings import PROJECT_ROOT, Settings
from tests.common import compound, jishou_world, write_geojson

SETTINGS = Settings(database_url="postgresql://unused/unused")
SOUTH, EAST = "433101004001", "433101005001"  # 乾州社区 (109.70–109.73) and 镇溪社区 (109.73–109.76), lat 28.25–28.29


@pytest.fixture
def world(db: Session, tmp_path: Path) -> Session:
    import_boundaries(db, write_geojson(tmp_path, jishou_world(), "world.geojson"), settings=SETTINGS)
    return db


def two_compounds() -> list[dict[str, object]]:
    return [
        compound("世纪花园", SOUTH, box(109.705, 28.255, 109.708, 28.258), address="乾州大道 8 号",
                 households=320, property_company="湘西物业", built_year=2009),
        compound("峒河小区", None, box(109.740, 28.260, 109.742, 28.262), households=96),
    ]


def load(db: Session, path: Path) -> ImportSummary:
    return import_compounds(db, path, settings=SETTINGS)


def stored(db: Session) -> dict[str, Compound]:
    return {c.name: c for c in db.scalars(select(Compound))}


def failure(db: Session, path: Path) -> str:
    before = db.scalar(select(func.count()).select_from(Compound))
    with pytest.raises(ValidationFailed) as caught:
        load(db, path)
    assert db.scalar(select(func.count()).select_from(Compound)) == before
    assert all(p.fix for p in caught.value.errors)
    return "\n".join(str(p) for p in caught.value.errors)


def test_compounds_are_stored_with_their_attributes_and_located_when_needed(world: Session, tmp_path: Path) -> None:
    summary = load(world, write_geojson(tmp_path, two_compounds()))

    assert (summary.added, summary.changed, summary.unchanged) == (2, 0, 0)
    rows = stored(world)
    garden = rows["世纪花园"]
    assert (garden.community_code, garden.address, garden.households, garden.property_company,
            garden.built_year) == (SOUTH, "乾州大道 8 号", 320, "湘西物业", 2009)
    assert to_shape(garden.geom).bounds == pytest.approx((109.705, 28.255, 109.708, 28.258))
    assert rows["峒河小区"].community_code == EAST
    assert rows["峒河小区"].built_year is None


def test_reimporting_compounds_changes_nothing_and_a_change_updates_in_place(
    world: Session, tmp_path: Path
) -> None:
    load(world, write_geojson(tmp_path, two_compounds()))
    ids = {name: c.id for name, c in stored(world).items()}

    assert str(load(world, write_geojson(tmp_path, two_compounds()))) == "0 added, 0 changed, 2 unchanged"

    changed = two_compounds()
    changed[0]["households"] = 340
    summary = load(world, write_geojson(tmp_path, changed, "changed.geojson"))
    assert (summary.added, summary.changed, summary.unchanged) == (0, 1, 1)
    world.expire_all()
    assert stored(world)["世纪花园"].households == 340
    assert {name: c.id for name, c in stored(world).items()} == ids


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"geometry": box(109.725, 28.255, 109.735, 28.258)}, "lies outside its parent 433101004001 乾州社区"),
        ({"community_code": "433101004009"}, "community 433101004009 is not in the database"),
        ({"community_code": "433101004000"}, "is a subdistrict code, not a community's"),
        ({"community_code": "4331010040"}, "'4331010040' is not 12 digits"),
        ({"community_code": None, "geometry": box(110.5, 28.0, 110.51, 28.01)}, "lies in no community"),
        ({"households": -3}, "households -3 is not a whole number of at least 0"),
        ({"built_year": "long ago"}, "built_year 'long ago' is not a whole number from 1900"),
        ({"name": None}, "has no name"),
    ],
)
def test_a_bad_compound_is_named_with_the_fix_and_nothing_is_written(
    world: Session, tmp_path: Path, change: dict[str, object], expected: str
) -> None:
    rows = two_compounds()
    rows[0].update(change)

    assert expected in failure(world, write_geojson(tmp_path, rows))


def test_two_compounds_of_one_name_in_one_community_are_refused(world: Session, tmp_path: Path) -> None:
    rows = two_compounds()
    rows.append(compound("世纪花园", SOUTH, box(109.71, 28.26, 109.712, 28.262)))

    assert "世纪花园 (433101004001): appears 2 times in the same community" in failure(
        world, write_geojson(tmp_path, rows))


SAMPLE = PROJECT_ROOT / "data" / "boundaries"


@pytest.mark.skipif(not (SAMPLE / "jishou_compounds.geojson").exists(), reason="no Jishou sample yet")
def test_the_jishou_sample_compounds_import_without_errors_and_again_without_change(db: Session) -> None:
    import_boundaries(db, SAMPLE / "jishou_admin.geojson", settings=SETTINGS)
    features = len(gpd.read_file(SAMPLE / "jishou_compounds.geojson"))

    first = load(db, SAMPLE / "jishou_compounds.geojson")
    again = load(db, SAMPLE / "jishou_compounds.geojson")

    assert (first.added, first.warnings) == (features, [])
    assert (again.added, again.changed, again.unchanged) == (0, 0, features)
