import io
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from gis.errors import Forbidden, InvalidInput, OutsideJurisdiction, StaleVersion
from gis.incidents import photos, workflow
from gis.incidents import service as incidents
from gis.incidents.work_calendar import SHANGHAI, WorkCalendar
from gis.models import Incident, IncidentEvent, Role, Status, User
from gis.people.permissions import PERMISSIONS
from tests.gis.conftest import INSIDE_A, INSIDE_B, StreetWorld, build_street_world
from tests.live import committed_database

CALENDAR = WorkCalendar()  # office hours, no holidays: deadlines in these tests do not depend on the year
MONDAY_9 = datetime.combine(date(2026, 3, 2), time(9), SHANGHAI)


def _report(db: Session, world: StreetWorld, category: str = "09006", at: tuple[float, float] = INSIDE_A) -> Incident:
    return incidents.create(db, category_code=category, lon=at[0], lat=at[1], reporter=world.grid_worker,
                            now=MONDAY_9).incident


def _move(db: Session, incident: Incident, to: str, actor: User, **kwargs: object) -> IncidentEvent:
    kwargs.setdefault("now", MONDAY_9)
    return workflow.transition(db, incident=incident, to=to, actor=actor, expected_version=incident.version,
                               calendar=CALENDAR, **kwargs)  # type: ignore[arg-type]


def _after_photo(db: Session, incident: Incident, tmp_path: Path, user: User) -> list:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 128, 0)).save(buffer, "PNG")
    return [photos.store_photo(db, incident=incident, photo=buffer.getvalue(), photo_dir=tmp_path, kind="after",
                               uploader=user)]


def _dispatched(db: Session, world: StreetWorld, **kwargs: object) -> Incident:
    incident = _report(db, world, **kwargs)  # type: ignore[arg-type]
    _move(db, incident, "registered", world.supervisor)
    _move(db, incident, "dispatched", world.supervisor)
    return incident


def test_a_case_goes_from_report_to_closed_with_one_event_per_step(db: Session, street_world, tmp_path) -> None:
    w = street_world
    incident = _report(db, w)  # 占道经营: 2 working hours
    _move(db, incident, "registered", w.supervisor)
    event = _move(db, incident, "dispatched", w.supervisor)
    assert incident.deadline_at == datetime.combine(date(2026, 3, 2), time(11), SHANGHAI)
    assert event.data["team_id"] == w.subdistrict_team.id and incident.dispatched_at == MONDAY_9
    _move(db, incident, "in_progress", w.officer_a)
    _move(db, incident, "handled", w.officer_a, photos=_after_photo(db, incident, tmp_path, w.officer_a),
          note="已劝离")
    _move(db, incident, "verified", w.grid_worker, note="现场核查通过")
    _move(db, incident, "closed", w.supervisor)
    assert incident.status == Status.closed and incident.closed_at == MONDAY_9
    steps = [(e.action, e.from_status, e.to_status, e.actor_id) for e in incident.events]
    assert steps == [
        ("report", None, "reported", w.grid_worker.id),
        ("register", "reported", "registered", w.supervisor.id),
        ("dispatch", "registered", "dispatched", w.supervisor.id),
        ("take", "dispatched", "in_progress", w.officer_a.id),
        ("handle", "in_progress", "handled", w.officer_a.id),
        ("verify", "handled", "verified", w.grid_worker.id),
        ("close", "verified", "closed", w.supervisor.id),
    ]
    assert incident.version == 7  # every change bumped it
    assert [p.event_id for p in incident.photos] == [incident.events[4].id]


def test_the_role_table_agrees_with_the_permission_table() -> None:
    for move in workflow.MOVES:
        assert move.roles == PERMISSIONS[move.permission], move.action


