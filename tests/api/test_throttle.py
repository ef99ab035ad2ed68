"""Log-in throttling (``api.throttle``): wrong passwords per account and per address lead to 429 with
Retry-After, even for the right password; the window passes (issue 14, finding 6)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from api.throttle import ACCOUNT_LIMIT, ADDRESS_LIMIT, WINDOW_S, LoginThrottle
from gis.models import Role, User

TOKEN = "/api/v1/auth/token"
PASSWORD = "correct horse battery"


def login(client: TestClient, username: str, password: str) -> int:
    return client.post(TOKEN, data={"username": username, "password": password}).status_code


@pytest.mark.usefixtures("cheap_password_hashing")
def test_thirty_wrong_passwords_then_the_right_one_is_refused_with_retry_after(
        client: TestClient, make_user: Callable[..., User]) -> None:
    make_user(Role.supervisor, username="zhang", password=PASSWORD)
    statuses = [login(client, "zhang", f"guess-{i}") for i in range(30)]
    assert statuses[:ACCOUNT_LIMIT] == [401] * ACCOUNT_LIMIT and set(statuses[ACCOUNT_LIMIT:]) == {429}
    response = client.post(TOKEN, data={"username": "ZHANG", "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= WINDOW_S


@pytest.mark.usefixtures("cheap_password_hashing")
def test_one_address_guessing_many_accounts_is_throttled(client: TestClient, make_user: Callable[..., User]) -> None:
    make_user(Role.supervisor, username="li", password=PASSWORD)
    for i in range(ADDRESS_LIMIT):
        assert login(client, f"user{i}", "x") == 401
    assert login(client, "li", PASSWORD) == 429  # the address, not the account


@pytest.mark.usefixtures("cheap_password_hashing")
def test_a_right_password_forgets_the_account_s_few_failures(client: TestClient,
                                                             make_user: Callable[..., User]) -> None:
    make_user(Role.supervisor, username="wang", password=PASSWORD)
    for _ in range(ACCOUNT_LIMIT - 1):
        assert login(client, "wang", "nope") == 401
    assert login(client, "wang", PASSWORD) == 200
    for _ in range(ACCOUNT_LIMIT - 1):
        assert login(client, "wang", "nope") == 401
    assert login(client, "wang", PASSWORD) == 200


def test_the_window_passes() -> None:
    throttle = LoginThrottle()
    for t in range(ACCOUNT_LIMIT):
        throttle.failed("a", None, now=float(t))
    with pytest.raises(Exception, match="too many") as refused:
        throttle.check("a", None, now=10.0)
    assert refused.value.headers["Retry-After"] == str(WINDOW_S - 10)  # type: ignore[attr-defined]
    throttle.check("a", None, now=WINDOW_S + 0.5)  # the first failure has left the window
