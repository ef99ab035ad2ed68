"""People services: users, teams and their jurisdictions, log-in, API keys, grid cell assignments.

Services flush and never commit: the caller (an API request, a CLI command) owns the transaction.
Jurisdictions are stored as the codes a person typed (subdistricts or communities) and expanded to
current communities when asked, so a team keeps answering for a subdistrict whose communities change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from gis.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from gis.models import AdminArea, AdminLevel, ApiKey, GridCell, GridCellWorker, Role, Team, TeamJurisdiction, User
from gis.people import security

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD_LENGTH = 8
JURISDICTION_LEVELS = (AdminLevel.subdistrict.value, AdminLevel.community.value)
WRONG_CREDENTIALS = "wrong username or password"  # one message: never reveal which of the two was wrong


# -- users ----------------------------------------------------------------------------------------------
def parse_role(role: Role | str) -> Role:
    """``role`` as a Role, or InvalidInput listing the roles there are."""
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput(f"role: unknown role {role!r}; choose one of {', '.join(Role)}") from None


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    password: str | None = None,
    team: Team | None = None,
    phone: str | None = None,
    community_code: str | None = None,
) -> User:
    """Add a user. Without a password the user cannot log in with one (API keys only).

    Officers must belong to a team (their jurisdiction comes from it) and community staff to a current
    community. Raises InvalidInput for a malformed field, Conflict when the username is taken."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidInput(
            f"username: {username!r} must be 2–64 characters of a–z, 0–9, '_', '.', '-', starting with a letter "
            "or digit"
        )
    display_name = display_name.strip()
    if not display_name:
        raise InvalidInput("display_name: must not be empty")
    parsed_role = parse_role(role)
    if parsed_role is Role.officer and team is None:
        raise InvalidInput("team: an officer must belong to a team (it defines where the officer may act)")
    if parsed_role is Role.community_staff and community_code is None:
        raise InvalidInput("community_code: community staff must name their community (12-digit code)")
    if community_code is not None:
        _require_current_areas(session, [community_code], levels=(AdminLevel.community.value,),
                               field="community_code")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username {username!r} is taken")
    user = User(
        username=username,
        display_name=display_name,
        role=parsed_role.value,
        team=team,
        phone=phone.strip() if phone else None,
        community_code=community_code,
        password_hash=security.hash_password(password) if password is not None else None,
        is_active=True,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    """The user called ``username`` (case-insensitive), or NotFound."""
    # A NUL can name no user (PostgreSQL text cannot hold one), and the query would fail in the driver.
    name = username.strip().lower()
    user = None if "\x00" in name else session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def list_users(session: Session, *, limit: int | None = None) -> list[User]:
    """Users by username; ``limit`` bounds a page's list (the CLI lists them all)."""
    query = select(User).options(selectinload(User.team)).order_by(User.username)
    return list(session.scalars(query if limit is None else query.limit(limit)))


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def set_active(session: Session, user: User, active: bool, *, by: User | None = None) -> User:
    """Enable or disable an account. A disabled user cannot log in, and their tokens and API keys stop working
    at once (``active_user``, ``user_for_api_key``); their cases and history stay. No one disables themself
    (an admin would lock themself out)."""
    if not active and by is not None and by.id == user.id:
        raise InvalidInput(f"username: {user.username!r} is you; another admin must disable this account")
    user.is_active = active
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password: must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = security.hash_password(password)
    session.flush()


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user whose password this is; Unauthenticated otherwise (one message for every cause
    but a disabled account, which is only told to someone who knows the password)."""
    name = username.strip().lower()
    user = None if "\x00" in name else session.scalar(select(User).where(User.username == name))
    if not security.verify_password(password, user.password_hash if user else None) or user is None:
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not user.is_active:
        raise Unauthenticated("this account is disabled")
    return user


def active_user(session: Session, user_id: int) -> User:
    """The user a token names, if still active; Unauthenticated otherwise (deleted or disabled since)."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("the access token names no active user; log in again")
    return user


# -- API keys -------------------------------------------------------------------------------------------
def create_api_key(session: Session, user: User) -> str:
    """A new key for ``user``; the plain key is returned once, only its SHA-256 is stored."""
    if not user.is_active:
        raise InvalidInput(f"user {user.username!r} is disabled; enable it before giving it a key")
    plain, prefix, key_hash = security.new_api_key()
    session.add(ApiKey(user_id=user.id, prefix=prefix, key_hash=key_hash))
    session.flush()
    return plain


def user_for_api_key(session: Session, key: str) -> User:
    """The active user owning ``key``; Unauthenticated when the key is unknown, revoked or its user
    disabled. Candidates are found by the clear prefix and compared in constant time."""
    key = key.strip()
    if not key.startswith(security.API_KEY_MARK) or len(key) <= security.API_KEY_PREFIX_LENGTH:
        raise Unauthenticated("the API key is not valid")
    candidates = session.scalars(select(ApiKey).where(ApiKey.prefix == security.api_key_prefix(key)))
    match = next((c for c in candidates if security.api_key_matches(key, c.key_hash)), None)
    if match is None:
        raise Unauthenticated("the API key is not valid")
    if match.revoked_at is not None:
        raise Unauthenticated("the API key was revoked")
    user = session.get(User, match.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("the API key belongs to a disabled user")
    return user


def list_api_keys(session: Session, *, limit: int = 500) -> list[tuple[ApiKey, str]]:
    """Live (unrevoked) API keys with their owner's username, newest first; only prefixes, never keys."""
    rows = session.execute(select(ApiKey, User.username).join(User, User.id == ApiKey.user_id)
                           .where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
                           .limit(limit))
    return [(key, username) for key, username in rows.tuples()]


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """Revoke the live key(s) starting with ``prefix`` (as listed, e.g. ``wg_AbCd1234``)."""
    keys = list(session.scalars(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))))
    if not keys:
        raise NotFound(f"no live API key with prefix {prefix!r}")
    now = datetime.now(UTC)
    for key in keys:
        key.revoked_at = now
    session.flush()
    return keys[0]


