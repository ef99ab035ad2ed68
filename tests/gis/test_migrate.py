from sqlalchemy import Engine, inspect, text

from gis import migrate


def test_migrations_reach_head_and_create_the_spatial_tables(engine: Engine) -> None:
    assert migrate.current(engine) is not None
    tables = set(inspect(engine).get_table_names())
    assert {"admin_area", "compound", "grid_cell", "app_user", "team"} <= tables


def test_geometry_columns_are_4326_with_gist_indexes(engine: Engine) -> None:
    with engine.connect() as conn:
        srids = dict(conn.execute(text(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = 'public'"
        )).all())
        gist = {row[0] for row in conn.execute(text(
            "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'"
        ))}
    assert srids["admin_area"] == srids["grid_cell"] == srids["compound"] == 4326
    assert {"admin_area", "grid_cell", "compound"} <= gist


def test_metric_crs_is_known_to_postgis(engine: Engine) -> None:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM spatial_ref_sys WHERE srid IN (4490, 4546)")).scalar()
    assert found == 2
