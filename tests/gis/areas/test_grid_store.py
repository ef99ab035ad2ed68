"""The unit grid in PostGIS: build from stored communities, upsert by code, coverage checks, import."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from gis.areas import grid_import, grid_store
from gis.areas.grid import TooManyCells
from gis.errors import InvalidInput, NotFound, ValidationFailed
from gis.models import AdminArea, GridCell, GridCellWorker, User
from gis.settings import Settings
from gis.spatial import crs

METRIC = 4546
X0, Y0 = 372_600.0, 3_133_000.0  # a lattice corner near Jishou, EPSG:4546
SQUARE_CODE, L_CODE = "433101004001", "433101004002"


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A rectangle in EPSG:4546, given relative to the lattice corner (X0, Y0)."""
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def add_community(session: Session, code: str, outline: BaseGeometry, name: str | None = None) -> AdminArea:
    """A current community whose outline is given in EPSG:4546 and stored, like every outline, in 4326."""
    lonlat = crs.from_metric(outline, METRIC)
    multi = lonlat if isinstance(lonlat, MultiPolygon) else MultiPolygon([lonlat])
    area = AdminArea(code=code, name=name or f"社区{code[-3:]}", level="community", parent_code=code[:9] + "000",
                     geom=from_shape(multi, srid=4326))
    session.add(area)
    session.flush()
    return area


def add_two_communities(session: Session) -> None:
    """A 300 m square on the lattice (9 cells) and, east of it, an L-shape that cuts squares."""
    add_community(session, SQUARE_CODE, rect(0, 0, 300, 300))
    add_community(session, L_CODE, Polygon([(X0 + 300, Y0), (X0 + 777, Y0), (X0 + 777, Y0 + 130),
                                            (X0 + 420, Y0 + 160), (X0 + 410, Y0 + 300), (X0 + 300, Y0 + 300)]))


def cells_of(session: Session, community: str | None = None) -> list[tuple[str, int, float, bytes]]:
    query = select(GridCell.code, GridCell.id, GridCell.area_m2, func.ST_AsEWKB(GridCell.geom)).order_by(GridCell.code)
    if community:
        query = query.where(GridCell.community_code == community)
    return [(code, id_, area, bytes(wkb)) for code, id_, area, wkb in session.execute(query)]


def test_a_build_stores_numbered_multipolygons_in_4326_with_their_metric_area(db: Session, settings: Settings) -> None:
    add_two_communities(db)
    report = grid_store.build_grid(db, settings=settings)

    assert report.communities == 2 and report.written.inserted == report.cells
    square = cells_of(db, SQUARE_CODE)
    assert [code for code, *_ in square] == [f"{SQUARE_CODE}{n:03d}" for n in range(1, 10)]
    types, srids, off = db.execute(text(
        "SELECT array_agg(DISTINCT GeometryType(geom)), array_agg(DISTINCT ST_SRID(geom)), "
        "max(abs(area_m2 - ST_Area(ST_Transform(geom, 4546)))) FROM grid_cell"
    )).one()
    assert types == ["MULTIPOLYGON"] and srids == [4326]
    assert off < 1e-3
    # Reprojection noise on the square's edges must not add cells or move the lattice.
    first = shapely.from_wkb(square[0][3])
    assert shapely.hausdorff_distance(crs.to_metric(first, METRIC), rect(0, 200, 100, 300)) < 1e-6


def test_the_coverage_check_passes_for_a_build_and_fails_once_a_cell_is_missing(
    db: Session, settings: Settings
) -> None:
    add_two_communities(db)
    grid_store.build_grid(db, settings=settings)
    checks = {c.community_code: c for c in grid_store.check_coverage(db, metric_crs=METRIC)}
    assert all(c.ok for c in checks.values())
    assert checks[L_CODE].union_error < 1e-4 and checks[L_CODE].overlap_m2 < 0.01

    db.execute(delete(GridCell).where(GridCell.code == f"{SQUARE_CODE}005"))
    after = {c.community_code: c for c in grid_store.check_coverage(db, metric_crs=METRIC)}
    assert not after[SQUARE_CODE].ok
    assert after[SQUARE_CODE].gap_m2 == pytest.approx(10_000, rel=1e-6)
    assert after[L_CODE].ok