# -- teams ----------------------------------------------------------------------------------------------
def create_team(
    session: Session, *, name: str, jurisdiction_codes: Iterable[str], kind: str = "enforcement"
) -> Team:
    """Add a team answering for the given current subdistricts/communities (at least one).

    Raises InvalidInput naming codes that are not current subdistricts or communities, Conflict when
    the name is taken."""
    name = name.strip()
    if not name:
        raise InvalidInput("name: a team needs a name")
    codes = sorted({c.strip() for c in jurisdiction_codes})
    if not codes:
        raise InvalidInput("jurisdiction: give at least one subdistrict or community code")
    _require_current_areas(session, codes, levels=JURISDICTION_LEVELS, field="jurisdiction")
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"team {name!r} exists")
    team = Team(name=name, kind=kind, jurisdiction=[TeamJurisdiction(area_code=c) for c in codes])
    session.add(team)
    session.flush()
    return team


def get_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name.strip()))
    if team is None:
        raise NotFound(f"no team {name!r}")
    return team


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).options(selectinload(Team.jurisdiction)).order_by(Team.name)))


def team_community_codes(session: Session, team_id: int) -> set[str]:
    """Codes of the current communities a team answers for: those it lists, plus every current community
    of the subdistricts it lists."""
    listed = select(TeamJurisdiction.area_code).where(TeamJurisdiction.team_id == team_id)
    query = select(AdminArea.code).where(
        AdminArea.valid_to.is_(None),
        AdminArea.level == AdminLevel.community.value,
        or_(AdminArea.code.in_(listed), AdminArea.parent_code.in_(listed)),
    )
    return set(session.scalars(query))


def _require_current_areas(session: Session, codes: list[str], *, levels: tuple[str, ...], field: str) -> None:
    rows = session.execute(
        select(AdminArea.code, AdminArea.level).where(AdminArea.code.in_(codes), AdminArea.valid_to.is_(None))
    )
    found = {code: level for code, level in rows}
    unknown = [c for c in codes if c not in found]
    wrong_level = [f"{c} ({found[c]})" for c in codes if c in found and found[c] not in levels]
    problems = []
    if unknown:
        problems.append(f"not a current admin area: {', '.join(unknown)}")
    if wrong_level:
        problems.append(f"not a {' or '.join(levels)}: {', '.join(wrong_level)}")
    if problems:
        raise InvalidInput(f"{field}: {'; '.join(problems)} — use 12-digit codes of loaded boundaries")


# -- grid cells -----------------------------------------------------------------------------------------
def assign_cells(session: Session, user: User, cell_codes: Iterable[str]) -> list[str]:
    """Make ``user`` (a grid worker) patrol these cells, keeping earlier assignments; returns the codes
    that were newly assigned. Raises InvalidInput for a non-grid-worker or unknown cell codes."""
    if user.role != Role.grid_worker:
        raise InvalidInput(f"{user.username} is a {user.role}; only grid workers are assigned cells")
    codes = sorted({c.strip() for c in cell_codes})
    existing = set(session.scalars(select(GridCell.code).where(GridCell.code.in_(codes))))
    missing = [c for c in codes if c not in existing]
    if missing:
        raise InvalidInput(f"cells: no grid cell {', '.join(missing)}")
    assigned = set(user_cell_codes(session, user))
    new = [c for c in codes if c not in assigned]
    session.add_all(GridCellWorker(cell_code=c, user_id=user.id) for c in new)
    session.flush()
    return new


def cell_counts(session: Session, user_ids: list[int]) -> dict[int, int]:
    """How many cells each of ``user_ids`` patrols, in one query (a page of users, not one query each)."""
    rows = session.execute(select(GridCellWorker.user_id, func.count()).where(GridCellWorker.user_id.in_(user_ids))
                           .group_by(GridCellWorker.user_id))
    return {int(user_id): int(n) for user_id, n in rows.tuples()}


def user_cell_codes(session: Session, user: User) -> list[str]:
    """Codes of the cells ``user`` patrols, sorted."""
    query = select(GridCellWorker.cell_code).where(GridCellWorker.user_id == user.id).order_by(GridCellWorker.cell_code)
    return list(session.scalars(query))
