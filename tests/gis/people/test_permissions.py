import pytest
from sqlalchemy.orm import Session

from gis.errors import Forbidden, OutsideJurisdiction
from gis.models import Role, User
from gis.people import permissions, users
from gis.people.permissions import Action, can, require, require_jurisdiction
from tests.common import QIANZHOU, ZHENXI
from tests.factories import FIRST_COMMUNITY, add_user, add_world, default_team

# What each role may do, written out by role (the module writes it by action): a change to either
# side that the other does not share fails the parametrised test below.
EXPECTED: dict[str, set[str]] = {
    "grid_worker": {"incident.create", "incident.read", "incident.verify", "facility.read"},
    "officer": {"incident.create", "incident.read", "incident.handle", "facility.read"},
    "supervisor": {
        "incident.create", "incident.read", "incident.read_all", "incident.register", "incident.dispatch",
        "incident.verify", "incident.close", "incident.void", "incident.extend", "incident.shelve",
        "incident.reopen", "incident.import", "export.read", "facility.read",
    },
    "planner": {"export.read", "facility.read"},
    "admin": {str(a) for a in Action},
    "unit_manager": {"facility.manage", "facility.read"},
    "community_staff": {"incident.create", "incident.read", "facility.book", "facility.read"},
}


def person(role: str, **fields: object) -> User:
    """An unsaved user: role checks need no database."""
    return User(username=f"{role}_x", display_name="x", role=role, is_active=True, **fields)


def test_the_expectation_covers_every_role_and_names_only_real_actions() -> None:
    assert set(EXPECTED) == {r.value for r in Role}
    assert set().union(*EXPECTED.values()) <= {a.value for a in Action}


@pytest.mark.parametrize("role", [r.value for r in Role])
@pytest.mark.parametrize("action", list(Action), ids=str)
def test_each_role_may_do_exactly_the_expected_actions(role: str, action: Action) -> None:
    user = person(role)
    assert can(user, action) is (action.value in EXPECTED[role])
    if action.value in EXPECTED[role]:
        require(user, action)
    else:
        with pytest.raises(Forbidden):
            require(user, action)


def test_a_refusal_names_the_role_and_the_action() -> None:
    with pytest.raises(Forbidden, match=r"role planner may not incident\.close") as caught:
        require(person("planner"), Action.incident_close)
    assert not isinstance(caught.value, OutsideJurisdiction)


def test_a_disabled_user_may_do_nothing() -> None:
    admin = person("admin")
    admin.is_active = False
    assert not any(can(admin, action) for action in Action)
    with pytest.raises(Forbidden, match="disabled"):
        require(admin, Action.facility_read)


def test_allowed_actions_follow_the_table_order() -> None:
    assert permissions.allowed_actions(person("planner")) == [Action.export_read, Action.facility_read]


def test_every_role_has_a_reach() -> None:
    assert set(permissions.REACH) == set(Role)


@pytest.fixture
def world(db: Session) -> Session:
    add_world(db)
    return db


def test_an_officer_acts_only_inside_the_team_communities(world: Session) -> None:
    officer = add_user(world, Role.officer, team=default_team(world))  # 乾州街道: 433101004001, 433101004002
    require_jurisdiction(world, officer, "433101004002")
    with pytest.raises(OutsideJurisdiction, match=r"433101005001 is outside the jurisdiction of .*乾州街道测试中队"):
        require_jurisdiction(world, officer, "433101005001")
    with pytest.raises(OutsideJurisdiction, match="outside every community"):
        require_jurisdiction(world, officer, None)
    assert permissions.reach_communities(world, officer) == {"433101004001", "433101004002"}


@pytest.mark.parametrize("role", ["supervisor", "admin", "grid_worker", "planner", "unit_manager"])
def test_roles_that_reach_anywhere_pass_every_place(world: Session, role: str) -> None:
    user = add_user(world, role)
    for place in (FIRST_COMMUNITY, "433101005002", None):
        require_jurisdiction(world, user, place)
    assert permissions.reach_communities(world, user) is None


def test_community_staff_act_in_their_own_community_only(world: Session) -> None:
    staff = add_user(world, Role.community_staff, community_code="433101005001")
    require_jurisdiction(world, staff, "433101005001")
    with pytest.raises(OutsideJurisdiction, match="433101005002"):
        require_jurisdiction(world, staff, "433101005002")


def test_an_officer_of_a_team_over_two_subdistricts_reaches_both(world: Session) -> None:
    team = users.create_team(world, name="大队", jurisdiction_codes=[QIANZHOU, ZHENXI])
    officer = add_user(world, Role.officer, team=team)
    for community in ("433101004001", "433101004002", "433101005001", "433101005002"):
        require_jurisdiction(world, officer, community)