def test_an_unknown_state_is_refused(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    with pytest.raises(workflow.UnknownState, match="'finished'"):
        _move(db, incident, "finished", street_world.supervisor)
    assert incident.status == Status.reported and incident.version == 1


def test_a_move_not_allowed_from_the_current_state_is_refused(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    expected = r"cannot closed a case that is reported \(上报\); from here: register → registered"
    with pytest.raises(workflow.TransitionNotAllowed, match=expected):
        _move(db, incident, "closed", street_world.supervisor)
    assert incident.status == Status.reported
    assert db.scalar(select(func.count()).where(IncidentEvent.incident_id == incident.id)) == 1


@pytest.mark.parametrize(("role", "to"), [
    (Role.officer, "registered"), (Role.grid_worker, "registered"), (Role.planner, "rejected"),
    (Role.community_staff, "registered"),
])
def test_a_move_not_allowed_for_the_role_is_refused(db: Session, street_world, role, to) -> None:
    incident = _report(db, street_world)
    with pytest.raises(workflow.RoleNotAllowed, match=rf"role {role}"):
        _move(db, incident, to, street_world.user(role), note="x")
    assert incident.status == Status.reported and incident.version == 1


def test_only_officers_of_the_responsible_team_take_a_case(db: Session, street_world) -> None:
    w = street_world
    in_a = _dispatched(db, w)
    with pytest.raises(OutsideJurisdiction):  # team B answers for community B only
        _move(db, in_a, "in_progress", w.officer_b)
    in_b = _dispatched(db, w, at=INSIDE_B)  # dispatched to team B, the most specific
    with pytest.raises(workflow.NotResponsible):  # the subdistrict team reaches B but does not have the case
        _move(db, in_b, "in_progress", w.officer_a)
    _move(db, in_b, "in_progress", w.officer_b)
    assert in_b.status == Status.in_progress


def test_a_stale_version_is_refused_and_nothing_changes(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    with pytest.raises(StaleVersion, match="version 1, not 0"):
        workflow.transition(db, incident=incident, to="registered", actor=street_world.supervisor,
                            expected_version=0)
    assert incident.status == Status.reported and incident.version == 1
    assert len(incident.events) == 1


def test_a_change_made_behind_our_back_is_caught_when_writing(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    db.execute(text("UPDATE incident SET version = version + 1 WHERE id = :id"), {"id": incident.id})
    with pytest.raises(StaleVersion):
        _move(db, incident, "registered", street_world.supervisor)


def test_handling_needs_an_after_photo_when_the_category_asks_for_one(db: Session, street_world) -> None:
    w = street_world
    incident = _dispatched(db, w)
    _move(db, incident, "in_progress", w.officer_a)
    with pytest.raises(InvalidInput, match="photo after handling"):
        _move(db, incident, "handled", w.officer_a)
    assert incident.status == Status.in_progress
    noise = _dispatched(db, w, category="06028")  # 噪声扰民: nothing to photograph
    _move(db, noise, "in_progress", w.officer_a)
    _move(db, noise, "handled", w.officer_a)
    assert noise.status == Status.handled


def test_a_failed_verification_sends_the_case_back_for_rework(db: Session, street_world, tmp_path) -> None:
    w = street_world
    incident = _dispatched(db, w, category="06028")
    _move(db, incident, "in_progress", w.officer_a)
    _move(db, incident, "handled", w.officer_a)
    with pytest.raises(InvalidInput, match="needs a reason"):
        _move(db, incident, "rework", w.grid_worker)
    event = _move(db, incident, "in_progress", w.grid_worker, note="噪声仍在")
    assert (event.action, incident.status) == ("rework", Status.in_progress)


def test_rejecting_a_report_needs_a_reason_and_closes_it(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    with pytest.raises(InvalidInput, match=r"^note: reject"):
        _move(db, incident, "rejected", street_world.supervisor, note="  ")
    _move(db, incident, "rejected", street_world.supervisor, note="不属于城管职责")
    assert incident.status == Status.rejected and incident.closed_at == MONDAY_9


def test_dispatching_to_another_team_or_to_no_team_is_checked(db: Session, street_world) -> None:
    w = street_world
    incident = _report(db, w)
    _move(db, incident, "registered", w.supervisor)
    with pytest.raises(InvalidInput, match="no team 4242"):
        _move(db, incident, "dispatched", w.supervisor, data={"team_id": 4242})
    _move(db, incident, "dispatched", w.supervisor, data={"team_id": w.community_b_team.id})
    assert incident.team_id == w.community_b_team.id
    again = _move(db, incident, "dispatched", w.supervisor, data={"team_id": w.subdistrict_team.id})
    assert (again.from_status, again.to_status, incident.team_id) == ("dispatched", "dispatched",
                                                                       w.subdistrict_team.id)


def test_an_extension_moves_the_deadline_keeps_the_status_and_records_the_approver(db: Session, street_world) -> None:
    w = street_world
    incident = _dispatched(db, w)
    old = incident.deadline_at
    event = _move(db, incident, "extend", w.supervisor, note="商户配合整改中", data={"hours": 3, "requested_by":
                                                                                      w.officer_a.id})
    assert incident.status == Status.dispatched and (event.from_status, event.to_status) == ("dispatched",) * 2
    assert incident.deadline_at == datetime.combine(date(2026, 3, 2), time(16, 30), SHANGHAI)
    assert event.data["approver_id"] == w.supervisor.id and event.data["reason"] == "商户配合整改中"
    assert event.data["old_deadline_at"] == old.isoformat() and event.data["requested_by"] == w.officer_a.id
    with pytest.raises(InvalidInput, match="not after the current deadline"):
        _move(db, incident, "extend", w.supervisor, note="x", data={"deadline_at": "2026-03-02T10:00:00+08:00"})
    with pytest.raises(workflow.RoleNotAllowed):
        _move(db, incident, "extend", w.officer_a, note="x", data={"hours": 1})


def test_shelving_and_reopening_restart_the_clock(db: Session, street_world) -> None:
    w = street_world
    incident = _dispatched(db, w)
    _move(db, incident, "shelved", w.supervisor, note="需规划部门配合")
    later = datetime.combine(date(2026, 3, 3), time(9), SHANGHAI)
    _move(db, incident, "in_progress", w.supervisor, note="条件具备", now=later)
    assert incident.status == Status.in_progress
    assert incident.deadline_at == datetime.combine(date(2026, 3, 3), time(11), SHANGHAI)


def test_a_closed_case_reopened_as_registered_loses_its_closing_time_and_deadline(db: Session, street_world) -> None:
    w = street_world
    incident = _report(db, w)
    _move(db, incident, "void", w.supervisor, note="误报")
    assert incident.closed_at is not None
    event = _move(db, incident, "reopen", w.supervisor, note="市民再次来电")
    assert (event.to_status, incident.closed_at, incident.deadline_at) == ("registered", None, None)


def test_moves_from_lists_what_a_role_may_do_next() -> None:
    assert [m.action for m in workflow.moves_from(Status.handled, Role.grid_worker)] == ["verify", "rework"]
    assert [m.action for m in workflow.moves_from(Status.dispatched, Role.officer)] == [
        "take", "request_extension"]


def test_overdue_cases_escalate_once_after_twice_their_allowed_time(db: Session, street_world) -> None:
    w = street_world
    late = _dispatched(db, w)  # 2 working hours from Monday 09:00: due 11:00, escalates after 15:30
    on_time = _dispatched(db, w)
    _move(db, on_time, "extend", w.supervisor, note="x", data={"hours": 20})
    assert late.is_overdue(datetime.combine(date(2026, 3, 2), time(11, 1), SHANGHAI))
    before = datetime.combine(date(2026, 3, 2), time(15, 29), SHANGHAI)
    assert workflow.escalate_overdue(db, before, calendar=CALENDAR) == []
    after = datetime.combine(date(2026, 3, 2), time(15, 31), SHANGHAI)
    assert workflow.escalate_overdue(db, after, calendar=CALENDAR) == [late]
    assert late.escalated_at == after
    event = late.events[-1]
    assert (event.action, event.actor_id, event.data["to_subdistrict"]) == ("escalate", None, "433101004000")
    assert workflow.escalate_overdue(db, after, calendar=CALENDAR) == []  # once per clock
    overdue_ids = set(db.scalars(select(Incident.id).where(workflow.overdue_clause(after))))
    assert overdue_ids == {late.id}


def test_a_closed_case_is_never_overdue(db: Session, street_world) -> None:
    incident = _report(db, street_world)
    _move(db, incident, "void", street_world.supervisor, note="x")
    incident.deadline_at = datetime(2026, 1, 1, tzinfo=UTC)
    db.flush()
    assert not incident.is_overdue(MONDAY_9)
    assert db.scalar(select(func.count()).where(workflow.overdue_clause(MONDAY_9))) == 0


# -- two sessions at once, on a committed copy of the world ----------------------------------------------
# The rolled-back test transaction has one connection: two sessions on it would share one transaction (and
# trip over each other's savepoints), so a race needs committed rows and a connection per session.
@pytest.fixture(scope="module")
def committed_sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions (as the API makes them) on a database of its own holding the street world, committed."""
    with committed_database(database_url, "workflow") as engine:
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions() as session, session.begin():
            build_street_world(session)
        yield sessions


def _committed_report(sessions: sessionmaker[Session]) -> int:
    with sessions() as session, session.begin():
        reporter = session.scalars(select(User).where(User.username == "grid1")).one()
        return incidents.create(session, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                                reporter=reporter, now=MONDAY_9).incident.id


def _supervisor(session: Session) -> User:
    return session.scalars(select(User).where(User.username == "supervisor1")).one()


def _history(sessions: sessionmaker[Session], incident_id: int) -> tuple[str, int, list[str]]:
    with sessions() as session:
        incident = session.get_one(Incident, incident_id)
        return incident.status, incident.version, [e.action for e in incident.events]


def test_a_change_committed_by_another_session_since_loading_is_a_stale_version_naming_the_fix(
    committed_sessions: sessionmaker[Session],
) -> None:
    incident_id = _committed_report(committed_sessions)
    with committed_sessions() as first, committed_sessions() as second:
        mine, theirs = first.get_one(Incident, incident_id), second.get_one(Incident, incident_id)
        assert mine.version == theirs.version == 1
        workflow.transition(first, incident=mine, to="register", actor=_supervisor(first), expected_version=1)
        first.commit()
        # Loaded (and so checked in memory) at version 1; only the UPDATE sees the other session's commit.
        with pytest.raises(StaleVersion, match=r"JS-\d{4}-\d{6} is no longer at version 1: .*reload it and try"):
            workflow.transition(second, incident=theirs, to="reject", actor=_supervisor(second), note="重复",
                                expected_version=1)
        second.rollback()
    assert _history(committed_sessions, incident_id) == ("registered", 2, ["report", "register"])


def test_a_session_that_waits_on_another_sessions_change_of_the_case_gets_a_stale_version(
    committed_sessions: sessionmaker[Session],
) -> None:
    incident_id = _committed_report(committed_sessions)
    outcome: list[BaseException | None] = []
    with committed_sessions() as first, committed_sessions() as second:
        mine, theirs = first.get_one(Incident, incident_id), second.get_one(Incident, incident_id)
        workflow.transition(first, incident=mine, to="register", actor=_supervisor(first), expected_version=1)
        actor = _supervisor(second)

        def theirs_too() -> None:  # blocks on the row lock of the first session's uncommitted UPDATE
            try:
                workflow.transition(second, incident=theirs, to="void", actor=actor, note="作废",
                                    expected_version=1)
                outcome.append(None)
            except BaseException as exc:  # handed to the test's thread, which asserts on it
                outcome.append(exc)

        thread = threading.Thread(target=theirs_too)
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive(), "the second UPDATE should wait for the first transaction"
        first.commit()
        thread.join(timeout=30)
        second.rollback()
    assert len(outcome) == 1 and isinstance(outcome[0], StaleVersion), outcome
    assert _history(committed_sessions, incident_id) == ("registered", 2, ["report", "register"])


def test_the_clock_stops_once_a_case_is_handled_and_restarts_when_it_is_sent_back(
    db: Session, street_world, tmp_path
) -> None:
    w = street_world
    incident = _dispatched(db, w)  # due Monday 11:00
    _move(db, incident, "in_progress", w.officer_a)
    _move(db, incident, "handled", w.officer_a, photos=_after_photo(db, incident, tmp_path, w.officer_a))
    late = datetime.combine(date(2026, 3, 2), time(16), SHANGHAI)
    ids = select(Incident.id).where(workflow.overdue_clause(late))
    assert not incident.is_overdue(late) and incident.id not in set(db.scalars(ids))
    _move(db, incident, "verified", w.grid_worker, note="现场核查通过")
    assert not incident.is_overdue(late) and incident.id not in set(db.scalars(ids))  # drawn red on the map before
    incident2 = _dispatched(db, w)
    _move(db, incident2, "in_progress", w.officer_a)
    _move(db, incident2, "handled", w.officer_a, photos=_after_photo(db, incident2, tmp_path, w.officer_a))
    _move(db, incident2, "rework", w.grid_worker, note="仍有摊位")  # back to work: the old deadline runs again
    assert incident2.is_overdue(late) and incident2.id in set(db.scalars(ids))


def test_an_officer_asks_for_more_time_and_the_centre_grants_it_naming_who_asked(db: Session, street_world) -> None:
    w = street_world
    incident = _dispatched(db, w)
    deadline = incident.deadline_at
    with pytest.raises(InvalidInput, match="note"):
        _move(db, incident, "request_extension", w.officer_a)
    asked = _move(db, incident, "request_extension", w.officer_a, note="需协调产权单位", data={"hours": 8})
    assert (asked.from_status, asked.to_status, asked.data) == ("dispatched", "dispatched", {"hours": 8.0})
    assert incident.deadline_at == deadline  # asking changes nothing but the history
    with pytest.raises(Forbidden):  # another team's officer (outside its jurisdiction too)
        _move(db, incident, "request_extension", w.officer_b, note="x")
    granted = _move(db, incident, "extend", w.supervisor, note="同意",
                    data={"hours": 8, "requested_by": w.officer_a.id})
    assert granted.data["requested_by"] == w.officer_a.id and incident.deadline_at > deadline
