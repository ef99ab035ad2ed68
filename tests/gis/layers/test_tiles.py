"""Vector tiles of the layers: tile arithmetic, and tiles that GDAL's MVT driver reads back."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents.categories import load_categories
from gis.incidents.query import IncidentFilter
from gis.layers import registry
from gis.layers.base import BBox
from gis.layers.density import IncidentDensityLayer
from gis.layers.tiles import Datum, Tile, _statement, _template, _wgs84_box_of_gcj02, render_tile, tile_for
from gis.models import GridCell, Incident
from gis.settings import Settings
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS, add_world
from tests.layer_world import add_layer_world

LAT = 28.2505


def read_tile(tmp_path: Path, body: bytes, tile: Tile, layer: str):  # type: ignore[no-untyped-def]
    """The tile as GDAL reads it: a z/x/y.mvt file gives the driver its place, so geometry comes back in
    EPSG:3857; reprojected to lon/lat here."""
    path = tmp_path / str(tile.z) / str(tile.x) / f"{tile.y}.mvt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return pyogrio.read_dataframe(path, layer=layer).to_crs(4326)


def add_incident(session: Session, cell: str, lon: float, *, category: str = "09006", status: str = "reported",
                 days_ago: float = 1) -> None:
    n = session.query(Incident).count() + 1
    session.add(Incident(
        public_id=f"JS-T-{n:06d}", category_code=category, description="", location=from_shape(Point(lon, LAT), 4326),
        source="patrol", cell_code=cell, community_code=FIRST_COMMUNITY, subdistrict_code=FIRST_COMMUNITY[:9] + "000",
        status=status, reported_at=datetime.now(UTC) - timedelta(days=days_ago),
    ))
    session.flush()


def test_a_tile_knows_its_box_and_the_tile_of_a_point() -> None:
    assert Tile(0, 0, 0).bounds() == pytest.approx((-180, -85.0511287798, 180, 85.0511287798))
    tile = tile_for(109.7005, LAT, 16)
    west, south, east, north = tile.bounds()
    assert west <= 109.7005 < east and south <= LAT < north
    assert east - west == pytest.approx(360 / 2**16)


@pytest.mark.parametrize(("z", "x", "y", "field"), [(-1, 0, 0, "z"), (23, 0, 0, "z"), (3, 8, 0, "x"), (3, 0, -1, "y")])
def test_coordinates_outside_the_grid_are_refused_naming_the_coordinate(z: int, x: int, y: int, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        Tile(z, x, y)


@pytest.fixture
def world(db: Session) -> Session:
    add_world(db)
    load_categories(db)
    add_incident(db, WORLD_CELLS[0], 109.7004)
    add_incident(db, WORLD_CELLS[0], 109.7006, category="01001", status="closed")
    add_incident(db, WORLD_CELLS[1], 109.7015)
    add_incident(db, WORLD_CELLS[2], 109.7025, days_ago=400)  # outside the default year
    return db


def test_gdal_reads_a_density_tile_holding_the_cells_of_its_box_only(world: Session, tmp_path: Path) -> None:
    tile = tile_for(109.7015, LAT, 18)  # about 150 m across: the middle cell and its neighbours' edges
    body = render_tile(world, IncidentDensityLayer(), tile)
    frame = read_tile(tmp_path, body, tile, "incident_density")
    west, south, east, north = tile.buffered_bounds()
    cells = {c.code: to_shape(c.geom) for c in world.scalars(select(GridCell))}
    expected = {code for code, geom in cells.items() if geom.intersects(box(west, south, east, north))}
    assert set(frame["code"]) == expected and WORLD_CELLS[1] in expected and len(expected) < len(cells)
    by_code = frame.set_index("code")
    assert by_code.loc[WORLD_CELLS[1], "incidents"] == 1
    assert by_code.loc[WORLD_CELLS[1], "level"] == "cell"
    assert by_code.loc[WORLD_CELLS[1], "per_km2"] == pytest.approx(100.0)
    # Clipped to the tile (plus its buffer), in the right place: the middle cell's part inside the tile.
    clipped = cells[WORLD_CELLS[1]].intersection(box(*tile.bounds()))
    drawn = shapely.intersection(by_code.loc[WORLD_CELLS[1], "geometry"], box(*tile.bounds()))
    assert drawn.symmetric_difference(clipped).area / clipped.area < 0.02


def test_density_tiles_count_what_the_filter_selects(world: Session, tmp_path: Path) -> None:
    tile = tile_for(109.7005, LAT, 16)
    everything = read_tile(tmp_path / "all", render_tile(world, IncidentDensityLayer(), tile), tile,
                           "incident_density").set_index("code")
    assert everything.loc[WORLD_CELLS[0], "incidents"] == 2
    assert everything.loc[WORLD_CELLS[0], "open"] == 1
    assert everything.loc[WORLD_CELLS[2], "incidents"] == 0  # its one case is older than a year
    assert everything.loc[WORLD_CELLS[0], "by_major"] == '{"01": 1, "09": 1}'
    layer = IncidentDensityLayer().filtered(IncidentFilter(categories=["09006"]))
    some = read_tile(tmp_path / "some", render_tile(world, layer, tile), tile, "incident_density").set_index("code")
    assert some.loc[WORLD_CELLS[0], "incidents"] == 1
    ever = IncidentDensityLayer().filtered(IncidentFilter(reported_from=datetime(2000, 1, 1, tzinfo=UTC)))
    old = read_tile(tmp_path / "ever", render_tile(world, ever, tile), tile, "incident_density").set_index("code")
    assert old.loc[WORLD_CELLS[2], "incidents"] == 1  # an explicit window replaces the default year


def test_a_city_wide_density_tile_draws_communities_not_cells(world: Session, tmp_path: Path) -> None:
    tile = tile_for(109.7005, LAT, 12)
    frame = read_tile(tmp_path, render_tile(world, IncidentDensityLayer(), tile), tile, "incident_density")
    assert set(frame["level"]) == {"community"}
    assert frame.set_index("code").loc[FIRST_COMMUNITY, "incidents"] == 3
    sub = tile_for(109.7005, LAT, 10)
    frame = read_tile(tmp_path, render_tile(world, IncidentDensityLayer(), sub), sub, "incident_density")
    assert set(frame["level"]) == {"subdistrict"}
    assert frame.set_index("code").loc[FIRST_COMMUNITY[:9] + "000", "incidents"] == 3


def test_every_layer_of_the_registry_makes_a_tile_gdal_reads(db: Session, tmp_path: Path) -> None:
    add_layer_world(db)  # a feature in every layer
    tile = tile_for(109.7015, 28.251, 15)
    for layer in registry(Settings(database_url="postgresql://unused/unused")).values():
        frame = read_tile(tmp_path / layer.id, render_tile(db, layer, tile), tile, layer.id)
        assert len(frame) > 0, layer.id
        columns = set(frame.columns) - {"geometry", "mvt_id"}  # GDAL adds mvt_id; MVT leaves out nulls
        assert layer.key.name in columns and columns <= {f.name for f in layer.fields}, layer.id
        assert math.isfinite(frame.total_bounds[0])


@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
def test_a_tile_from_the_kept_statement_equals_one_built_for_it_alone(db: Session, datum: Datum) -> None:
    """``render_tile`` reuses one statement per layer and zoom, the tile's box bound as parameters: every layer
    of the registry, at cell and community zoom, gives the very bytes of a statement built for that tile."""
    add_layer_world(db)
    layers = registry(Settings(database_url="postgresql://unused/unused")).values()
    for z in (12, 15):
        tile = tile_for(109.7015, 28.251, z)
        neighbour = Tile(z, tile.x + 1, tile.y)
        for layer in layers:
            render_tile(db, layer, neighbour, datum)  # keeps the statement, made for another tile
            box = tile.buffered_bounds()
            alone = _statement(layer, z, box if datum == "wgs84" else _wgs84_box_of_gcj02(box),
                               (tile.z, tile.x, tile.y), datum)
            assert render_tile(db, layer, tile, datum) == bytes(db.execute(alone).scalar_one()), (layer.id, z)


def test_a_layer_that_computes_from_the_box_is_built_per_tile() -> None:
    class Widened(IncidentDensityLayer):
        def tile_rows(self, bbox: Any, z: int) -> Any:
            west, south, east, north = bbox
            return super().tile_rows(BBox(west - 0.01, south, east, north), z)

    assert _template(Widened(metric_crs=4546), 15, "wgs84") is None
    assert _template(IncidentDensityLayer(metric_crs=4546), 15, "wgs84") is not None


def test_a_gcj02_tile_places_each_cell_by_the_projects_conversion_within_a_metre(
    world: Session, tmp_path: Path,
) -> None:
    from gis.spatial.crs import to_metric, wgs84_to_gcj02

    cell = to_shape(world.scalars(select(GridCell.geom).where(GridCell.code == WORLD_CELLS[1])).one())
    gx, gy = wgs84_to_gcj02(cell.centroid.x, cell.centroid.y)
    tile = tile_for(float(gx), float(gy), 17)  # the GCJ-02 map's tile that shows the cell
    frame = read_tile(tmp_path, render_tile(world, IncidentDensityLayer(), tile, "gcj02"), tile, "incident_density")
    drawn = frame.set_index("code").loc[WORLD_CELLS[1], "geometry"]
    assert drawn.area == pytest.approx(cell.area, rel=0.02)  # whole, moved, not clipped away
    moved = to_metric(shapely.Point(drawn.centroid.x, drawn.centroid.y)).distance(to_metric(shapely.Point(gx, gy)))
    assert moved < 1.0
    plain = to_metric(shapely.Point(drawn.centroid.x, drawn.centroid.y)).distance(to_metric(cell.centroid))
    assert plain > 100  # the GCJ-02 offset itself: hundreds of metres in Jishou
