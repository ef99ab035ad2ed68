"""`wangge users …`, `wangge teams …`, `wangge keys …`: people, enforcement teams and API keys."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from api.cli.runtime import console, handles_errors, runtime
from gis.models import Role
from gis.people import users as people
from gis.seed.people import DemoLogin, seed_demo_people

app = typer.Typer(help="Users: add, list, assign grid cells, seed the demo people.", no_args_is_help=True)
teams_app = typer.Typer(help="Enforcement teams and their jurisdictions.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for machine clients (Open311, scripts).", no_args_is_help=True)


# -- users ----------------------------------------------------------------------------------------------
@app.command("add")
@handles_errors
def add_user(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Log-in name: a–z, 0–9, '_', '.', '-'.")],
    role: Annotated[Role, typer.Option(help="What the user does; decides what they may do.")],
    team: Annotated[str | None, typer.Option(help="Team name (officers must have one).")] = None,
    ask_password: Annotated[bool, typer.Option(
        "--password", help="Ask for a password (≥ 8 characters), hidden, twice; without: API keys only.")] = False,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input (for scripts).")] = False,
    display_name: Annotated[str | None, typer.Option(help="Name shown in the app (default: the username).")] = None,
    phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    community: Annotated[str | None, typer.Option(help="12-digit code of the user's community.")] = None,
) -> None:
    """Add a user.

    The password is never an argument: a command line is seen by every user of the machine (``ps``) and kept
    in shell history. ``--password`` asks for it; ``--password-stdin`` reads it from a pipe."""
    password = _password(ask_password, password_stdin)
    with runtime(ctx).transaction() as session:
        user = people.create_user(
            session,
            username=username,
            display_name=display_name or username,
            role=role,
            password=password,
            team=people.get_team(session, team) if team else None,
            phone=phone,
            community_code=community,
        )
    console.print(f"added user [bold]{user.username}[/] ({user.role})")
    if password is None:
        console.print("no password: the user can only use API keys (`wangge keys create`)")


def _password(ask: bool, from_stdin: bool) -> str | None:
    if ask and from_stdin:
        raise typer.BadParameter("give --password or --password-stdin, not both")
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise typer.BadParameter("--password-stdin: standard input held no password")
        return line
    if ask:
        return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))
    return None


@app.command("list")
@handles_errors
def list_users(ctx: typer.Context) -> None:
    """List users with their role, team and community (no phones, no secrets)."""
    with runtime(ctx).transaction() as session:
        table = Table("username", "name", "role", "team", "community", "active", title="users 用户")
        for user in people.list_users(session):
            table.add_row(user.username, user.display_name, user.role, user.team.name if user.team else "",
                          user.community_code or "", "yes" if user.is_active else "no")
    console.print(table)


@app.command("disable")
@handles_errors
def disable_user(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The account to disable.")]) -> None:
    """Disable an account: no log-in, its tokens and API keys stop working; its cases and history stay."""
    with runtime(ctx).transaction() as session:
        user = people.set_active(session, people.get_user(session, username), False)
    console.print(f"disabled {user.username}")


@app.command("enable")
@handles_errors
def enable_user(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The account to enable.")]) -> None:
    """Enable a disabled account again (its API keys that were not revoked work again)."""
    with runtime(ctx).transaction() as session:
        user = people.set_active(session, people.get_user(session, username), True)
    console.print(f"enabled {user.username}")


@app.command("assign-cells")
@handles_errors
def assign_cells(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="A grid worker.")],
    cells: Annotated[list[str], typer.Argument(help="15-digit grid cell codes.")],
) -> None:
    """Make a grid worker patrol these cells (earlier assignments are kept)."""
    with runtime(ctx).transaction() as session:
        user = people.get_user(session, username)
        new = people.assign_cells(session, user, cells)
        total = people.user_cell_codes(session, user)
    console.print(f"{user.username}: {len(new)} cell(s) added, {len(total)} in all")


@app.command("seed-demo")
@handles_errors
def seed_demo(ctx: typer.Context) -> None:
    """Add the demo teams and users (known passwords; safe to run again) and print their log-ins."""
    with runtime(ctx).transaction() as session:
        logins = seed_demo_people(session)
    console.print(demo_logins_table(logins))


def demo_logins_table(logins: Sequence[DemoLogin]) -> Table:
    """The demo log-ins as a table, for `make run` to print."""
    table = Table(title="demo log-ins 演示账号")
    # Log-ins must stay whole and copyable at any terminal width: the other columns wrap instead.
    for header, values in (("username", [x.username for x in logins]), ("password", [x.password for x in logins])):
        table.add_column(header, no_wrap=True, min_width=max(map(len, values), default=8))
    for header in ("role", "name", "team"):
        table.add_column(header, overflow="fold")
    for login in logins:
        table.add_row(login.username, login.password, login.role, login.display_name, login.team or "")
    return table


# -- teams ----------------------------------------------------------------------------------------------
@teams_app.command("add")
@handles_errors
def add_team(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Team name, e.g. 乾州街道执法中队.")],
    jurisdiction: Annotated[list[str], typer.Option(help="12-digit code of a subdistrict or community; repeatable.")],
) -> None:
    """Add an enforcement team answering for the given subdistricts/communities."""
    with runtime(ctx).transaction() as session:
        team = people.create_team(session, name=name, jurisdiction_codes=jurisdiction)
        communities = people.team_community_codes(session, team.id)
    console.print(f"added team [bold]{team.name}[/]: {len(communities)} current community(ies)")


@teams_app.command("list")
@handles_errors
def list_teams(ctx: typer.Context) -> None:
    """List teams with their jurisdiction codes and how many communities these cover."""
    with runtime(ctx).transaction() as session:
        table = Table("team", "kind", "jurisdiction", "communities", title="teams 执法队伍")
        for team in people.list_teams(session):
            codes = ", ".join(sorted(j.area_code for j in team.jurisdiction))
            table.add_row(team.name, team.kind, codes, str(len(people.team_community_codes(session, team.id))))
    console.print(table)


# -- API keys -------------------------------------------------------------------------------------------
@keys_app.command("create")
@handles_errors
def create_key(ctx: typer.Context, username: Annotated[str, typer.Argument(help="The key's owner.")]) -> None:
    """Create an API key for USERNAME and print it — once: only its hash is kept."""
    with runtime(ctx).transaction() as session:
        key = people.create_api_key(session, people.get_user(session, username))
    console.print(f"API key for {username} (shown once; send it as the X-API-Key header):", highlight=False)
    typer.echo(key)


@keys_app.command("list")
@handles_errors
def list_keys(ctx: typer.Context) -> None:
    """List live API keys by prefix and owner (the keys themselves are never kept)."""
    with runtime(ctx).transaction() as session:
        table = Table("prefix", "owner", "created", title="API keys 密钥")
        for key, owner in people.list_api_keys(session):
            table.add_row(key.prefix, owner, f"{key.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@keys_app.command("revoke")
@handles_errors
def revoke_key(
    ctx: typer.Context, prefix: Annotated[str, typer.Argument(help="The key's first 11 characters.")]
) -> None:
    """Revoke an API key by its prefix (wg_ and 8 characters)."""
    with runtime(ctx).transaction() as session:
        people.revoke_api_key(session, prefix)
    console.print(f"revoked API key {prefix}…")
