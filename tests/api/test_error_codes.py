"""Every error code, walked: each has its own Chinese sentence, and every kind of refusal the service gives —
the domain's, validation's, the guard's, HTTP's own (404, 405, 413, 415, 428, 429) and the unforeseen 500 —
answers with the stable code and the zh-CN and en messages (api.errors, api.messages)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import api
import gis
from api.errors import HTTP_CODES
from api.main import create_app
from api.messages import ZH
from gis.errors import WanggeError
from gis.incidents import service as incidents
from gis.models import User
from gis.settings import Settings
from tests.gis.conftest import INSIDE_A, StreetWorld, street_world

__all__ = ["street_world"]

ZH_ONLY = {"Accept-Language": "zh-CN"}
ENGLISH_PHRASE = re.compile(r"[A-Za-z]+ [A-Za-z]+")  # two English words in a row: a sentence left untranslated
CJK = re.compile(r"[\u4e00-\u9fff]")


def _every_error_class() -> set[type[WanggeError]]:
    for package in (gis, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    found: set[type[WanggeError]] = set()
    pending = [WanggeError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                pending.append(sub)
    return {cls for cls in found if cls.__module__.startswith(("gis.", "api."))}  # not the tests' own


def test_every_error_class_and_http_code_has_a_chinese_sentence_of_its_own() -> None:
    codes = {cls.__name__ for cls in _every_error_class()} | set(HTTP_CODES.values()) | {
        "RequestValidationError", "DatabaseUnavailable", "ValueNotStorable", "ContentTooLarge"}
    missing = sorted(code for code in codes if code not in ZH)
    assert not missing, f"give each a sentence in api.messages.ZH: {missing}"
    assert all(CJK.search(ZH[code]) and not ENGLISH_PHRASE.search(ZH[code]) for code in codes)


def assert_shaped(response, status: int, code: str) -> None:
    """The one error shape: the code, both messages, and the one asked for (zh-CN) in Chinese."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body["messages"]) == {"zh-CN", "en"} and body["message"] == body["messages"]["zh-CN"]
    chinese = body["messages"]["zh-CN"]
    assert CJK.search(chinese) and not ENGLISH_PHRASE.search(chinese), chinese
    assert body["messages"]["en"], body
    assert response.headers["content-language"] == "zh-CN"


@pytest.fixture
def case(db: Session, street_world: StreetWorld) -> int:
    return incidents.create(db, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                            reporter=street_world.grid_worker).incident.id


def test_each_kind_of_refusal_answers_with_its_code_and_both_messages(
    client: TestClient, street_world: StreetWorld, case: int, auth_headers: Callable[[User], dict[str, str]]
) -> None:
    worker = {**auth_headers(street_world.grid_worker), **ZH_ONLY}
    supervisor = {**auth_headers(street_world.supervisor), **ZH_ONLY}
    walks = [
        (client.get("/api/v1/no-such-thing", headers=ZH_ONLY), 404, "NotFound"),  # the router's own 404
        (client.delete("/api/v1/categories", headers=ZH_ONLY), 405, "MethodNotAllowed"),
        (client.get("/api/v1/me", headers=ZH_ONLY), 401, "Unauthenticated"),
        (client.get("/api/v1/categories?q=%00", headers=ZH_ONLY), 422, "RequestValidationError"),  # the guard's
        (client.post("/api/v1/auth/token", content=b"x" * (300 * 1024),
                     headers={**ZH_ONLY, "Content-Type": "application/json"}), 413, "ContentTooLarge"),
        (client.post("/api/v1/incidents", content=b"lon=1", headers={**worker, "Content-Type": "text/plain"}),
         415, "UnsupportedMediaType"),
        (client.post(f"/api/v1/incidents/{case}/transitions", json={"to": "register"}, headers=supervisor),
         428, "PreconditionRequired"),
        (client.get("/api/v1/incidents/JS-2000-999999", headers=supervisor), 404, "NotFound"),  # the domain's
        (client.post("/api/v1/incidents", json={"category_code": "09006", "lon": 200, "lat": 28},
                     headers=worker), 422, "InvalidInput"),
        (client.post(f"/api/v1/incidents/{case}/transitions", json={"to": "register", "version": 1},
                     headers=worker), 403, "RoleNotAllowed"),
    ]
    for response, status, code in walks:
        assert_shaped(response, status, code)


def test_the_login_throttle_answers_429_in_the_same_shape(client: TestClient, street_world: StreetWorld) -> None:
    name = street_world.grid_worker.username
    for _ in range(6):
        last = client.post("/api/v1/auth/token", data={"username": name, "password": "wrong-wrong"},
                           headers=ZH_ONLY)
    assert_shaped(last, 429, "TooManyAttempts")
    assert last.headers["retry-after"].isdigit()


def test_an_unforeseen_error_is_a_500_in_the_same_shape_that_names_no_cause(settings: Settings, sessions) -> None:
    app: FastAPI = create_app(settings, sessions=sessions)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail of the failure")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers=ZH_ONLY)
    assert_shaped(response, 500, "InternalError")
    assert "secret" not in response.text