def test_a_rebuild_with_the_same_settings_keeps_codes_rows_and_worker_assignments(
    db: Session, settings: Settings
) -> None:
    add_two_communities(db)
    grid_store.build_grid(db, settings=settings)
    before = cells_of(db)
    worker = User(username="wangge_worker", display_name="网格员", role="grid_worker")
    db.add(worker)
    db.flush()
    db.add(GridCellWorker(cell_code=f"{L_CODE}002", user_id=worker.id))
    db.flush()

    again = grid_store.build_grid(db, settings=settings)

    assert (again.written.inserted, again.written.updated, again.written.deleted) == (0, 0, 0)
    assert again.written.unchanged == len(before)
    assert cells_of(db) == before
    assert db.scalars(select(GridCellWorker.cell_code)).all() == [f"{L_CODE}002"]


def test_a_rebuild_with_another_cell_size_upserts_by_code_and_removes_vanished_codes(
    db: Session, settings: Settings
) -> None:
    add_two_communities(db)
    grid_store.build_grid(db, settings=settings)
    kept_id = cells_of(db, SQUARE_CODE)[0][1]
    before = {c: len(cells_of(db, c)) for c in (SQUARE_CODE, L_CODE)}

    report = grid_store.build_grid(db, settings=settings, cell_size=150)

    square = cells_of(db, SQUARE_CODE)
    after = {c: len(cells_of(db, c)) for c in (SQUARE_CODE, L_CODE)}
    assert len(square) == 6  # 2 columns (x0 is a multiple of 150 m) by 3 rows (y0 is not): 50 + 150 + 100 m
    assert square[0][1] == kept_id  # code 001 kept its row, with a new geometry
    assert report.written.deleted == sum(max(before[c] - after[c], 0) for c in before) >= 5
    assert report.written.inserted == sum(max(after[c] - before[c], 0) for c in before)
    assert report.written.updated >= 4
    assert {c.community_code: c.ok for c in report.coverage} == {SQUARE_CODE: True, L_CODE: True}


def test_if_missing_builds_only_communities_without_cells(db: Session, settings: Settings) -> None:
    add_two_communities(db)
    first = grid_store.build_grid(db, settings=settings, communities=[SQUARE_CODE])
    assert first.communities == 1 and not cells_of(db, L_CODE)

    second = grid_store.build_grid(db, settings=settings, if_missing=True)
    assert second.communities == 1 and second.skipped == 1 and cells_of(db, L_CODE)

    third = grid_store.build_grid(db, settings=settings, if_missing=True)
    assert third.communities == 0 and third.cells == 0
    assert "nothing to build" in str(third)


def test_a_build_of_an_unknown_community_is_not_found(db: Session, settings: Settings) -> None:
    add_two_communities(db)
    with pytest.raises(NotFound, match="433101009009"):
        grid_store.build_grid(db, settings=settings, communities=[SQUARE_CODE, "433101009009"])


def test_a_build_without_communities_says_to_load_boundaries(db: Session, settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="boundaries"):
        grid_store.build_grid(db, settings=settings)


def test_a_community_too_big_for_999_cells_stops_the_build_before_anything_is_written(
    db: Session, settings: Settings
) -> None:
    add_two_communities(db)
    with pytest.raises(TooManyCells, match=SQUARE_CODE):
        grid_store.build_grid(db, settings=settings, cell_size=8)
    assert cells_of(db) == []


def write_cells(path: Path, rows: list[tuple[str, Polygon]], *, epsg: int = METRIC, field: str = "code") -> Path:
    frame = gpd.GeoDataFrame({field: [code for code, _ in rows]}, geometry=[g for _, g in rows], crs=METRIC)
    frame.to_crs(epsg).to_file(path)
    return path


