"""The admin page (/admin) in Chromium: disabling a user and revoking an API key, each after a confirmation the
admin accepts (and nothing done when they dismiss it); screenshots go to ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import ViewportSize
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gis.models import ApiKey, User
from gis.people import users
from tests.browser.conftest import PHONE
from tests.browser.test_role_pages import ADMIN, Seen, log_in, open_as, role_people
from tests.factories import add_user

__all__ = ["open_as", "role_people"]
pytestmark = pytest.mark.browser
ROBOT = "jiqiren"


@pytest.fixture
def robot_key(browser_db: Session) -> Iterator[str]:
    key = users.create_api_key(browser_db, add_user(browser_db, "grid_worker", username=ROBOT))
    browser_db.commit()
    yield key[:11]
    browser_db.execute(delete(User).where(User.username == ROBOT))
    browser_db.commit()


def test_the_admin_disables_a_user_and_revokes_a_key_only_after_confirming(
    open_as: Callable[[ViewportSize], Seen], browser_db: Session, robot_key: str
) -> None:
    admin = open_as(PHONE)
    log_in(admin, "/admin", ADMIN)
    row = admin.page.locator(f"#wg-list tr[data-username='{ROBOT}']")
    said: list[str] = []
    admin.page.once("dialog", lambda dialog: (said.append(dialog.message), dialog.dismiss()))
    row.locator("button[data-action=disable]").click()
    admin.page.wait_for_timeout(300)
    assert said and "停用后该用户不能登录" in said[0]
    browser_db.expire_all()
    assert browser_db.scalars(select(User.is_active).where(User.username == ROBOT)).one() is True  # dismissed

    admin.page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button[data-action=disable]").click()
    admin.page.locator("#wg-list .wg-notice", has_text=f"已停用用户 {ROBOT}").wait_for()
    admin.page.locator(f"#wg-list tr[data-username='{ROBOT}'] button[data-action=enable]").wait_for()
    key = admin.page.locator(f"#wg-list .wg-api-key[data-prefix='{robot_key}']")
    admin.page.once("dialog", lambda dialog: dialog.accept())
    key.locator("button", has_text="撤销").click()
    admin.page.locator("#wg-list .wg-notice", has_text="已撤销").wait_for()
    key.wait_for(state="detached")
    admin.shot("admin-disabled-revoked-phone")
    admin.no_horizontal_scroll()
    browser_db.expire_all()
    assert browser_db.scalars(select(User.is_active).where(User.username == ROBOT)).one() is False
    assert browser_db.scalars(select(ApiKey.revoked_at).where(ApiKey.prefix == robot_key)).one() is not None
    admin.clean()
