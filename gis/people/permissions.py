"""Who may do what: one table of actions and the roles allowed them, and one table of where each role
may act. Handlers ask ``require(user, Action.…)`` and ``require_jurisdiction(...)``; they never test
roles themselves, so changing a rule means changing a row here.

The incident actions follow the digital city-management cycle (数字城管): a grid worker or officer
reports (上报), the supervision centre registers (立案) and dispatches (派遣) the case to a team, an officer
of that team handles it (处置), the centre or a grid worker verifies the result on site (核查) and the
centre closes it (结案). ``admin`` may do everything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gis.errors import Forbidden, OutsideJurisdiction
from gis.models import Role, User
from gis.people.users import team_community_codes, user_cell_codes


class Action(enum.StrEnum):
    """Things a user may be allowed to do. The value is what the API shows (``GET /api/v1/me``)."""

    incident_create = "incident.create"  # report a new incident (上报), also through Open311
    incident_read = "incident.read"  # read incidents within one's reach (see Reach) and one's own reports
    incident_read_all = "incident.read_all"  # read every incident everywhere, reporter details included
    incident_register = "incident.register"  # accept a report as a case (立案)
    incident_dispatch = "incident.dispatch"  # assign a case to a team, with a deadline (派遣)
    incident_handle = "incident.handle"  # record the handling and its result (处置反馈)
    incident_verify = "incident.verify"  # check the result on site, pass or send back (核查)
    incident_close = "incident.close"  # close a verified case (结案)
    incident_void = "incident.void"  # reject a report as invalid or a duplicate (作废)
    incident_extend = "incident.extend"  # grant a case more time past its deadline (延期)
    incident_shelve = "incident.shelve"  # park a case that cannot be solved now (挂账)
    incident_reopen = "incident.reopen"  # reopen a closed, voided or shelved case (重新办理)
    incident_import = "incident.import"  # bulk-load incidents from a file (e.g. a 12345 hotline export)
    export_read = "export.read"  # download planner exports (GPKG/GeoJSON/SHP, no personal data)
    facility_manage = "facility.manage"  # add and edit shared facilities, approve their bookings (共建单位)
    facility_book = "facility.book"  # book a shared facility for a community
    facility_read = "facility.read"  # see shared facilities and their availability
    admin_users = "admin.users"  # manage users, teams, API keys


_ALL_ROLES = frozenset(Role)
_CENTRE = frozenset({Role.supervisor, Role.admin})  # the supervision centre (监督指挥中心)

PERMISSIONS: Mapping[Action, frozenset[Role]] = {
    Action.incident_create: frozenset(
        {Role.grid_worker, Role.officer, Role.supervisor, Role.community_staff, Role.admin}
    ),
    Action.incident_read: frozenset(
        {Role.grid_worker, Role.officer, Role.supervisor, Role.community_staff, Role.admin}
    ),
    Action.incident_read_all: _CENTRE,
    Action.incident_register: _CENTRE,
    Action.incident_dispatch: _CENTRE,
    Action.incident_handle: frozenset({Role.officer, Role.admin}),
    Action.incident_verify: frozenset({Role.grid_worker, Role.supervisor, Role.admin}),
    Action.incident_close: _CENTRE,
    Action.incident_void: _CENTRE,
    Action.incident_extend: _CENTRE,
    Action.incident_shelve: _CENTRE,
    Action.incident_reopen: _CENTRE,
    Action.incident_import: _CENTRE,
    Action.export_read: frozenset({Role.planner, Role.supervisor, Role.admin}),
    Action.facility_manage: frozenset({Role.unit_manager, Role.admin}),
    Action.facility_book: frozenset({Role.community_staff, Role.admin}),
    Action.facility_read: _ALL_ROLES,
    Action.admin_users: frozenset({Role.admin}),
}


class Reach(enum.StrEnum):
    """Where a role may act on incidents."""

    anywhere = "anywhere"
    team = "team"  # the current communities of the user's team jurisdiction
    own_community = "own_community"  # the user's own community_code


REACH: Mapping[Role, Reach] = {
    Role.grid_worker: Reach.anywhere,  # reports what they see, wherever they are
    Role.officer: Reach.team,
    Role.supervisor: Reach.anywhere,
    Role.planner: Reach.anywhere,
    Role.admin: Reach.anywhere,
    Role.unit_manager: Reach.anywhere,  # a unit's facilities may serve several communities
    Role.community_staff: Reach.own_community,
}


def can(user: User, action: Action) -> bool:
    """Whether ``user`` (active) may do ``action`` anywhere in their reach."""
    return user.is_active and Role(user.role) in PERMISSIONS[action]


def require(user: User, action: Action) -> None:
    """Raise Forbidden, naming the role and the action, unless ``user`` may do ``action``."""
    if not user.is_active:
        raise Forbidden(f"user {user.username} is disabled")
    if not can(user, action):
        allowed = ", ".join(sorted(PERMISSIONS[action]))
        raise Forbidden(f"role {user.role} may not {action} (allowed: {allowed})")


def allowed_actions(user: User) -> list[Action]:
    """Every action ``user`` may do, in table order (for clients that grey out what they cannot do)."""
    return [action for action in Action if can(user, action)]


def reach_communities(session: Session, user: User) -> frozenset[str] | None:
    """Codes of the communities ``user`` may act in, or None for anywhere.

    Use it to filter lists (an officer sees the incidents of their team's communities)."""
    reach = REACH[Role(user.role)]
    if reach is Reach.anywhere:
        return None
    if reach is Reach.team:
        if user.team_id is None:
            return frozenset()
        return frozenset(team_community_codes(session, user.team_id))
    return frozenset({user.community_code} if user.community_code else ())


@dataclass(frozen=True)
class ReadScope:
    """Which incidents a user may read: within ``communities`` and ``cells`` (None: no limit on that)."""

    communities: frozenset[str] | None
    cells: frozenset[str] | None

    @property
    def anywhere(self) -> bool:
        return self.communities is None and self.cells is None

    def covers(self, community_code: str | None, cell_code: str | None) -> bool:
        return (self.communities is None or community_code in self.communities) and (
            self.cells is None or cell_code in self.cells
        )


def read_scope(session: Session, user: User) -> ReadScope:
    """Where ``user`` may read cases. Grid workers report anywhere but read the cases of the cells they
    patrol (the issue: "a grid worker reports anywhere and sees their own cells"); others read within
    their reach. Everyone also reads what they reported themselves (the API adds that)."""
    if Role(user.role) is Role.grid_worker:
        return ReadScope(communities=None, cells=frozenset(user_cell_codes(session, user)))
    return ReadScope(communities=reach_communities(session, user), cells=None)


def require_read(session: Session, user: User, community_code: str | None, cell_code: str | None) -> None:
    """Raise OutsideJurisdiction unless the case at ``community_code``/``cell_code`` is in the read scope."""
    scope = read_scope(session, user)
    if scope.covers(community_code, cell_code):
        return
    if scope.cells is not None:
        raise OutsideJurisdiction(f"cell {cell_code or '(none)'} is not one of the cells {user.username} patrols")
    require_jurisdiction(session, user, community_code)


def require_jurisdiction(session: Session, user: User, community_code: str | None) -> None:
    """Raise OutsideJurisdiction unless ``user`` may act in ``community_code``.

    A place outside every community (``None``) is within reach only of roles that reach anywhere."""
    reach = reach_communities(session, user)
    if reach is None:
        return
    if community_code is None or community_code not in reach:
        where = community_code or "a place outside every community"
        if REACH[Role(user.role)] is Reach.team:
            team = user.team.name if user.team is not None else "no team"
            raise OutsideJurisdiction(f"{where} is outside the jurisdiction of {user.username} ({team})")
        raise OutsideJurisdiction(f"{where} is outside the community of {user.username}")
