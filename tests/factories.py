"""Rows for tests, written straight into the test transaction: the small Jishou world of
``tests.common`` as admin areas, grid cells inside its communities, and teams and users on top.

Plain functions taking a Session, so gis and api tests (and their fixtures) share them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from geoalchemy2.shape import from_shape
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from shapely.geometry import MultiPolygon, box
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.models import AdminArea, GridCell, Role, Team, User
from gis.people import users
from tests.common import QIANZHOU, Row, jishou_world

# The first community of 乾州街道 in the world, and the cell codes put in it by ``add_world``.
FIRST_COMMUNITY = "433101004001"
WORLD_CELLS = [f"{FIRST_COMMUNITY}{n:03d}" for n in (1, 2, 3)]

_usernames = itertools.count(1)

# Real Argon2id at a test-sized cost (1 pass over 1 MiB instead of 3 over 64 MiB): for tests that hash
# many passwords; patch it in as ``gis.people.security._passwords``.
CHEAP_PASSWORD_HASH = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


def insert_areas(session: Session, rows: Iterable[Row]) -> list[AdminArea]:
    areas = [
        AdminArea(code=r["code"], name=r["name"], level=r["level"], parent_code=r["parent_code"],
                  geom=from_shape(MultiPolygon([r["geometry"]]), srid=4326))
        for r in rows
    ]
    session.add_all(areas)
    session.flush()
    return areas


def insert_cells(session: Session, community_code: str, codes: Iterable[str]) -> list[GridCell]:
    """Cells of about 100 m side along the south-west corner of the world's first communities."""
    cells = [
        GridCell(code=code, community_code=community_code, area_m2=10_000.0,
                 geom=from_shape(MultiPolygon([box(109.70 + i * 0.001, 28.25, 109.701 + i * 0.001, 28.251)]),
                                 srid=4326))
        for i, code in enumerate(codes)
    ]
    session.add_all(cells)
    session.flush()
    return cells


def add_world(session: Session) -> None:
    """The ``tests.common`` Jishou world (2 subdistricts, 4 communities) plus ``WORLD_CELLS``; once."""
    if session.scalar(select(AdminArea.id).where(AdminArea.code == QIANZHOU)) is None:
        insert_areas(session, jishou_world())
        insert_cells(session, FIRST_COMMUNITY, WORLD_CELLS)


def default_team(session: Session) -> Team:
    """A team answering for 乾州街道 (communities 433101004001 and 433101004002), made on first use."""
    add_world(session)
    team = session.scalar(select(Team).where(Team.name == "乾州街道测试中队"))
    return team or users.create_team(session, name="乾州街道测试中队", jurisdiction_codes=[QIANZHOU])


def add_user(
    session: Session,
    role: Role | str,
    *,
    team: Team | None = None,
    username: str | None = None,
    password: str | None = None,
    community_code: str | None = None,
    display_name: str | None = None,
    phone: str | None = None,
) -> User:
    """A valid user of ``role``: officers get the default team and community staff the world's first
    community unless told otherwise. Without ``password`` no (slow) hash is computed."""
    role = Role(role)
    if role is Role.officer and team is None:
        team = default_team(session)
    if role is Role.community_staff and community_code is None:
        add_world(session)
        community_code = FIRST_COMMUNITY
    return users.create_user(
        session,
        username=username or f"{role.value}_{next(_usernames)}",
        display_name=display_name or f"测试{role.value}",
        role=role,
        password=password,
        team=team,
        phone=phone,
        community_code=community_code,
    )
