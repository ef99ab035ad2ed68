import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.layers import check_bbox, registry
from gis.models import AdminArea, Compound, GridCell
from gis.settings import Settings


def _community(db: Session, code: str, x0: float) -> None:
    geom = MultiPolygon([box(x0, 28.30, x0 + 0.01, 28.31)])
    db.add(AdminArea(code=code, name=f"社区{code[-3:]}", level="community",
                     parent_code=code[:9] + "000", geom=from_shape(geom, 4326)))


@pytest.fixture
def world(db: Session) -> Session:
    _community(db, "433101002001", 109.70)
    _community(db, "433101002002", 109.71)
    db.add(AdminArea(code="433101002000", name="峒河街道", level="subdistrict", parent_code="433101000000",
                     geom=from_shape(MultiPolygon([box(109.70, 28.30, 109.72, 28.31)]), 4326)))
    db.add(Compound(name="<b>老街</b>小区", community_code="433101002001",
                    geom=from_shape(MultiPolygon([box(109.701, 28.301, 109.702, 28.302)]), 4326)))
    db.add(GridCell(code="433101002001001", community_code="433101002001", area_m2=9800.0,
                    geom=from_shape(MultiPolygon([box(109.70, 28.30, 109.701, 28.301)]), 4326)))
    db.flush()
    return db


@pytest.mark.parametrize("layer_id", ["subdistricts", "communities", "compounds", "grid_cells"])
def test_area_layers_answer_geojson_with_their_declared_fields(world: Session, layer_id: str) -> None:
    for layer in [registry(Settings())[layer_id]]:
        page = layer.features(world, limit=10)
        assert page["type"] == "FeatureCollection"
        assert page["features"], layer.id
        props = page["features"][0]["properties"]
        assert set(props) == {f.name for f in layer.fields}, layer.id
        assert page["features"][0]["geometry"]["type"] == layer.geometry_type


def test_bbox_keeps_only_intersecting_features_and_counts_them(world: Session) -> None:
    communities = registry(Settings())["communities"]
    page = communities.query(world, bbox=(109.700, 28.300, 109.705, 28.305), with_count=True)
    assert page.returned == page.matched == 1
    assert communities.count(world) == 2
    assert communities.query(world, bbox=(109.0, 27.0, 109.1, 27.1), with_count=True).matched == 0


def test_paging_returns_the_requested_slice_in_code_order(world: Session) -> None:
    communities = registry(Settings())["communities"]
    codes = [f["properties"]["code"] for f in communities.features(world, limit=1, offset=1)["features"]]
    assert codes == ["433101002002"]


def test_community_area_is_computed_in_the_metric_crs(world: Session) -> None:
    props = registry(Settings())["communities"].features(world, limit=1)["features"][0]["properties"]
    # 0.01° × 0.01° at 28.3°N ≈ 0.98 km × 1.11 km
    assert props["area_km2"] == pytest.approx(1.09, abs=0.02)


def test_geodataframe_has_the_layer_fields_and_crs(world: Session) -> None:
    gdf = registry(Settings())["compounds"].to_geodataframe(world)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf.columns) == [f.name for f in registry(Settings())["compounds"].fields] + ["geom"]
    assert gdf.loc[0, "name"] == "<b>老街</b>小区"  # stored verbatim; escaping is the renderer's job


@pytest.mark.parametrize("bbox", [(110, 28, 109, 29), (109, 29, 110, 28), (200, 28, 201, 29)])
def test_impossible_bbox_is_refused_with_the_fix(bbox: tuple[float, float, float, float]) -> None:
    with pytest.raises(InvalidInput, match="bbox"):
        check_bbox(bbox)
