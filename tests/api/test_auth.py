from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import token_config
from gis.models import Role, User
from gis.people import security, users
from gis.settings import Settings
from tests.factories import WORLD_CELLS

pytestmark = pytest.mark.usefixtures("cheap_password_hashing")

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"
PASSWORD = "s3cret-pass"

MakeUser = Callable[..., User]
Headers = Callable[[User], dict[str, str]]


def login(client: TestClient, username: str, password: str):
    return client.post(TOKEN, data={"username": username, "password": password})


def test_logging_in_gives_a_bearer_token_that_identifies_the_user(client: TestClient, make_user: MakeUser) -> None:
    make_user(Role.supervisor, username="zhang", password=PASSWORD)
    response = login(client, "zhang", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == Settings().token_minutes * 60
    me = client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert (me.json()["username"], me.json()["role"]) == ("zhang", "supervisor")


@pytest.mark.parametrize(("username", "password"), [("zhang", "wrong-pass"), ("nobody", PASSWORD)])
def test_a_wrong_password_or_unknown_user_is_a_401(
    client: TestClient, make_user: MakeUser, username: str, password: str
) -> None:
    make_user(Role.supervisor, username="zhang", password=PASSWORD)
    response = login(client, username, password)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    body = response.json()
    assert (body["detail"], body["code"]) == ("wrong username or password", "Unauthenticated")


def test_a_login_form_without_password_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post(TOKEN, data={"username": "zhang"})
    assert response.status_code == 422
    assert ["body", "password"] in [error["loc"] for error in response.json()["detail"]]


def test_an_expired_token_is_a_401(app: FastAPI, client: TestClient, make_user: MakeUser) -> None:
    user = make_user(Role.planner)
    secret = token_config(app.state.settings).secret
    expired = security.create_access_token(str(user.id), secret=secret, minutes=60,
                                           now=datetime.now(UTC) - timedelta(hours=2))
    response = client.get(ME, headers={"Authorization": f"Bearer {expired.token}"})
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_signed_with_another_secret_is_a_401(client: TestClient, make_user: MakeUser) -> None:
    user = make_user(Role.planner)
    forged = security.create_access_token(str(user.id), secret="f" * 48, minutes=60)
    response = client.get(ME, headers={"Authorization": f"Bearer {forged.token}"})
    assert response.status_code == 401


def test_a_token_of_a_disabled_user_is_a_401(
    db: Session, client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    user = make_user(Role.planner)
    headers = auth_headers(user)
    assert client.get(ME, headers=headers).status_code == 200
    user.is_active = False
    db.flush()
    assert client.get(ME, headers=headers).status_code == 401


def test_an_api_key_works_as_header_and_as_query_parameter(
    db: Session, client: TestClient, make_user: MakeUser
) -> None:
    user = make_user(Role.grid_worker, username="open311")
    key = users.create_api_key(db, user)
    by_header = client.get(ME, headers={"X-API-Key": key})
    by_query = client.get(ME, params={"api_key": key})
    assert by_header.status_code == by_query.status_code == 200, (by_header.text, by_query.text)
    assert by_header.json()["username"] == by_query.json()["username"] == "open311"


def test_a_revoked_api_key_is_a_401(db: Session, client: TestClient, make_user: MakeUser) -> None:
    key = users.create_api_key(db, make_user(Role.grid_worker))
    users.revoke_api_key(db, security.api_key_prefix(key))
    response = client.get(ME, headers={"X-API-Key": key})
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_bad_key_is_a_401_even_alongside_nothing_else(client: TestClient) -> None:
    assert client.get(ME, headers={"X-API-Key": "wg_nonsense-nonsense"}).status_code == 401


def test_missing_credentials_are_a_401_that_says_how_to_authenticate(client: TestClient) -> None:
    response = client.get(ME)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "Unauthenticated"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_me_shows_team_cells_and_actions_but_no_secrets(
    db: Session, client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    worker = make_user(Role.grid_worker, password=PASSWORD, phone="000-0000-0009")
    make_user(Role.officer)  # creates the world, and with it the cells
    users.assign_cells(db, worker, WORLD_CELLS[:2])
    body = client.get(ME, headers=auth_headers(worker)).json()
    assert body["cells"] == WORLD_CELLS[:2]
    assert body["team"] is None
    assert "incident.create" in body["actions"] and "incident.close" not in body["actions"]
    assert body["phone"] == "000-0000-0009"
    assert not any("password" in key or "hash" in key for key in body)
    assert "argon2" not in str(body)

    officer = db.scalars(select(User).where(User.role == "officer")).one()
    team = client.get(ME, headers=auth_headers(officer)).json()["team"]
    assert team == {"id": officer.team_id, "name": "乾州街道测试中队"}


def test_an_unknown_query_parameter_is_a_422_naming_it(
    client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    response = client.get(ME, params={"verbose": "1"}, headers=auth_headers(make_user(Role.planner)))
    assert response.status_code == 422
    error = response.json()["detail"][0]
    assert error["loc"] == ["query", "verbose"]
    assert error["type"] == "extra_forbidden"


def test_malformed_json_is_a_422(client: TestClient, make_user: MakeUser, auth_headers: Headers) -> None:
    headers = {**auth_headers(make_user(Role.planner)), "Content-Type": "application/json"}
    response = client.post(f"{ME}/password", content=b'{"current_password": "x", ', headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "RequestValidationError"
    assert body["detail"][0]["type"] == "json_invalid"
    assert body["detail"][0]["loc"][0] == "body"


def test_changing_the_password_needs_the_current_one(
    db: Session, client: TestClient, make_user: MakeUser, auth_headers: Headers
) -> None:
    user = make_user(Role.planner, username="li", password=PASSWORD)
    url, headers = f"{ME}/password", auth_headers(user)
    wrong = client.post(url, json={"current_password": "nope-nope", "new_password": "new-pass-123"}, headers=headers)
    assert wrong.status_code == 403
    short = client.post(url, json={"current_password": PASSWORD, "new_password": "short"}, headers=headers)
    assert short.status_code == 422
    assert short.json()["detail"][0]["loc"] == ["body", "new_password"]
    ok = client.post(url, json={"current_password": PASSWORD, "new_password": "new-pass-123"}, headers=headers)
    assert ok.status_code == 204
    assert login(client, "li", "new-pass-123").status_code == 200
    assert login(client, "li", PASSWORD).status_code == 401


def test_the_openapi_document_offers_password_login_and_api_keys(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == TOKEN
    assert {(s["in"], s["name"]) for s in schemes.values() if s["type"] == "apiKey"} == {
        ("header", "X-API-Key"), ("query", "api_key")
    }
    assert {"OAuth2PasswordBearer": []} in document["paths"][ME]["get"]["security"]


def test_logging_in_with_json_works_like_the_form(client: TestClient, make_user: MakeUser) -> None:
    make_user(Role.supervisor, username="zhang", password=PASSWORD)
    response = client.post(TOKEN, json={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 200, response.text
    me = client.get(ME, headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.json()["username"] == "zhang"
    assert client.post(TOKEN, json={"username": "zhang", "password": "wrong-pass"}).status_code == 401


def test_a_json_login_without_password_is_a_422_naming_the_field(client: TestClient) -> None:
    response = client.post(TOKEN, json={"username": "zhang"})
    assert response.status_code == 422
    assert ["body", "password"] in [error["loc"] for error in response.json()["detail"]]
    broken = client.post(TOKEN, content=b"{not json", headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
