"""gis.layers.tile_cache: a bounded LRU with a lifetime, keyed by layer, tile, scope and the data version that
migration 0017's triggers move on every write path."""

from __future__ import annotations

import io

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.incidents.query import IncidentFilter
from gis.layers.areas import GridCellLayer
from gis.layers.density import IncidentDensityLayer
from gis.layers.tile_cache import DataVersion, TileCache, tile_key
from tests.factories import WORLD_CELLS, add_world
from tests.gis.layers.test_tiles import add_incident


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_tile_is_served_until_its_lifetime_ends() -> None:
    clock = Clock()
    cache = TileCache(10_000, 30, clock)
    cache.put(b"k", b"tile")
    clock.now = 30
    assert cache.get(b"k") == b"tile"
    clock.now = 30.5
    assert cache.get(b"k") is None and len(cache) == 0
    assert (cache.hits, cache.misses) == (1, 1)


def test_the_least_recently_used_tiles_go_first_when_memory_is_full() -> None:
    cache = TileCache(3 * (1000 + 200), 30)
    for key in (b"a", b"b", b"c"):
        cache.put(key, bytes(1000))
    assert cache.get(b"a") is not None  # now b is the least recently used
    cache.put(b"d", bytes(1000))
    assert cache.get(b"b") is None
    assert all(cache.get(k) is not None for k in (b"a", b"c", b"d"))
    assert cache.size_bytes <= cache.max_bytes
    cache.put(b"huge", bytes(10_000))  # larger than the whole cache: not kept, nothing evicted for it
    assert cache.get(b"huge") is None and len(cache) == 3


def test_a_cache_of_no_memory_keeps_nothing() -> None:
    cache = TileCache(0, 30)
    cache.put(b"k", b"tile")
    assert not cache.enabled and cache.get(b"k") is None


def test_the_key_holds_the_filter_the_scope_and_the_version_that_matters() -> None:
    v1, v2, v3 = DataVersion(1, 1), DataVersion(2, 1), DataVersion(1, 2)
    density = IncidentDensityLayer(metric_crs=4546)
    mine = density.filtered(IncidentFilter(within_cells=[WORLD_CELLS[0]]))
    theirs = density.filtered(IncidentFilter(within_cells=[WORLD_CELLS[1]]))
    assert tile_key(mine, 16, 1, 2, "wgs84", v1) != tile_key(theirs, 16, 1, 2, "wgs84", v1)
    assert tile_key(mine, 16, 1, 2, "wgs84", v1) != tile_key(mine, 16, 1, 2, "gcj02", v1)
    assert tile_key(mine, 16, 1, 2, "wgs84", v1) != tile_key(mine, 16, 1, 3, "wgs84", v1)
    assert tile_key(mine, 16, 1, 2, "wgs84", v1) != tile_key(mine, 16, 1, 2, "wgs84", v2)
    cells = GridCellLayer()  # counts no incident: a new case does not replace its tiles, a new cell does
    assert tile_key(cells, 16, 1, 2, "wgs84", v1) == tile_key(cells, 16, 1, 2, "wgs84", v2)
    assert tile_key(cells, 16, 1, 2, "wgs84", v1) != tile_key(cells, 16, 1, 2, "wgs84", v3)


def test_every_write_to_incidents_moves_the_incident_version_once_per_statement(db: Session) -> None:
    add_world(db)
    from gis.incidents.categories import load_categories

    load_categories(db)
    before = DataVersion.read(db)
    add_incident(db, WORLD_CELLS[0], 109.7004)  # an ORM insert, as the service and seeds do
    inserted = DataVersion.read(db)
    assert inserted.incidents > before.incidents and inserted.places == before.places
    db.execute(text("UPDATE incident SET status = 'registered'"))  # a workflow move
    assert DataVersion.read(db).incidents > inserted.incidents
    places = DataVersion.read(db).places
    db.execute(text("UPDATE grid_cell SET area_m2 = area_m2"))
    assert DataVersion.read(db).places > places


def test_a_copy_of_many_rows_moves_the_version_once(db: Session, database_url: str) -> None:
    """Bulk imports load by COPY (``gis.incidents.bulk_copy``): the statement-level trigger — the one on
    ``incident``, tried on a scratch table — fires once for 5,000 rows."""
    kinds = db.execute(text(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'incident'::regclass AND NOT tgisinternal "
        "AND tgtype & 1 = 0 AND tgfoid = 'wangge_map_data_changed'::regproc")).scalars().all()
    assert kinds == ["incident_map_data_changed"]  # statement level (bit 0 of tgtype clear)
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        conn.execute("CREATE TEMP TABLE t_copy (n int)")
        conn.execute("CREATE TRIGGER t_copy_changed AFTER INSERT ON t_copy "
                     "FOR EACH STATEMENT EXECUTE FUNCTION wangge_map_data_changed('incident')")
        before = conn.execute("SELECT last_value FROM incident_data_version").fetchone()
        with conn.cursor().copy("COPY t_copy (n) FROM STDIN") as copy:
            copy.write(io.StringIO("".join(f"{i}\n" for i in range(5000))).getvalue())
        after = conn.execute("SELECT last_value FROM incident_data_version").fetchone()
        conn.rollback()
    assert before is not None and after is not None and after[0] == before[0] + 1
