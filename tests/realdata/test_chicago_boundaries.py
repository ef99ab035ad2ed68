"""Chicago's 98 neighbourhoods, imported as they come: foreign ids, 4 invalid polygons, no parents."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.models import AdminArea
from tests.conftest import Cli
from tests.realdata.conftest import NEIGHBOURHOODS


def test_the_neighbourhoods_import_with_their_own_ids(chicago_cli: Cli, db: Session) -> None:
    result = chicago_cli("boundaries", "import", NEIGHBOURHOODS, "--level", "community",
                         "--code-field", "cartodb_id", "--name-field", "name")

    assert result.exit_code == 0, result.output
    assert "98 added" in result.stdout and "4 warning(s)" in result.stdout
    rows = db.execute(select(AdminArea.code, AdminArea.name, AdminArea.level, AdminArea.parent_code)
                      .where(AdminArea.valid_to.is_(None))).all()
    assert len(rows) == 98 and {r.level for r in rows} == {"community"} and {r.parent_code for r in rows} == {None}
    names = {r.name for r in rows}
    assert {"Portage Park", "Englewood", "O'Hare", "Museum Campus"} <= names
    for repaired in ("South Chicago", "Englewood", "Auburn Gresham", "Montclare"):
        assert repaired in result.stdout  # the repaired polygons are named in the warnings


def test_the_neighbourhoods_are_refused_with_a_hint_in_the_default_china_region(cli: Cli) -> None:
    result = cli("boundaries", "import", NEIGHBOURHOODS, "--level", "community", "--code-scheme", "any",
                 "--code-field", "cartodb_id", "--name-field", "name")

    assert result.exit_code == 1
    assert "outside the region this deployment expects" in result.stdout and "wangge city init" in result.stdout
