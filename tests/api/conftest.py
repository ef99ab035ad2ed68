"""API fixtures: the real app whose sessions join the test transaction, and users to call it as.

- ``app``: ``create_app(settings, sessions=sessions)``; override it in a test module to add routes.
- ``client``: a ``TestClient`` with the lifespan run (``with``), raising server errors into the test.
- ``make_user(role, team=..., password=..., ...)``: a user in the test transaction (``tests.factories``).
- ``auth_headers(user)``: ``{"Authorization": "Bearer …"}`` with a token the app accepts.
- ``api_key_headers(user)``: ``{"X-API-Key": …}`` with a fresh key of the user's.
- ``cheap_password_hashing``: real Argon2id at a test-sized cost, for tests that hash many passwords.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.deps import token_config
from api.main import create_app
from gis.models import Role, User
from gis.people import security, users
from gis.settings import Settings
from tests.factories import CHEAP_PASSWORD_HASH, add_user

Headers = dict[str, str]


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    return create_app(settings, sessions=sessions)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(db: Session) -> Callable[..., User]:
    def make(role: Role | str, **options: Any) -> User:
        return add_user(db, role, **options)

    return make


@pytest.fixture
def auth_headers(app: FastAPI) -> Callable[[User], Headers]:
    config = token_config(app.state.settings)

    def headers(user: User) -> Headers:
        token = security.create_access_token(str(user.id), secret=config.secret, minutes=config.minutes)
        return {"Authorization": f"Bearer {token.token}"}

    return headers


@pytest.fixture
def api_key_headers(db: Session) -> Callable[[User], Headers]:
    def headers(user: User) -> Headers:
        return {"X-API-Key": users.create_api_key(db, user)}

    return headers


@pytest.fixture
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_passwords", CHEAP_PASSWORD_HASH)
