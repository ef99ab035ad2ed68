"""GCJ-02 / BD-09 conversions against published test vectors, round trips measured in metres, and EPSG helpers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon

from gis.errors import InvalidInput
from gis.spatial import crs

GEOD = Geod(ellps="WGS84")

# wandergis/coordtransform, test/app.js (every function applied to the same input, full double precision).
WANDERGIS_INPUT = (116.404, 39.915)
WANDERGIS_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
WANDERGIS_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
WANDERGIS_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)  # Baidu's closed-form inverse
WANDERGIS_GCJ02_TO_WGS84 = (116.39775550083061, 39.91359571849836)  # the one-step approximation

# googollee/eviltransform, python/test.py and go/transform_test.go: (wgs lat, wgs lng, gcj lat, gcj lng).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]

# hujiulong/gcoord, test/unit/crs/{WGS84,GCJ02,BD09}.spec.ts: input (123, 45), compared with toBeCloseTo(_, 5).
GCOORD_INPUT = (123.0, 45.0)
GCOORD = {
    "wgs84_to_gcj02": (123.00607541, 45.00197815),
    "wgs84_to_bd09": (123.0124491, 45.0083293),
    "gcj02_to_wgs84": (122.99395597, 44.99804071),
    "gcj02_to_bd09": (123.00636499, 45.00636899),
    "bd09_to_gcj02": (122.99363304, 44.99365430),
    "bd09_to_wgs84": (122.98762210, 44.99171540),
}

# Jest's toBeCloseTo(x, 5) passes when |difference| < 5e-6.
GCOORD_TOLERANCE = 5e-6


def metres_between(a: tuple[object, object], b: tuple[object, object]) -> np.ndarray:
    _, _, distance = GEOD.inv(a[0], a[1], b[0], b[1])
    return np.asarray(distance)


def china_grid() -> tuple[np.ndarray, np.ndarray]:
    """A 40 x 40 grid over mainland China's extent (every point inside the GCJ-02 rectangle)."""
    lon, lat = np.meshgrid(np.linspace(73.7, 134.9, 40), np.linspace(18.2, 53.4, 40))
    return lon, lat


def test_wgs84_to_gcj02_matches_wandergis_to_full_precision() -> None:
    assert crs.wgs84_to_gcj02(*WANDERGIS_INPUT) == pytest.approx(WANDERGIS_WGS84_TO_GCJ02, abs=1e-12)


def test_gcj02_to_bd09_matches_wandergis() -> None:
    assert crs.gcj02_to_bd09(*WANDERGIS_INPUT) == pytest.approx(WANDERGIS_GCJ02_TO_BD09, abs=1e-12)


def test_bd09_to_gcj02_refines_baidus_closed_form_by_centimetres() -> None:
    exact = crs.bd09_to_gcj02(*WANDERGIS_INPUT)
    assert metres_between(exact, WANDERGIS_BD09_TO_GCJ02) < 0.1
    assert crs.gcj02_to_bd09(*exact) == pytest.approx(WANDERGIS_INPUT, abs=crs.INVERSE_TOLERANCE_DEG)


def test_gcj02_to_wgs84_is_the_exact_inverse_and_close_to_the_one_step_formula() -> None:
    exact = crs.gcj02_to_wgs84(*WANDERGIS_INPUT)
    assert crs.wgs84_to_gcj02(*exact) == pytest.approx(WANDERGIS_INPUT, abs=crs.INVERSE_TOLERANCE_DEG)
    assert metres_between(exact, WANDERGIS_GCJ02_TO_WGS84) < 0.5


@pytest.mark.parametrize(("wgs_lat", "wgs_lng", "gcj_lat", "gcj_lng"), EVILTRANSFORM)
def test_eviltransform_cities_convert_both_ways(wgs_lat: float, wgs_lng: float, gcj_lat: float, gcj_lng: float) -> None:
    # eviltransform checks wgs2gcj to 6 decimals and its exact inverse to within 0.5 m.
    assert crs.wgs84_to_gcj02(wgs_lng, wgs_lat) == pytest.approx((gcj_lng, gcj_lat), abs=5e-7)
    assert metres_between(crs.gcj02_to_wgs84(gcj_lng, gcj_lat), (wgs_lng, wgs_lat)) < 0.5


@pytest.mark.parametrize("name", sorted(GCOORD))
def test_gcoord_vectors_hold(name: str) -> None:
    assert getattr(crs, name)(*GCOORD_INPUT) == pytest.approx(GCOORD[name], abs=GCOORD_TOLERANCE)


def test_gcj02_round_trips_over_china_within_half_a_metre() -> None:
    lon, lat = china_grid()
    there = crs.wgs84_to_gcj02(lon, lat)
    back = crs.gcj02_to_wgs84(*there)
    assert metres_between(there, (lon, lat)).min() > 10  # the offset really was applied everywhere
    assert metres_between(back, (lon, lat)).max() < 0.5


def test_bd09_round_trips_over_china_within_half_a_metre() -> None:
    lon, lat = china_grid()
    assert metres_between(crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat)), (lon, lat)).max() < 0.5
    assert metres_between(crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat)), (lon, lat)).max() < 0.5


