from datetime import date

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from gis.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from gis.models import AdminArea, ApiKey, Role, User
from gis.people import users
from tests.common import CITY, QIANZHOU, ZHENXI
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS, add_user, add_world, default_team


@pytest.fixture
def world(db: Session) -> Session:
    add_world(db)
    return db


def test_a_new_user_keeps_a_hash_not_the_password(world: Session) -> None:
    user = users.create_user(world, username="Li.Ming", display_name=" 李明 ", role="supervisor",
                             password="s3cret-pass", phone="000-0000-0001")
    stored = world.scalar(select(User).where(User.id == user.id))
    assert stored is not None
    assert (stored.username, stored.display_name, stored.role) == ("li.ming", "李明", "supervisor")
    assert stored.password_hash is not None and "s3cret-pass" not in stored.password_hash


def test_a_taken_username_is_a_conflict(world: Session) -> None:
    add_user(world, Role.planner, username="planner_a")
    with pytest.raises(Conflict, match="planner_a"):
        add_user(world, Role.admin, username="PLANNER_A")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "a b"}, "username"),
        ({"username": "x"}, "username"),
        ({"role": "mayor"}, "unknown role 'mayor'"),
        ({"display_name": "  "}, "display_name"),
        ({"password": "short"}, "at least 8"),
        ({"role": "officer"}, "officer must belong to a team"),
        ({"role": "community_staff"}, "community staff must name"),
        ({"community_code": "433101999999"}, "not a current admin area: 433101999999"),
        ({"community_code": QIANZHOU}, "not a community"),
    ],
)
def test_invalid_user_fields_are_refused_with_the_field_named(
    world: Session, changes: dict[str, str], message: str
) -> None:
    fields = {"username": "someone", "display_name": "某人", "role": "planner", **changes}
    with pytest.raises(InvalidInput, match=message):
        users.create_user(world, **fields)  # type: ignore[arg-type]


def test_the_right_password_authenticates_the_user(world: Session) -> None:
    created = add_user(world, Role.grid_worker, username="wang", password="s3cret-pass")
    assert users.authenticate(world, " Wang ", "s3cret-pass").id == created.id


@pytest.mark.parametrize(("username", "password"), [("wang", "wrong-pass"), ("nobody", "s3cret-pass")])
def test_a_wrong_password_or_unknown_user_gets_one_and_the_same_refusal(
    world: Session, username: str, password: str
) -> None:
    add_user(world, Role.grid_worker, username="wang", password="s3cret-pass")
    with pytest.raises(Unauthenticated, match=r"^wrong username or password$"):
        users.authenticate(world, username, password)


def test_a_user_without_password_cannot_log_in(world: Session) -> None:
    add_user(world, Role.grid_worker, username="nopass")
    with pytest.raises(Unauthenticated):
        users.authenticate(world, "nopass", "")


def test_a_disabled_user_cannot_log_in_or_use_keys(world: Session) -> None:
    user = add_user(world, Role.grid_worker, username="gone", password="s3cret-pass")
    key = users.create_api_key(world, user)
    user.is_active = False
    world.flush()
    with pytest.raises(Unauthenticated, match="disabled"):
        users.authenticate(world, "gone", "s3cret-pass")
    with pytest.raises(Unauthenticated, match="disabled"):
        users.user_for_api_key(world, key)
    with pytest.raises(Unauthenticated):
        users.active_user(world, user.id)


def test_an_api_key_finds_its_user_and_only_its_hash_is_stored(world: Session) -> None:
    user = add_user(world, Role.grid_worker)
    key = users.create_api_key(world, user)
    assert users.user_for_api_key(world, key).id == user.id
    stored = world.scalars(select(ApiKey).where(ApiKey.user_id == user.id)).one()
    assert key not in stored.key_hash and key.startswith(stored.prefix)
    dump = world.execute(text("SELECT string_agg(prefix || key_hash, ' ') FROM api_key")).scalar()
    assert key not in (dump or "")


@pytest.mark.parametrize("key", ["", "wg_", "not-a-key", "wg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"])
def test_an_unknown_api_key_is_refused(world: Session, key: str) -> None:
    add_user(world, Role.grid_worker)
    with pytest.raises(Unauthenticated):
        users.user_for_api_key(world, key)


