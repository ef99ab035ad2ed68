from __future__ import annotations

import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box

from gis.settings import Settings
from gis.spatial.validation import (
    CHINA,
    Metric,
    Region,
    Tolerance,
    check_inside,
    check_lonlat,
    check_overlaps,
    find_gaps,
    repair_polygonal,
    same_geometry,
)
from tests.common import BOW_TIE, MULTIPOLYGON, POLYGON_WITH_HOLE, SQUARE

METRIC = Metric(4546)


def metric_box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """A box in metres (EPSG:4546) near Jishou: x about 37.37e6, y about 3.13e6."""
    return box(37_370_000 + x0, 3_130_000 + y0, 37_370_000 + x1, 3_130_000 + y1)


def test_valid_polygons_pass_unchanged_as_multipolygons() -> None:
    for geom in (SQUARE, POLYGON_WITH_HOLE, MULTIPOLYGON):
        repaired, problems = repair_polygonal(geom, "x")
        assert problems == []
        assert isinstance(repaired, MultiPolygon)
        assert repaired.equals(geom)


def test_a_bow_tie_is_repaired_into_two_triangles_with_a_warning() -> None:
    repaired, problems = repair_polygonal(BOW_TIE, "433101004001 乾州社区")

    assert repaired is not None and repaired.is_valid
    assert len(repaired.geoms) == 2
    assert repaired.area == pytest.approx(SQUARE.area / 2)  # both lobes kept (buffer(0) would drop one)
    assert [(p.severity, p.feature) for p in problems] == [("warning", "433101004001 乾州社区")]
    assert "Self-intersection" in problems[0].message


def test_empty_missing_and_non_polygon_geometries_are_errors() -> None:
    cases = {None: "no geometry", Polygon(): "no geometry", Point(109.7, 28.3): "Point, not a polygon",
             LineString([(109.7, 28.3), (109.8, 28.3)]): "LineString, not a polygon"}
    for geom, expected in cases.items():
        repaired, problems = repair_polygonal(geom, "f")
        assert repaired is None
        assert problems[0].severity == "error" and expected in problems[0].message and problems[0].fix


def test_a_collection_of_polygons_counts_as_polygonal() -> None:
    repaired, problems = repair_polygonal(GeometryCollection([SQUARE, Point(0, 0)]), "f")

    assert problems == [] and repaired is not None and repaired.equals(SQUARE)


def test_plausible_lon_lat_around_jishou_passes() -> None:
    assert check_lonlat(SQUARE, "f") is None


def test_swapped_axes_are_recognised() -> None:
    swapped = shapely.transform(SQUARE, lambda xy: xy[:, ::-1])

    problem = check_lonlat(swapped, "f")

    assert problem is not None and "lon/lat look swapped" in problem.message


def test_a_latitude_beyond_90_hints_at_swapped_axes_even_outside_china() -> None:
    problem = check_lonlat(box(10.0, 95.0, 11.0, 96.0), "f")

    assert problem is not None and "swapped" in problem.message


def test_projected_metres_labelled_as_degrees_point_to_the_crs_option() -> None:
    problem = check_lonlat(metric_box(0, 0, 100, 100), "f")

    assert problem is not None and "not lon/lat at all" in problem.message and "--crs" in problem.fix


def test_a_place_outside_the_region_is_an_error() -> None:
    problem = check_lonlat(box(2.35, 48.85, 2.36, 48.86), "paris", CHINA)

    assert problem is not None and "outside the region this deployment expects" in problem.message
    assert "China" in problem.message and "WANGGE_REGION" in problem.message
    assert "wangge city init" in problem.fix and "CRS" in problem.fix


def test_the_region_comes_from_the_settings_so_a_foreign_city_is_plausible() -> None:
    chicago = Region.of(Settings(region="-87.95,41.6,-87.5,42.05", region_name="Chicago"))

    assert check_lonlat(box(-87.7, 41.8, -87.6, 41.9), "loop", chicago) is None
    problem = check_lonlat(box(109.7, 28.3, 109.8, 28.4), "jishou", chicago)
    assert problem is not None and "Chicago: -87.95, 41.6 – -87.5, 42.05" in problem.message


def test_swapped_axes_are_still_found_in_a_foreign_region() -> None:
    chicago = Region.of(Settings(region="-87.95,41.6,-87.5,42.05"))

    problem = check_lonlat(box(41.8, -87.7, 41.9, -87.6), "loop", chicago)

    assert problem is not None and "swapped" in problem.message


def test_the_tolerance_is_a_share_of_the_reference_with_a_floor() -> None:
    tolerance = Tolerance(ratio=0.01, min_m2=50)

    assert tolerance.allowed(1_000) == 50
    assert tolerance.allowed(1_000_000) == 10_000


def test_a_child_partly_outside_its_parent_is_measured_in_square_metres() -> None:
    parent = metric_box(0, 0, 1000, 1000)
    child = metric_box(900, 0, 1100, 100)  # 100 m × 100 m outside, half of the child

    problem = check_inside(child, parent, Tolerance(), METRIC, child_label="c", parent_label="p")

    assert problem is not None
    assert problem.message.startswith("10,000 m² (50.0%) lies outside its parent p")
    assert check_inside(metric_box(0, 0, 1000.02, 1000), parent, Tolerance(), METRIC,
                        child_label="c", parent_label="p") is None  # a 20 m² sliver


def test_overlapping_siblings_are_reported_once_per_pair_with_a_point_inside_the_overlap() -> None:
    geoms = [metric_box(0, 0, 1000, 1000), metric_box(1000, 0, 2000, 1000), metric_box(900, 0, 1100, 1000)]

    problems = check_overlaps(geoms, ["a", "b", "c"], Tolerance(), METRIC)

    assert sorted(p.feature + " " + p.message.split(", around")[0] for p in problems) == [
        "a overlaps c by 100,000 m²", "b overlaps c by 100,000 m²"]
    assert check_overlaps(geoms, ["a", "b", "c"], Tolerance(), METRIC, concerns=lambda i, j: False) == []
    assert check_overlaps(geoms[:2], ["a", "b"], Tolerance(), METRIC) == []  # touching is not overlapping


def test_uncovered_parts_of_a_parent_are_warnings_beyond_tolerance() -> None:
    parent = metric_box(0, 0, 1000, 1000)
    children = [metric_box(0, 0, 500, 1000), metric_box(500, 0, 1000, 900)]  # a 500 × 100 m hole

    problems = find_gaps(parent, children, Tolerance(), METRIC, parent_label="p")

    assert [(p.severity, p.message.split(", around")[0]) for p in problems] == [
        ("warning", "50,000 m² is covered by none of its 2 sub-area(s)")]
    assert find_gaps(parent, children, Tolerance(ratio=0.2), METRIC, parent_label="p") == []


def test_the_same_boundary_is_recognised_whatever_its_vertex_order() -> None:
    turned = Polygon(list(SQUARE.exterior.coords)[::-1])
    restarted = Polygon(list(SQUARE.exterior.coords)[2:] + list(SQUARE.exterior.coords)[1:3])

    assert same_geometry(MultiPolygon([SQUARE]), MultiPolygon([turned]))
    assert same_geometry(SQUARE, restarted)
    assert not same_geometry(SQUARE, box(109.70, 28.25, 109.71, 28.2600001))
