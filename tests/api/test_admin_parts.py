"""api.routes.admin_parts: users, cells, teams and API keys from the admin page, over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.errors import Unauthenticated
from gis.models import Role, User
from gis.people import users
from tests.factories import FIRST_COMMUNITY, WORLD_CELLS, add_world


def test_an_admin_adds_a_team_an_officer_a_worker_with_cells_and_a_key(
    client: TestClient, db: Session, make_user, auth_headers, cheap_password_hashing
) -> None:
    add_world(db)
    admin = auth_headers(make_user(Role.admin))
    assert "用户" in client.get("/app/admin", headers=admin).text
    team = client.post("/app/admin/teams", data={"name": "乾州中队", "jurisdiction": FIRST_COMMUNITY}, headers=admin)
    assert team.status_code == 200 and "已添加队伍 乾州中队" in team.text
    officer = client.post("/app/admin/users", headers=admin, data={
        "username": "liu", "role": "officer", "display_name": "刘<i>", "team": "乾州中队", "password": "s3cret-pass"})
    assert officer.status_code == 200, officer.text
    assert "刘&lt;i&gt;" in officer.text and "s3cret-pass" not in officer.text
    assert users.authenticate(db, "liu", "s3cret-pass").team.name == "乾州中队"
    client.post("/app/admin/users", data={"username": "wu", "role": "grid_worker"}, headers=admin)
    cells = client.post("/app/admin/cells", data={"username": "wu", "cells": "，".join(WORLD_CELLS[:2])}, headers=admin)
    assert "新增 2 个网格" in cells.text
    worker = db.scalars(select(User).where(User.username == "wu")).one()
    assert users.user_cell_codes(db, worker) == WORLD_CELLS[:2]
    key = client.post("/app/admin/keys", data={"username": "wu"}, headers=admin)
    shown = key.text.split('id="wg-new-key">')[1].split("<")[0]
    assert users.user_for_api_key(db, shown).id == worker.id
    assert "wg-new-key" not in client.get("/app/admin", headers=admin).text  # shown once


def test_only_an_admin_reaches_the_admin_parts_and_mistakes_come_back_in_chinese(
    client: TestClient, make_user, auth_headers
) -> None:
    supervisor = auth_headers(make_user(Role.supervisor))
    assert client.get("/app/admin", headers=supervisor).status_code == 403
    admin = {**auth_headers(make_user(Role.admin)), "Accept-Language": "zh-CN"}
    bad = client.post("/app/admin/users", data={"username": "x", "role": "king"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["messages"]["zh-CN"].startswith("输入有误")


def test_an_admin_disables_a_user_and_revokes_a_key_from_the_page_but_never_disables_themself(
    client: TestClient, db: Session, make_user, auth_headers
) -> None:
    me = make_user(Role.admin)
    admin = {**auth_headers(me), "Accept-Language": "zh-CN"}
    worker = make_user(Role.grid_worker)
    key = users.create_api_key(db, worker)
    page = client.get("/app/admin", headers=admin).text
    prefix = key[:11]
    assert f'data-prefix="{prefix}"' in page and key not in page  # only the prefix is ever shown
    assert f'/app/admin/users/{me.username}/active' not in page and "确定停用" in page
    revoked = client.post(f"/app/admin/keys/{prefix}/revoke", headers=admin)
    assert revoked.status_code == 200 and "已撤销" in revoked.text and f'data-prefix="{prefix}"' not in revoked.text
    with pytest.raises(Unauthenticated, match="revoked"):
        users.user_for_api_key(db, key)
    again = client.post(f"/app/admin/keys/{prefix}/revoke", headers=admin)
    assert again.status_code == 404 and again.json()["code"] == "NotFound"

    worker_headers = auth_headers(worker)
    assert client.get("/api/v1/me", headers=worker_headers).status_code == 200
    disabled = client.post(f"/app/admin/users/{worker.username}/active", data={"active": "no"}, headers=admin)
    assert disabled.status_code == 200 and f"已停用用户 {worker.username}" in disabled.text
    assert client.get("/api/v1/me", headers=worker_headers).status_code == 401  # its token stops at once
    enabled = client.post(f"/app/admin/users/{worker.username}/active", data={"active": "yes"}, headers=admin)
    assert "已启用" in enabled.text and client.get("/api/v1/me", headers=worker_headers).status_code == 200
    myself = client.post(f"/app/admin/users/{me.username}/active", data={"active": "no"}, headers=admin)
    assert myself.status_code == 422 and db.get(User, me.id).is_active
    assert client.post(f"/app/admin/users/{worker.username}/active", data={"active": "no"},
                       headers=auth_headers(make_user(Role.supervisor))).status_code == 403


def test_the_page_lists_a_bounded_page_of_users_with_their_cells_counted(
    client: TestClient, db: Session, make_user, auth_headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.routes import admin_parts

    add_world(db)
    admin = auth_headers(make_user(Role.admin, username="a-admin"))
    worker = make_user(Role.grid_worker, username="b-worker")
    users.assign_cells(db, worker, WORLD_CELLS[:3])
    make_user(Role.officer, username="c-officer")
    monkeypatch.setattr(admin_parts, "PAGE_USERS", 2)
    page = client.get("/app/admin", headers=admin).text
    assert page.count("<tr data-username=") == 2 and "c-officer" not in page
    assert '<span class="wg-count">3</span>' in page and "按用户名显示前 2 个" in page
    row = page.split('data-username="b-worker"')[1].split("</tr>")[0]
    assert "<td>3</td>" in row
