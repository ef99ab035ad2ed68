"""The compounds layer: a compound's name is unique only within its community, so features are keyed by id."""

import orjson
import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.areas.compounds import CompoundFeature, write_compounds
from gis.layers.areas import CompoundLayer
from gis.models import Compound

EAST, WEST = "433101002001", "433101002002"  # two communities, each with its own 幸福小区


def _square(x0: float) -> MultiPolygon:
    return MultiPolygon([box(x0, 28.301, x0 + 0.001, 28.302)])


@pytest.fixture
def namesakes(db: Session) -> dict[str, int]:
    """Compound ids by community: one 幸福小区 in each of two communities, and a 金桂苑 in the first."""
    rows = [Compound(name="幸福小区", community_code=EAST, households=300, geom=from_shape(_square(109.701), 4326)),
            Compound(name="幸福小区", community_code=WEST, households=80, geom=from_shape(_square(109.711), 4326)),
            Compound(name="金桂苑", community_code=EAST, geom=from_shape(_square(109.703), 4326))]
    db.add_all(rows)
    db.flush()
    return {"east": rows[0].id, "west": rows[1].id, "other": rows[2].id}


def test_compounds_of_one_name_in_two_communities_are_two_features_with_their_own_ids(
    db: Session, namesakes: dict[str, int]
) -> None:
    features = CompoundLayer().features(db)["features"]
    ids = [f["id"] for f in features]
    assert sorted(ids) == sorted(namesakes.values()) and len(set(ids)) == 3
    by_id = {f["id"]: f["properties"] for f in features}
    assert (by_id[namesakes["east"]]["name"], by_id[namesakes["east"]]["community_code"]) == ("幸福小区", EAST)
    assert (by_id[namesakes["west"]]["name"], by_id[namesakes["west"]]["community_code"]) == ("幸福小区", WEST)
    assert all(props["id"] == feature_id for feature_id, props in by_id.items())


@pytest.mark.parametrize("which", ["east", "west"])
def test_one_feature_is_found_by_its_id_and_not_confused_with_its_namesake(
    db: Session, namesakes: dict[str, int], which: str
) -> None:
    found = CompoundLayer().feature(db, str(namesakes[which]))
    assert found is not None
    feature = orjson.loads(found)
    assert feature["id"] == namesakes[which]
    assert feature["properties"]["community_code"] == {"east": EAST, "west": WEST}[which]


@pytest.mark.parametrize("ref", ["幸福小区", "abc", "987654"])
def test_a_name_or_an_unknown_id_finds_no_feature(db: Session, namesakes: dict[str, int], ref: str) -> None:
    assert CompoundLayer().feature(db, ref) is None


def test_the_id_survives_a_reimport_that_changes_the_compound(db: Session, namesakes: dict[str, int]) -> None:
    changed = CompoundFeature(number=1, name="幸福小区", community_code=WEST, address="新地址", households=90,
                              property_company=None, built_year=2001, geom=_square(109.712))
    assert write_compounds(db, [changed]) == (0, 1, 0)
    db.expire_all()
    assert db.scalar(select(Compound.id).where(Compound.community_code == WEST)) == namesakes["west"]
    feature = orjson.loads(CompoundLayer().feature(db, str(namesakes["west"])) or b"null")
    assert feature["properties"]["households"] == 90


def test_the_geodataframe_carries_the_id_for_exports(db: Session, namesakes: dict[str, int]) -> None:
    gdf = CompoundLayer().to_geodataframe(db)
    assert sorted(gdf["id"]) == sorted(namesakes.values())
    assert list(gdf.columns) == [f.name for f in CompoundLayer.fields] + ["geom"]
