import csv
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.incidents import service as incidents
from gis.incidents import workflow
from gis.incidents.categories import CATEGORIES_FILE
from gis.incidents.work_calendar import SHANGHAI
from gis.models import Category, Incident, IncidentEvent
from tests.gis.conftest import INSIDE_A, StreetWorld, build_street_world


@pytest.fixture
def world(db: Session) -> StreetWorld:
    return build_street_world(db)


def _csv(folder: Path, rows: list[tuple[object, ...]]) -> Path:
    path = folder / "hotline.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lon", "lat", "category", "description", "reported_at", "status"])
        writer.writerows(rows)
    return path


GOOD = (INSIDE_A[0], INSIDE_A[1], "09006", "占道经营", "2025-05-01T09:00:00+08:00", "closed")


def test_categories_reload_reports_what_changed(db: Session, cli, tmp_path: Path) -> None:
    unchanged = cli("categories", "reload")
    assert unchanged.exit_code == 0, unchanged.output
    assert "0 added, 0 changed, 0 deactivated, 250 unchanged" in unchanged.output
    edited = tmp_path / "categories.csv"
    edited.write_text(CATEGORIES_FILE.read_text(encoding="utf-8").replace(
        "09006,,09,街面秩序类,占道经营,Trading on the road or pavement,2,",
        "09006,,09,街面秩序类,占道经营,Trading on the road or pavement,3,"), encoding="utf-8")
    result = cli("categories", "reload", edited)
    assert result.exit_code == 0, result.output
    assert "1 changed" in result.output and "~ 09006: deadline_hours" in result.output
    assert db.get(Category, "09006").deadline_hours == 3  # type: ignore[union-attr]


def test_categories_reload_refuses_a_bad_file_without_a_traceback(db: Session, cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(CATEGORIES_FILE.read_text(encoding="utf-8").replace(",2,true", ",soon,true", 1), encoding="utf-8")
    result = cli("categories", "reload", bad)
    assert result.exit_code == 1 and "deadline_hours" in result.output and "Traceback" not in result.output


def test_incidents_import_writes_the_file(db: Session, world: StreetWorld, cli, tmp_path: Path) -> None:
    result = cli("incidents", "import", _csv(tmp_path, [GOOD, GOOD]), "--as", world.supervisor.username)
    assert result.exit_code == 0, result.output
    assert "2 of 2 incidents imported" in result.output
    assert db.scalar(select(func.count()).select_from(Incident)) == 2
    assert set(db.scalars(select(IncidentEvent.actor_id))) == {world.supervisor.id}


def test_incidents_import_all_or_nothing_lists_refused_rows_and_writes_nothing(
    db: Session, world: StreetWorld, cli, tmp_path: Path
) -> None:
    path = _csv(tmp_path, [GOOD, (INSIDE_A[1], INSIDE_A[0], "09006", "", "", ""), (109.7, 28.3, "12345", "", "", "")])
    result = cli("incidents", "import", path)
    assert result.exit_code == 1
    assert "swapped" in result.output and "unknown or inactive code '12345'" in result.output
    assert "nothing was written" in result.output and "Traceback" not in result.output
    assert db.scalar(select(func.count()).select_from(Incident)) == 0


def test_incidents_import_skip_bad_writes_the_good_rows(db: Session, world: StreetWorld, cli, tmp_path: Path) -> None:
    path = _csv(tmp_path, [GOOD, (109.7, 28.3, "12345", "", "", "")])
    result = cli("incidents", "import", path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "1 of 2 incidents imported" in result.output and "1 rows refused" in result.output
    assert db.scalar(select(func.count()).select_from(Incident)) == 1


def test_incidents_import_refuses_an_unreadable_file(db: Session, world: StreetWorld, cli, tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("x,y\n1,2\n", encoding="utf-8")
    result = cli("incidents", "import", path)
    assert result.exit_code == 1 and "missing column" in result.output


def test_incidents_escalate_escalates_long_overdue_cases(db: Session, world: StreetWorld, cli) -> None:
    incident = incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1]).incident
    for to in ("registered", "dispatched"):
        workflow.transition(db, incident=incident, to=to, actor=world.supervisor, expected_version=incident.version)
    # Dispatched years ago with two working hours: long past twice its allowed time.
    incident.dispatched_at = datetime(2020, 3, 2, 9, 0, tzinfo=SHANGHAI)
    incident.deadline_at = datetime(2020, 3, 2, 11, 0, tzinfo=SHANGHAI)
    db.flush()
    result = cli("incidents", "escalate")
    assert result.exit_code == 0, result.output
    assert f"1 case(s) escalated: {incident.public_id}" in result.output