def test_wgs84_to_bd09_is_gcj02_then_bd09() -> None:
    lon, lat = china_grid()
    direct = crs.wgs84_to_bd09(lon, lat)
    chained = crs.gcj02_to_bd09(*crs.wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(direct, chained, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("lon", "lat"), [(183.0, 45.0), (-0.1276, 51.5072), (151.2, -33.87), (100.0, 0.5)])
def test_points_outside_china_are_unchanged_by_gcj02(lon: float, lat: float) -> None:
    assert not crs.in_china(lon, lat)
    assert crs.wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert crs.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_arrays_mixing_inside_and_outside_china_convert_element_by_element() -> None:
    lon, lat = np.array([109.73, 2.35]), np.array([28.31, 48.86])
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    assert (glon[1], glat[1]) == (2.35, 48.86)
    assert (glon[0], glat[0]) == crs.wgs84_to_gcj02(109.73, 28.31)


def test_scalars_come_back_as_floats_and_arrays_keep_their_shape() -> None:
    scalar = crs.gcj02_to_wgs84(109.7, 28.3)
    assert all(type(v) is float for v in scalar)
    lon, lat = crs.gcj02_to_wgs84([[109.7, 109.8, 109.9]], [[28.2], [28.3]])  # broadcast to 2 x 3
    assert lon.shape == lat.shape == (2, 3)
    assert (lon[1, 0], lat[1, 0]) == pytest.approx(scalar, abs=1e-12)


def test_nan_coordinates_stay_nan_without_stopping_the_others() -> None:
    lon, lat = crs.gcj02_to_wgs84([np.nan, 109.7], [np.nan, 28.3])
    assert np.isnan(lon[0]) and np.isnan(lat[0])
    assert crs.wgs84_to_gcj02(lon[1], lat[1]) == pytest.approx((109.7, 28.3), abs=crs.INVERSE_TOLERANCE_DEG)


def test_polygon_with_hole_converts_every_vertex_and_keeps_its_structure() -> None:
    shell = [(109.70, 28.25), (109.75, 28.25), (109.75, 28.30), (109.70, 28.30)]
    hole = [(109.72, 28.27), (109.73, 28.27), (109.73, 28.28), (109.72, 28.28)]
    polygon = Polygon(shell, [hole])
    moved = crs.convert_geometry(polygon, "gcj02")
    assert isinstance(moved, Polygon) and len(moved.interiors) == 1 and moved.is_valid
    expected = crs.gcj02_to_wgs84(*np.asarray(hole).T)
    np.testing.assert_allclose(np.asarray(moved.interiors[0].coords)[:-1].T, expected, atol=1e-12)
    assert metres_between(moved.exterior.coords[0], shell[0]) > 300  # Jishou's offset is a few hundred metres
    back = crs.convert_geometry(moved, crs.InputDatum.wgs84, target=crs.InputDatum.gcj02)
    np.testing.assert_allclose(shapely.get_coordinates(back), shapely.get_coordinates(polygon), atol=1e-8)


def test_convert_geometry_works_on_arrays_of_geometries_and_keeps_z() -> None:
    points = np.array([Point(109.7, 28.3, 250.0), Point(109.8, 28.2, 300.0)])
    moved = crs.convert_geometry(points, crs.InputDatum.bd09)
    assert list(shapely.get_coordinates(moved, include_z=True)[:, 2]) == [250.0, 300.0]
    assert tuple(shapely.get_coordinates(moved[0])[0]) == pytest.approx(crs.bd09_to_wgs84(109.7, 28.3))


def test_wgs84_input_is_returned_as_is() -> None:
    point = Point(109.7, 28.3)
    assert crs.convert_geometry(point, "wgs84") is point
    assert crs.convert(109.7, 28.3, "WGS84") == (109.7, 28.3)


def test_an_unknown_datum_is_refused_with_the_known_ones_named() -> None:
    with pytest.raises(InvalidInput, match="wgs84, gcj02, bd09"):
        crs.convert_geometry(Point(109.7, 28.3), "mars")


def test_transformers_are_cached_and_treat_cgcs2000_as_wgs84() -> None:
    assert crs.transformer(crs.WGS84, crs.JISHOU_METRIC) is crs.transformer(crs.WGS84, crs.JISHOU_METRIC)
    assert crs.transformer(crs.CGCS2000, crs.JISHOU_METRIC) is crs.transformer(crs.WGS84, crs.JISHOU_METRIC)
    assert crs.reproject(Point(109.7, 28.3), crs.CGCS2000, crs.WGS84).equals(Point(109.7, 28.3))


def test_to_metric_projects_geometries_to_metres_and_back() -> None:
    square = Point(109.73, 28.31).buffer(0.001)
    metric = crs.to_metric(square)
    x, _ = metric.centroid.coords[0]
    assert 300_000 < x < 500_000  # Gauss-Kruger false easting 500 km, Jishou 1.3 degrees west of 111E
    assert metric.area == pytest.approx(98.0 * 111.0 * 0.001**2 * np.pi * 1e6, rel=0.02)
    assert crs.from_metric(metric).equals_exact(square, tolerance=1e-9)


def test_to_metric_reprojects_geodataframes_and_refuses_a_missing_crs() -> None:
    frame = gpd.GeoDataFrame(geometry=[Point(109.73, 28.31)], crs=crs.CGCS2000)
    assert crs.to_metric(frame).crs.to_epsg() == crs.JISHOU_METRIC
    with pytest.raises(InvalidInput, match="no CRS"):
        crs.to_metric(gpd.GeoSeries([Point(109.73, 28.31)]))


def test_the_sql_form_of_the_gcj02_offset_equals_the_numpy_form(db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import literal, select

    from gis.spatial.crs import gcj02_offset_sql, wgs84_to_gcj02

    for lon, lat in [(109.7, 28.3), (116.397, 39.908), (121.47, 31.23), (87.6, 43.8), (2.35, 48.85)]:
        dlon, dlat = gcj02_offset_sql(literal(lon), literal(lat))
        sql_lon, sql_lat = db.execute(select(dlon, dlat)).one()
        gx, gy = wgs84_to_gcj02(lon, lat)
        assert sql_lon == pytest.approx(gx - lon, abs=1e-12) and sql_lat == pytest.approx(gy - lat, abs=1e-12)
