"""Demo people for a fresh install: enforcement teams for Jishou's urban subdistricts and one user of
every role, with known passwords, so that `make run` can be tried at once.

Everything here is fake and says so: usernames start with ``demo_``, display names end in （演示）,
phones are ``000-0000-NNNN``. Seeding is idempotent: existing teams and users are kept as they are
(their passwords are not reset) and only what is missing is added, so it is safe on every start and
picks up boundaries or grid cells loaded since the last run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.models import AdminArea, AdminLevel, GridCell, Role, Team, TeamJurisdiction, User
from gis.people import users

JISHOU = "433101000000"
# The urban subdistricts (街道) of Jishou, by statistical code: (short name, pinyin for usernames).
URBAN_SUBDISTRICTS: dict[str, tuple[str, str]] = {
    "433101002000": ("峒河", "donghe"),
    "433101004000": ("乾州", "qianzhou"),
    "433101005000": ("镇溪", "zhenxi"),
    "433101007000": ("石家冲", "shijiachong"),
    "433101008000": ("双塘", "shuangtang"),
}
# Where each subdistrict's demo grid worker patrols: the busiest community of the sample (a market, the
# station), so that a first log-in shows cases on the map.
DEMO_BEATS: dict[str, str] = {
    "433101002000": "433101002005",  # 光明社区
    "433101004000": "433101004003",  # 竹园社区
    "433101005000": "433101005007",  # 商业城社区
    "433101007000": "433101007002",  # 荣昌坪社区
    "433101008000": "433101008001",  # 周家寨社区
}
CITY_TEAM = "吉首市城管执法大队"
CELLS_PER_GRID_WORKER = 9  # a compact beat of about 3 × 3 cells
DEMO_MARK = "（演示）"

_OFFICER_NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈杰"]
_GRID_WORKER_NAMES = ["赵敏", "黄磊", "周婷", "吴强", "徐静"]
_SINGLE_ROLE_NAMES = {
    Role.supervisor: "孙丽",
    Role.planner: "马超",
    Role.admin: "朱明",
    Role.unit_manager: "胡军",
    Role.community_staff: "郭玲",
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    display_name: str
    team: str | None = None


def demo_password(role: Role | str) -> str:
    return f"demo-{role}"


def seed_demo_people(session: Session) -> list[DemoLogin]:
    """Add the demo teams and users that are missing; return every demo log-in (existing or new).

    Teams exist only for subdistricts present as current admin areas; grid workers get up to
    ``CELLS_PER_GRID_WORKER`` cells of their community when the grid has been built."""
    present = _current_areas(session, list(URBAN_SUBDISTRICTS), AdminLevel.subdistrict)
    logins: list[DemoLogin] = []
    phone_numbers = iter(range(1, 10_000))

    def person(username: str, role: Role, name: str, *, team: Team | None = None,
               community_code: str | None = None) -> User:
        display_name = name + DEMO_MARK
        phone = f"000-0000-{next(phone_numbers):04d}"
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = users.create_user(
                session, username=username, display_name=display_name, role=role,
                password=demo_password(role), team=team, phone=phone, community_code=community_code,
            )
        logins.append(DemoLogin(user.username, demo_password(role), user.role, user.display_name,
                                user.team.name if user.team else None))
        return user

    for index, code in enumerate(c for c in URBAN_SUBDISTRICTS if c in present):
        short, pinyin = URBAN_SUBDISTRICTS[code]
        team = _team(session, f"{short}街道执法中队", [code])
        person(f"demo_officer_{pinyin}", Role.officer, _OFFICER_NAMES[index], team=team)
        worker = person(f"demo_grid_{pinyin}", Role.grid_worker, _GRID_WORKER_NAMES[index],
                        community_code=_grid_worker_community(session, code))
        if worker.community_code is not None:
            # The beat is the block of cells around the heart of the community (its point on surface),
            # where the cases are, rather than the first codes, which are slivers on its northern edge.
            heart = (
                select(func.ST_PointOnSurface(AdminArea.geom))
                .where(AdminArea.code == worker.community_code, AdminArea.valid_to.is_(None))
                .scalar_subquery()
            )
            cells = session.scalars(
                select(GridCell.code).where(GridCell.community_code == worker.community_code)
                .order_by(func.ST_Distance(GridCell.geom, heart), GridCell.code).limit(CELLS_PER_GRID_WORKER)
            )
            users.assign_cells(session, worker, list(cells))

    city_codes = sorted(_current_areas(session, None, AdminLevel.subdistrict, parent=JISHOU) | present)
    if city_codes:
        person("demo_officer_city", Role.officer, "杨帆", team=_team(session, CITY_TEAM, city_codes))
    if not present:
        person("demo_grid_worker", Role.grid_worker, _GRID_WORKER_NAMES[0])

    for role, name in _SINGLE_ROLE_NAMES.items():
        if role is Role.community_staff:
            community = next((_first_community(session, c) for c in sorted(present)), None)
            if community is None:
                continue  # community staff need a community; none is loaded
            person(f"demo_{role}", role, name, community_code=community)
        else:
            person(f"demo_{role}", role, name)
    return logins


def _team(session: Session, name: str, codes: list[str]) -> Team:
    """The team called ``name``, created if missing, answering at least for ``codes``."""
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        return users.create_team(session, name=name, jurisdiction_codes=codes)
    listed = {j.area_code for j in team.jurisdiction}
    team.jurisdiction.extend(TeamJurisdiction(area_code=c) for c in codes if c not in listed)
    session.flush()
    return team


def _current_areas(
    session: Session, codes: list[str] | None, level: AdminLevel, *, parent: str | None = None
) -> set[str]:
    query = select(AdminArea.code).where(AdminArea.valid_to.is_(None), AdminArea.level == level.value)
    if codes is not None:
        query = query.where(AdminArea.code.in_(codes))
    if parent is not None:
        query = query.where(AdminArea.parent_code == parent)
    return set(session.scalars(query))


def _first_community(session: Session, subdistrict_code: str) -> str | None:
    return session.scalar(
        select(AdminArea.code)
        .where(AdminArea.valid_to.is_(None), AdminArea.level == AdminLevel.community.value,
               AdminArea.parent_code == subdistrict_code)
        .order_by(AdminArea.code)
        .limit(1)
    )


def _grid_worker_community(session: Session, subdistrict_code: str) -> str | None:
    """The subdistrict's demo beat (``DEMO_BEATS``) if it has grid cells, else the first community of the
    subdistrict that has cells, else its first community."""
    preferred = DEMO_BEATS.get(subdistrict_code, "")
    with_cells = session.scalar(
        select(AdminArea.code)
        .where(AdminArea.valid_to.is_(None), AdminArea.level == AdminLevel.community.value,
               AdminArea.parent_code == subdistrict_code,
               select(GridCell.id).where(GridCell.community_code == AdminArea.code).exists())
        .order_by((AdminArea.code == preferred).desc(), AdminArea.code)
        .limit(1)
    )
    return with_cells or _first_community(session, subdistrict_code)