def test_a_key_sharing_a_prefix_with_a_real_key_is_refused(world: Session) -> None:
    key = users.create_api_key(world, add_user(world, Role.grid_worker))
    with pytest.raises(Unauthenticated):
        users.user_for_api_key(world, key[:-1] + ("A" if key[-1] != "A" else "B"))


def test_a_revoked_key_is_refused(world: Session) -> None:
    key = users.create_api_key(world, add_user(world, Role.grid_worker))
    users.revoke_api_key(world, key[:11])
    with pytest.raises(Unauthenticated, match="revoked"):
        users.user_for_api_key(world, key)
    with pytest.raises(NotFound):
        users.revoke_api_key(world, key[:11])


def test_a_team_over_a_subdistrict_answers_for_its_current_communities(world: Session) -> None:
    team = users.create_team(world, name="乾州中队", jurisdiction_codes=[QIANZHOU])
    assert users.team_community_codes(world, team.id) == {"433101004001", "433101004002"}


def test_a_team_can_list_single_communities_across_subdistricts(world: Session) -> None:
    team = users.create_team(world, name="混合中队", jurisdiction_codes=["433101004002", "433101005001"])
    assert users.team_community_codes(world, team.id) == {"433101004002", "433101005001"}


def test_a_retired_community_leaves_the_team_jurisdiction(world: Session) -> None:
    team = users.create_team(world, name="镇溪中队", jurisdiction_codes=[ZHENXI])
    world.execute(update(AdminArea).where(AdminArea.code == "433101005002").values(valid_to=date.today()))
    assert users.team_community_codes(world, team.id) == {"433101005001"}


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ([], "at least one"),
        (["433101009000"], "not a current admin area: 433101009000"),
        ([CITY], "not a subdistrict or community"),
    ],
)
def test_a_team_jurisdiction_must_be_current_subdistricts_or_communities(
    world: Session, codes: list[str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        users.create_team(world, name="坏中队", jurisdiction_codes=codes)


def test_a_team_name_is_unique(world: Session) -> None:
    users.create_team(world, name="乾州中队", jurisdiction_codes=[QIANZHOU])
    with pytest.raises(Conflict):
        users.create_team(world, name="乾州中队", jurisdiction_codes=[ZHENXI])


def test_assigning_cells_adds_only_new_ones_and_lists_them_sorted(world: Session) -> None:
    worker = add_user(world, Role.grid_worker)
    assert users.assign_cells(world, worker, [WORLD_CELLS[2], WORLD_CELLS[0]]) == [WORLD_CELLS[0], WORLD_CELLS[2]]
    assert users.assign_cells(world, worker, WORLD_CELLS) == [WORLD_CELLS[1]]
    assert users.user_cell_codes(world, worker) == WORLD_CELLS


def test_only_grid_workers_get_cells_and_only_existing_ones(world: Session) -> None:
    officer = add_user(world, Role.officer, team=default_team(world))
    with pytest.raises(InvalidInput, match="only grid workers"):
        users.assign_cells(world, officer, WORLD_CELLS)
    worker = add_user(world, Role.grid_worker)
    with pytest.raises(InvalidInput, match=f"{FIRST_COMMUNITY}999"):
        users.assign_cells(world, worker, [WORLD_CELLS[0], f"{FIRST_COMMUNITY}999"])
    assert users.user_cell_codes(world, worker) == []


def test_lookups_by_name_raise_not_found(world: Session) -> None:
    with pytest.raises(NotFound):
        users.get_user(world, "nobody")
    with pytest.raises(NotFound):
        users.get_team(world, "无此中队")


def test_a_disabled_user_cannot_log_in_or_use_a_key_and_no_one_disables_themself(world: Session) -> None:
    admin, worker = add_user(world, "admin"), add_user(world, "grid_worker")
    users.set_password(world, worker, "long-enough-1")
    key = users.create_api_key(world, worker)
    assert [(k.prefix, owner) for k, owner in users.list_api_keys(world)] == [(key[:11], worker.username)]
    users.set_active(world, worker, False, by=admin)
    with pytest.raises(Unauthenticated, match="disabled"):
        users.authenticate(world, worker.username, "long-enough-1")
    with pytest.raises(Unauthenticated, match="disabled"):
        users.user_for_api_key(world, key)
    with pytest.raises(InvalidInput, match="is you"):
        users.set_active(world, admin, False, by=admin)
    users.set_active(world, worker, True, by=admin)
    assert users.user_for_api_key(world, key).id == worker.id
