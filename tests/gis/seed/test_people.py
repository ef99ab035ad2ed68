import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.models import GridCellWorker, Role, Team, TeamJurisdiction, User
from gis.people import security, users
from gis.seed.people import CITY_TEAM, seed_demo_people
from tests.common import QIANZHOU, ZHENXI
from tests.factories import CHEAP_PASSWORD_HASH, FIRST_COMMUNITY, WORLD_CELLS, add_world


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo hashes a dozen passwords per seeding; test-sized Argon2 keeps these tests fast."""
    monkeypatch.setattr(security, "_passwords", CHEAP_PASSWORD_HASH)


def snapshot(session: Session) -> tuple[list[tuple], list[tuple], list[tuple]]:
    people = session.execute(
        select(User.username, User.role, User.team_id, User.community_code, User.password_hash, User.phone)
        .order_by(User.username)
    ).all()
    teams = session.execute(
        select(Team.id, Team.name, TeamJurisdiction.area_code).join(TeamJurisdiction).order_by(Team.id, "area_code")
    ).all()
    cells = session.execute(
        select(GridCellWorker.user_id, GridCellWorker.cell_code).order_by("user_id", "cell_code")
    ).all()
    return [tuple(r) for r in people], [tuple(r) for r in teams], [tuple(r) for r in cells]


@pytest.fixture
def world(db: Session) -> Session:
    add_world(db)  # 乾州 and 镇溪 present; 峒河, 石家冲, 双塘 absent
    return db


def test_seeding_twice_gives_the_same_rows_and_the_same_logins(world: Session) -> None:
    first = seed_demo_people(world)
    before = snapshot(world)
    second = seed_demo_people(world)
    assert snapshot(world) == before
    assert second == first
    assert len(before[0]) == len(first)


def test_there_is_a_demo_user_of_every_role_marked_as_demo(world: Session) -> None:
    logins = seed_demo_people(world)
    assert {login.role for login in logins} == {r.value for r in Role}
    assert all(login.username.startswith("demo_") for login in logins)
    assert all(login.display_name.endswith("（演示）") for login in logins)
    phones = world.scalars(select(User.phone).where(User.username.like("demo\\_%"))).all()
    assert phones and all(p is not None and p.startswith("000-0000-") for p in phones)


def test_teams_exist_only_for_the_urban_subdistricts_present(world: Session) -> None:
    seed_demo_people(world)
    names = set(world.scalars(select(Team.name)))
    assert names == {"乾州街道执法中队", "镇溪街道执法中队", CITY_TEAM}
    city = world.scalars(select(Team).where(Team.name == CITY_TEAM)).one()
    assert {j.area_code for j in city.jurisdiction} == {QIANZHOU, ZHENXI}
    assert len(users.team_community_codes(world, city.id)) == 4


def test_each_officer_belongs_to_a_team_and_grid_workers_patrol_cells_of_their_community(world: Session) -> None:
    logins = seed_demo_people(world)
    officers = [login for login in logins if login.role == "officer"]
    assert {login.team for login in officers} == {"乾州街道执法中队", "镇溪街道执法中队", CITY_TEAM}
    qianzhou_worker = users.get_user(world, "demo_grid_qianzhou")
    assert qianzhou_worker.community_code == FIRST_COMMUNITY
    assert users.user_cell_codes(world, qianzhou_worker) == WORLD_CELLS
    zhenxi_worker = users.get_user(world, "demo_grid_zhenxi")
    assert users.user_cell_codes(world, zhenxi_worker) == []  # no grid built there


def test_a_demo_login_logs_in(world: Session) -> None:
    login = next(login for login in seed_demo_people(world) if login.role == "supervisor")
    assert login.password == "demo-supervisor"
    assert users.authenticate(world, login.username, login.password).role == "supervisor"


def test_without_boundaries_the_demo_still_has_people_to_log_in_as(db: Session) -> None:
    logins = seed_demo_people(db)
    roles = {login.role for login in logins}
    assert {"grid_worker", "supervisor", "planner", "admin", "unit_manager"} <= roles
    assert "officer" not in roles  # officers need a team, and a team needs a jurisdiction
