"""The shared dependencies, exercised through probe routes added to the real app."""

from collections.abc import Callable
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import BBoxDep, CurrentUser, OptionalUser, PageDep, SessionDep, forbid_extra_query, require
from gis.errors import NotFound
from gis.models import Role, Team, User
from gis.people import users
from gis.people.permissions import Action

probe = APIRouter(prefix="/probe", dependencies=[Depends(forbid_extra_query)])


@probe.get("/list")
def listing(bbox: BBoxDep, page: PageDep) -> dict[str, object]:
    return {"bbox": list(bbox) if bbox else None, "limit": page.limit, "offset": page.offset}


@probe.post("/teams")
def add_team(session: SessionDep, name: str, fail: bool = False) -> dict[str, str]:
    session.add(Team(name=name, kind="probe"))
    session.flush()
    if fail:
        raise NotFound("the probe failed after writing")
    return {"added": name}


@probe.get("/whoami")
def whoami(user: OptionalUser) -> dict[str, str | None]:
    return {"username": user.username if user else None}


@probe.get("/me")
def me(user: CurrentUser) -> dict[str, str]:
    return {"username": user.username}


@probe.post("/close")
def close(user: Annotated[User, require(Action.incident_close)]) -> dict[str, str]:
    return {"closed_by": user.username}


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(probe)
    return app


MakeUser = Callable[..., User]
Headers = Callable[[User], dict[str, str]]


def test_a_handler_that_returns_commits_its_writes(db: Session, client: TestClient) -> None:
    assert client.post("/probe/teams", params={"name": "甲队"}).status_code == 200
    assert db.scalar(select(Team.kind).where(Team.name == "甲队")) == "probe"


def test_a_handler_that_raises_rolls_back_its_writes(db: Session, client: TestClient) -> None:
    response = client.post("/probe/teams", params={"name": "乙队", "fail": "true"})
    assert response.status_code == 404
    assert (response.json()["detail"], response.json()["code"]) == ("the probe failed after writing", "NotFound")
    assert db.scalar(select(Team.id).where(Team.name == "乙队")) is None


def test_bbox_and_page_are_parsed_with_defaults(client: TestClient) -> None:
    assert client.get("/probe/list").json() == {"bbox": None, "limit": 100, "offset": 0}
    body = client.get("/probe/list", params={"bbox": "109.7,28.2,109.8,28.3", "limit": 5, "offset": 10}).json()
    assert body == {"bbox": [109.7, 28.2, 109.8, 28.3], "limit": 5, "offset": 10}


@pytest.mark.parametrize(
    ("bbox", "message"),
    [
        ("109.8,28.2,109.7,28.3", "min must not exceed max"),
        ("109.7,28.3,109.8,28.2", "min must not exceed max"),
        ("109.7,28.2,190,28.3", "longitudes must lie"),
        ("109.7,-95,109.8,28.3", "latitudes"),
        ("109.7,28.2,109.8", "four numbers"),
        ("a,b,c,d", "four numbers"),
        ("109.7,28.2,nan,28.3", "four numbers"),
    ],
)
def test_a_bad_bbox_is_a_422_naming_bbox(client: TestClient, bbox: str, message: str) -> None:
    response = client.get("/probe/list", params={"bbox": bbox})
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["query", "bbox"]
    assert message in error["msg"]


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                                               ({"offset": -1}, "offset"), ({"limit": "many"}, "limit")])
def test_a_page_out_of_range_is_a_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get("/probe/list", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_unknown_query_parameters_are_all_named_with_what_the_route_takes(client: TestClient) -> None:
    response = client.get("/probe/list", params={"limt": 5, "bbox": "1,1,2,2", "sort": "x"})
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["query", "limt"], ["query", "sort"]]
    assert "bbox, limit, offset" in errors[0]["msg"]


def test_the_api_key_query_parameter_counts_as_declared_where_a_user_is_read(
    db: Session, client: TestClient, make_user: MakeUser
) -> None:
    key = users.create_api_key(db, make_user(Role.planner, username="keyed"))
    assert client.get("/probe/me", params={"api_key": key}).json() == {"username": "keyed"}
    assert client.get("/probe/list", params={"api_key": key}).status_code == 422


def test_an_optional_user_is_none_without_credentials_but_bad_ones_are_refused(
    client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    assert client.get("/probe/whoami").json() == {"username": None}
    assert client.get("/probe/whoami", headers=auth_headers(make_user(Role.planner, username="pl"))).json() == {
        "username": "pl"
    }
    assert client.get("/probe/whoami", headers={"Authorization": "Bearer not.a.token"}).status_code == 401


def test_require_lets_allowed_roles_through_and_refuses_others_with_a_403_naming_both(
    client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    supervisor = make_user(Role.supervisor, username="sup")
    assert client.post("/probe/close", headers=auth_headers(supervisor)).json() == {"closed_by": "sup"}
    refused = client.post("/probe/close", headers=auth_headers(make_user(Role.grid_worker)))
    assert refused.status_code == 403
    assert refused.json()["code"] == "Forbidden"
    assert "role grid_worker may not incident.close" in refused.json()["detail"]
    assert client.post("/probe/close").status_code == 401
