import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.cli import app as cli_app
from gis.models import Team, User
from gis.people import users
from tests.common import QIANZHOU, ZHENXI
from tests.factories import WORLD_CELLS, add_world


@pytest.fixture
def world(db: Session) -> Session:
    add_world(db)
    return db


def test_teams_add_and_list(world: Session, cli) -> None:
    result = cli("teams", "add", "乾州中队", "--jurisdiction", QIANZHOU, "--jurisdiction", "433101005001")
    assert result.exit_code == 0, result.output
    assert "3 current community" in result.output
    team = world.scalars(select(Team).where(Team.name == "乾州中队")).one()
    assert {j.area_code for j in team.jurisdiction} == {QIANZHOU, "433101005001"}
    listed = cli("teams", "list")
    assert listed.exit_code == 0 and "乾州中队" in listed.output


def test_teams_add_refuses_an_unknown_code_without_a_traceback(world: Session, cli) -> None:
    result = cli("teams", "add", "坏中队", "--jurisdiction", "433101999000")
    assert result.exit_code == 1
    assert "not a current admin area: 433101999000" in result.output
    assert "Traceback" not in result.output
    assert world.scalar(select(Team.id).where(Team.name == "坏中队")) is None


def test_users_add_an_officer_in_a_team_who_can_then_log_in(world: Session, cli) -> None:
    assert cli("teams", "add", "镇溪中队", "--jurisdiction", ZHENXI).exit_code == 0
    args = ["users", "add", "wang", "--role", "officer", "--team", "镇溪中队", "--password",
            "--display-name", "王五", "--phone", "000-0000-0100"]
    result = cli.runner.invoke(cli_app, args, obj=cli.runtime, input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    user = users.authenticate(world, "wang", "s3cret-pass")
    assert (user.display_name, user.role, user.team.name if user.team else None) == ("王五", "officer", "镇溪中队")
    listed = cli("users", "list")
    assert "wang" in listed.output and "镇溪中队" in listed.output
    assert "000-0000-0100" not in listed.output  # phones stay out of listings


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "officer", "--team", "无此队"], "no team '无此队'"),
        (["--role", "officer"], "must belong to a team"),
        (["--role", "community_staff", "--community", "433101009009"], "not a current admin area"),
    ],
)
def test_users_add_refusals_exit_1_with_the_reason(world: Session, cli, args: list[str], message: str) -> None:
    result = cli("users", "add", "someone", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert world.scalar(select(User.id).where(User.username == "someone")) is None


def test_an_unknown_role_is_a_usage_error(cli) -> None:
    result = cli("users", "add", "someone", "--role", "mayor")
    assert result.exit_code == 2


def test_keys_create_prints_a_key_that_authenticates_once_shown(world: Session, cli) -> None:
    assert cli("users", "add", "bot", "--role", "grid_worker").exit_code == 0
    result = cli("keys", "create", "bot")
    assert result.exit_code == 0, result.output
    key = re.search(r"wg_[A-Za-z0-9_-]+", result.output)
    assert key is not None
    assert users.user_for_api_key(world, key.group(0)).username == "bot"
    revoked = cli("keys", "revoke", key.group(0)[:11])
    assert revoked.exit_code == 0, revoked.output
    with pytest.raises(Exception, match="revoked"):
        users.user_for_api_key(world, key.group(0))


def test_assign_cells_adds_to_a_grid_workers_cells(world: Session, cli) -> None:
    assert cli("users", "add", "zhao", "--role", "grid_worker").exit_code == 0
    result = cli("users", "assign-cells", "zhao", *WORLD_CELLS[:2])
    assert result.exit_code == 0, result.output
    again = cli("users", "assign-cells", "zhao", *WORLD_CELLS)
    assert "1 cell(s) added, 3 in all" in again.output
    assert users.user_cell_codes(world, users.get_user(world, "zhao")) == WORLD_CELLS
    unknown = cli("users", "assign-cells", "zhao", "433101004001999")
    assert unknown.exit_code == 1 and "433101004001999" in unknown.output


@pytest.mark.usefixtures("cheap_password_hashing")
def test_seed_demo_prints_the_demo_logins(world: Session, cli) -> None:
    result = cli("users", "seed-demo")
    assert result.exit_code == 0, result.output
    assert "demo_supervisor" in result.output and "demo-supervisor" in result.output
    assert cli("users", "seed-demo").exit_code == 0
    assert world.scalar(select(User.id).where(User.username == "demo_officer_qianzhou")) is not None


def test_users_add_never_takes_the_password_as_an_argument(world: Session, cli) -> None:
    result = cli("users", "add", "li", "--role", "supervisor", "--password", "s3cret-pass")
    assert result.exit_code != 0  # the value is an unexpected extra argument, and nothing is written
    assert world.scalar(select(User.id).where(User.username == "li")) is None


def test_users_add_reads_the_password_from_stdin_for_scripts(world: Session, cli) -> None:
    result = cli.runner.invoke(cli_app, ["users", "add", "li", "--role", "supervisor", "--password-stdin"],
                               obj=cli.runtime, input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "s3cret-pass" not in result.output
    user = world.scalars(select(User).where(User.username == "li")).one()
    assert users.authenticate(world, "li", "s3cret-pass").id == user.id


def test_users_disable_and_enable_and_keys_list(world: Session, cli) -> None:
    assert cli("users", "add", "bot", "--role", "grid_worker").exit_code == 0
    key = users.create_api_key(world, users.get_user(world, "bot"))
    listed = cli("keys", "list")
    assert listed.exit_code == 0 and key[:11] in listed.output and key not in listed.output
    assert cli("users", "disable", "bot").exit_code == 0
    with pytest.raises(Exception, match="disabled"):
        users.user_for_api_key(world, key)
    assert cli("users", "enable", "bot").exit_code == 0
    assert users.user_for_api_key(world, key).username == "bot"
    missing = cli("users", "disable", "nobody")
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output and "Traceback" not in missing.output
