"""A bulk load's keys, held once per value: the same guarantee as PostgreSQL's row-by-row checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.incidents.bulk_import import import_incidents
from gis.incidents.bulk_keys import keys_checked_once
from gis.layers.tile_cache import DataVersion
from tests.gis.conftest import StreetWorld
from tests.gis.incidents.test_bulk_import import good, write_csv

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_load_holds_its_categories_against_deletion_until_it_ends(
    db: Session, street_world: StreetWorld, tmp_path: Path, engine: Engine
) -> None:
    import_incidents(db, write_csv(tmp_path, [good(), good(), good(category="06001")]), now=NOW)

    assert db.scalar(text("SELECT current_setting('session_replication_role')")) == "origin"  # reset after
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as other:
        other.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            other.execute("DELETE FROM category WHERE code = '09006'")  # as a row-by-row key check would hold it


def test_a_key_gone_since_the_check_is_named(db: Session, street_world: StreetWorld) -> None:
    with pytest.raises(InvalidInput, match="team_id: 987654 no longer exist"), \
            keys_checked_once(db, categories={"09006"}, teams={987654}, users=set()):
        pass


def test_a_role_that_may_not_switch_triggers_off_keeps_the_row_by_row_checks(db: Session) -> None:
    db.execute(text("CREATE ROLE wangge_plain_loader"))
    db.execute(text("SET LOCAL ROLE wangge_plain_loader"))
    with keys_checked_once(db, categories={"09006"}, teams=set(), users=set()) as skipped:
        assert skipped is False
        assert db.scalar(text("SELECT current_setting('session_replication_role')")) == "origin"


def test_the_row_by_row_triggers_are_off_for_the_block_only(db: Session, street_world: StreetWorld) -> None:
    setting = text("SELECT current_setting('session_replication_role')")
    with keys_checked_once(db, categories={"09006"}, teams={street_world.subdistrict_team.id},
                           users={street_world.supervisor.id}) as skipped:
        assert skipped is True and db.scalar(setting) == "replica"
    assert db.scalar(setting) == "origin"


def test_a_load_with_its_triggers_off_still_moves_the_map_version(
    db: Session, street_world: StreetWorld, tmp_path: Path
) -> None:
    """The COPY runs as a replica (no triggers), so the statement trigger that keys the tile cache
    (migration 0017) stays quiet: the load moves the version itself, or the map would show old tiles."""
    before = DataVersion.read(db)
    import_incidents(db, write_csv(tmp_path, [good(), good()]), now=NOW)
    after = DataVersion.read(db)
    assert after.incidents > before.incidents and after.places == before.places
