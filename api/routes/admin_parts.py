"""The admin page's parts (``/admin``): users, teams and their jurisdictions, grid-cell assignments and API
keys, from a page as well as from the ``wangge`` CLI — through the same ``gis.people.users`` functions.

Every part needs ``admin.users``. A new API key is shown once, in the answer that made it, and never again
(the store keeps only its hash); live keys are listed by prefix and can be revoked. Accounts are disabled (and
enabled again) rather than deleted, so a case's history keeps its people. The page asks before either.
Passwords are typed into the form and sent once; they are never shown.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from api.routes.page_parts import page_templates
from gis.models import Role, User
from gis.people import permissions, users
from gis.people.permissions import Action

router = APIRouter(prefix="/app/admin", include_in_schema=False)
ROLE_ZH = {Role.grid_worker: "网格员", Role.officer: "执法队员", Role.supervisor: "监督中心", Role.planner: "规划分析",
           Role.admin: "管理员", Role.unit_manager: "共建单位管理员", Role.community_staff: "社区工作人员"}


def _codes(text: str) -> list[str]:
    """Codes typed into a form, separated by spaces or commas (Chinese or Latin)."""
    return text.replace("，", ",").replace(",", " ").split()


def _admin(user: User) -> None:
    permissions.require(user, Action.admin_users)


PAGE_USERS = 500  # users listed on the page, by username; the CLI (`wangge users list`) lists them all


def _page(session: Session, me: User, message: str | None = None, key: str | None = None, **extra: Any) -> HTMLResponse:
    shown = users.list_users(session, limit=PAGE_USERS)
    html = page_templates.get_template("parts/admin.html").render(
        users=shown, total_users=users.count_users(session), teams=users.list_teams(session), roles=ROLE_ZH,
        message=message, key=key, keys=users.list_api_keys(session), me=me,
        cells=users.cell_counts(session, [u.id for u in shown if u.role == Role.grid_worker]), **extra)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("", response_class=HTMLResponse)
def overview(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    _admin(user)
    return _page(session, user)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    session: SessionDep, user: CurrentUser,
    username: Annotated[str, Form(max_length=150)],
    role: Annotated[str, Form(max_length=20)],
    display_name: Annotated[str, Form(max_length=100)] = "",
    team: Annotated[str, Form(max_length=200)] = "",
    community: Annotated[str, Form(max_length=12)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    _admin(user)
    made = users.create_user(session, username=username.strip(), display_name=display_name.strip() or username,
                             role=users.parse_role(role), password=password or None,
                             team=users.get_team(session, team) if team else None, community_code=community or None)
    return _page(session, user, message=f"已添加用户 {made.username}（{ROLE_ZH[Role(made.role)]}）")


@router.post("/cells", response_class=HTMLResponse)
def assign_cells(
    session: SessionDep, user: CurrentUser,
    username: Annotated[str, Form(max_length=150)],
    cells: Annotated[str, Form(max_length=20_000)],
) -> HTMLResponse:
    _admin(user)
    worker = users.get_user(session, username)
    added = users.assign_cells(session, worker, _codes(cells))
    return _page(session, user, message=f"{worker.username}：新增 {len(added)} 个网格")


@router.post("/teams", response_class=HTMLResponse)
def add_team(
    session: SessionDep, user: CurrentUser,
    name: Annotated[str, Form(max_length=200)],
    jurisdiction: Annotated[str, Form(max_length=2000)],
) -> HTMLResponse:
    _admin(user)
    team = users.create_team(session, name=name.strip(), jurisdiction_codes=_codes(jurisdiction))
    return _page(session, user, message=f"已添加队伍 {team.name}")


@router.post("/keys", response_class=HTMLResponse)
def create_key(session: SessionDep, user: CurrentUser, username: Annotated[str, Form(max_length=150)]) -> HTMLResponse:
    _admin(user)
    owner = users.get_user(session, username)
    key = users.create_api_key(session, owner)
    return _page(session, user, message=f"已为 {owner.username} 生成 API 密钥（只显示这一次）", key=key)


@router.post("/users/{username}/active", response_class=HTMLResponse)
def set_active(session: SessionDep, user: CurrentUser, username: str,
               active: Annotated[str, Form(pattern="^(yes|no)$")]) -> HTMLResponse:
    """Disable (``no``) or enable (``yes``) an account; a disabled user's tokens and keys stop at once."""
    _admin(user)
    target = users.set_active(session, users.get_user(session, username), active == "yes", by=user)
    return _page(session, user, message=f"已{'启用' if target.is_active else '停用'}用户 {target.username}")


@router.post("/keys/{prefix}/revoke", response_class=HTMLResponse)
def revoke_key(session: SessionDep, user: CurrentUser, prefix: str) -> HTMLResponse:
    _admin(user)
    users.revoke_api_key(session, prefix)
    return _page(session, user, message=f"已撤销 API 密钥 {prefix}…")
