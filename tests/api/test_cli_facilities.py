from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.models import Facility
from tests.facility_world import FACILITY_HEADER, OUTSIDE, facility_row, write_csv, write_import_files
from tests.factories import WORLD_CELLS


@pytest.fixture
def files(db: Session, tmp_path: Path) -> dict[str, Path]:
    return write_import_files(db, tmp_path)


def test_import_then_sharing_lists_what_has_no_facility_in_reach(cli, db: Session, files: dict[str, Path]) -> None:
    result = cli("facilities", "import", files["units"], files["pairings"], files["facilities"])
    assert result.exit_code == 0, result.output
    assert "facilities: 3 added" in result.output
    assert db.scalar(select(func.count()).select_from(Facility)) == 3
    result = cli("facilities", "sharing", "--radius", "60")
    assert result.exit_code == 0, result.output
    assert "cell(s)" in result.output
    shown = [code for code in WORLD_CELLS if code in result.output]
    assert shown == [WORLD_CELLS[0], WORLD_CELLS[2]]  # the room and lot are 55 m from the second cell only


def test_a_failed_import_exits_1_listing_problems_and_writes_nothing(cli, db: Session, files: dict[str, Path],
                                                                      tmp_path: Path) -> None:
    bad = write_csv(tmp_path, "facilities.csv", FACILITY_HEADER, [facility_row("远处", at=OUTSIDE)])
    result = cli("facilities", "import", files["units"], bad)
    assert result.exit_code == 1
    assert "1 error(s), nothing was written" in result.output and "远处" in result.output
    assert db.scalar(select(func.count()).select_from(Facility)) == 0