def test_an_imported_grid_replaces_the_cells_of_its_communities_and_warns_of_gaps(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    add_two_communities(db)
    grid_store.build_grid(db, settings=settings)
    l_cells = cells_of(db, L_CODE)
    rows = [(f"{SQUARE_CODE}{n:03d}", rect(x, 0, x + 100, 300)) for n, x in ((1, 0), (2, 100), (3, 200))]
    path = write_cells(tmp_path / "cells.gpkg", rows[:2], epsg=4326)  # the third strip is left out: a gap

    report = grid_import.import_grid(db, path, settings=settings)

    assert [code for code, *_ in cells_of(db, SQUARE_CODE)] == [rows[0][0], rows[1][0]]
    assert report.written.deleted == 7 and report.written.updated == 2
    assert [w.feature for w in report.warnings] == [f"community {SQUARE_CODE}"]
    assert "30,000.0 m²" in report.warnings[0].message
    assert cells_of(db, L_CODE) == l_cells  # a community absent from the file is not touched
    area = db.scalar(select(GridCell.area_m2).where(GridCell.code == rows[0][0]))
    assert area == pytest.approx(30_000, rel=1e-6)


def test_an_imported_grid_with_an_overlap_and_a_stray_cell_names_each_and_writes_nothing(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    add_two_communities(db)
    rows = [(f"{SQUARE_CODE}001", rect(0, 0, 200, 300)), (f"{SQUARE_CODE}002", rect(150, 0, 300, 300)),
            (f"{SQUARE_CODE}003", rect(250, 250, 350, 350)), ("123", rect(0, 0, 10, 10))]
    path = write_cells(tmp_path / "cells.geojson", rows, field="WGBM")

    with pytest.raises(ValidationFailed) as raised:
        grid_import.import_grid(db, path, settings=settings)

    errors = {p.feature: p.message for p in raised.value.errors}
    assert "not 15 digits" in errors["cell 123 (row 4)"]
    assert errors[f"cell {SQUARE_CODE}001"] == f"overlaps cell {SQUARE_CODE}002 by 15,000.0 m²"
    assert "7,500.0 m² (75.0%) lies outside" in errors[f"cell {SQUARE_CODE}003"]
    assert errors[f"cell {SQUARE_CODE}002"] == f"overlaps cell {SQUARE_CODE}003 by 2,500.0 m²"
    assert len(raised.value.errors) == 4
    assert cells_of(db) == []


def test_an_imported_grid_follows_the_code_scheme_of_the_city(db: Session, settings: Settings, tmp_path: Path) -> None:
    """Under ``any`` a community's id is not 12 digits (New York's community district 311) and its cells are
    ``311-001``; the 15-digit rule of the national scheme would refuse every one of them."""
    any_scheme = settings.model_copy(update={"code_scheme": "any"})
    add_community(db, "311", rect(0, 0, 300, 300), name="Brooklyn CD 11")
    rows = [(f"311-{n:03d}", rect(x, 0, x + 100, 300)) for n, x in ((1, 0), (2, 100), (3, 200))]
    path = write_cells(tmp_path / "cells.gpkg", [*rows, ("311001", rect(0, 0, 10, 10))])

    with pytest.raises(ValidationFailed) as raised:
        grid_import.import_grid(db, path, settings=any_scheme)
    [error] = raised.value.errors
    assert error.feature == "cell 311001 (row 4)" and "is not a community id, '-' and a number" in error.message
    assert "311-042" in error.fix

    report = grid_import.import_grid(db, write_cells(tmp_path / "good.gpkg", rows), settings=any_scheme)

    assert (report.communities, report.cells) == (1, 3) and report.warnings == []
    assert [code for code, *_ in cells_of(db, "311")] == ["311-001", "311-002", "311-003"]


def test_an_imported_grid_may_carry_the_long_numbers_of_a_big_community(
    db: Session, settings: Settings, tmp_path: Path
) -> None:
    add_two_communities(db)
    rows = [(f"{SQUARE_CODE}{n:04d}", rect(x, 0, x + 100, 300)) for n, x in ((1, 0), (2, 100), (3, 200))]

    report = grid_import.import_grid(db, write_cells(tmp_path / "long.gpkg", rows), settings=settings)

    assert report.cells == 3 and [code for code, *_ in cells_of(db, SQUARE_CODE)] == [code for code, _ in rows]
