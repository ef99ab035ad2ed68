"""The role pages' parts: HTML fragments that htmx swaps into ``/``, ``/officer`` and ``/desk``.

Each part is rendered on the server from the same domain rules as the JSON API (visibility, the workflow's
moves, ``Incident.is_overdue``) and asks for the same bearer token (``pages.js`` adds it to every htmx
request), so a page shows nothing its user could not read through the API, and a button appears only for a
move the user's role may make. Errors are the API's JSON (``api.errors``); ``pages.js`` shows their zh-CN
message. Writes (``POST /app/cases/{ref}/moves``) go through ``gis.incidents.workflow.transition`` like the API's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from geoalchemy2.shape import to_shape
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import CurrentUser, SessionDep
from api.routes.incident_views import load_incident, max_photo_bytes, photo_url
from gis.errors import Forbidden, InvalidInput
from gis.facilities import opening_hours
from gis.incidents import service as incidents
from gis.incidents import workflow, worklists
from gis.incidents.photos import check_photo, store_photo
from gis.incidents.query import IncidentFilter, list_incidents
from gis.incidents.visibility import full_view, list_scope
from gis.incidents.work_calendar import SHANGHAI, default_calendar
from gis.models import AdminArea, Category, Incident, IncidentEvent, PhotoKind, Role, Status, Team, User
from gis.people import permissions, users
from gis.people.permissions import Action

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DESK_PAGE = 20  # rows per page of the desk's list
MAX_TEAM_OPTIONS = 500  # teams in a dispatch or filter list (a city has dozens)
MAX_EVENTS_SHOWN = 200  # the newest events of a case on its panel (the API pages the whole history)

router = APIRouter(prefix="/app", include_in_schema=False)

page_templates = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)

# What each step of a case's history is called on the page: the workflow's own labels, and the steps the
# system or the create make.
ACTION_ZH: dict[str, str] = {
    "report": "上报", "escalate": "超期升级", "import": "导入", "merge": "并入",
    **{m.action: m.label_zh for m in reversed(workflow.MOVES)},
}
ACTION_ZH["reopen"] = "重开"
# Moves whose form takes a photo, and of which kind: the proof of handling, or of the on-site check.
AFTER_PHOTO_MOVES = frozenset({"handle", "verify", "rework"})


def beijing(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if moment else "—"


page_templates.filters["beijing"] = beijing
page_templates.filters["opening_zh"] = opening_hours.describe_zh  # "Mo-Su 08:00-20:00" → 每天 08:00-20:00
page_templates.globals["status_zh"] = lambda status: Status(status).label_zh
page_templates.globals["action_zh"] = lambda action: ACTION_ZH.get(action, action)


def _html(template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    html = page_templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store", **(headers or {})})


def _row(incident: Incident, now: datetime) -> dict[str, Any]:
    """What a list row shows of a case (no reporter: lists never name people)."""
    point = to_shape(incident.location)
    return {
        "id": incident.id, "public_id": incident.public_id, "category": incident.category.name_zh,
        "status": incident.status, "status_zh": Status(incident.status).label_zh, "cell": incident.cell_code,
        "reported_at": incident.reported_at, "deadline_at": incident.deadline_at,
        "overdue": incident.is_overdue(now), "lon": round(point.x, 6), "lat": round(point.y, 6),
        "description": incident.description,
    }


def _rows(items: list[Incident], now: datetime) -> list[dict[str, Any]]:
    return [_row(i, now) for i in items]


# -- the grid worker ----------------------------------------------------------------------------------------
@router.get("/work", response_class=HTMLResponse)
def my_work(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """我的工作: my reports, cases in my cells waiting for my check, overdue in my cells."""
    permissions.require(user, Action.incident_read)
    now = datetime.now(UTC)
    day = worklists.worker_day(session, user, now=now)
    return _html("parts/work.html", reported=_rows(day.reported, now), to_check=_rows(day.to_check, now),
                 overdue=_rows(day.overdue, now))


# -- the officer --------------------------------------------------------------------------------------------
@router.get("/queue", response_class=HTMLResponse)
def team_queue(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The officer's team queue, and the team's jurisdiction as a box for the map to fit."""
    permissions.require(user, Action.incident_handle)
    if user.team_id is None:
        raise Forbidden(f"user {user.username} belongs to no team, so has no queue")
    now = datetime.now(UTC)
    queue = worklists.team_queue(session, user.team_id, now=now)
    communities = users.team_community_codes(session, user.team_id)
    return _html("parts/queue.html", team=user.team.name if user.team else "", bounds=_bounds(session, communities),
                 groups=[("待接单", _rows(queue.to_take, now)), ("处置中", _rows(queue.in_progress, now)),
                         ("临期（24小时内到期）", _rows(queue.due_soon, now)), ("已逾期", _rows(queue.overdue, now))])


def _bounds(session: Session, communities: set[str]) -> list[float] | None:
    """[west, south, east, north] of the current communities named, or None."""
    if not communities:
        return None
    extent = func.ST_Extent(AdminArea.geom)
    row = session.execute(select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent),
                                 func.ST_YMax(extent)).where(AdminArea.code.in_(sorted(communities)),
                                                             AdminArea.valid_to.is_(None))).one()
    return None if row[0] is None else [round(float(v), 6) for v in row]


# -- the supervision centre ---------------------------------------------------------------------------------
@router.get("/desk", response_class=HTMLResponse)
def desk_list(
    session: SessionDep, user: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=5)] = None,
    community: Annotated[str | None, Query(max_length=12)] = None,
    team_id: Annotated[str | None, Query(max_length=12)] = None,
    overdue: Annotated[str | None, Query(max_length=5)] = None,
    within_days: Annotated[str | None, Query(max_length=4)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """The desk's filtered, paged list (newest first); empty filter fields mean "any"."""
    permissions.require(user, Action.incident_register)
    now = datetime.now(UTC)
    statuses = [s.value for s in Status if not s.is_final] if status == "open" else [status] if status else []
    if any(s not in {v.value for v in Status} for s in statuses):
        raise InvalidInput(f"status: unknown status {status!r}")
    if team_id and not team_id.isdigit():
        raise InvalidInput(f"team_id: not a team id: {team_id!r}")
    if within_days and not (within_days.isdigit() and 1 <= int(within_days) <= 3660):
        raise InvalidInput(f"within_days: not a number of days: {within_days!r}")
    since = now - timedelta(days=int(within_days)) if within_days else None
    scope, _ = list_scope(session, user)
    filters = IncidentFilter(statuses=statuses, categories=[category] if category else [],
                             community_code=community or None, team_id=int(team_id) if team_id else None,
                             overdue=True if overdue == "true" else None, reported_from=since).limited_by(scope)
    result = list_incidents(session, filters, sort="-reported_at", limit=DESK_PAGE + 1, offset=offset, now=now)
    items = list(result.items)
    more = len(items) > DESK_PAGE
    query = {k: v for k, v in {"status": status, "category": category, "community": community,
                               "team_id": team_id, "overdue": overdue, "within_days": within_days}.items() if v}
    return _html("parts/desk.html", rows=_rows(items[:DESK_PAGE], now), offset=offset, page=DESK_PAGE,
                 more=more, query=query)


@router.get("/overdue", response_class=HTMLResponse)
def overdue_board(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    permissions.require(user, Action.incident_register)
    now = datetime.now(UTC)
    return _html("parts/overdue.html", rows=_rows(worklists.overdue_board(session, now=now), now), now=now)


# -- one case -----------------------------------------------------------------------------------------------
@router.get("/cases/{ref}", response_class=HTMLResponse)
def case_panel(ref: str, session: SessionDep, user: CurrentUser) -> HTMLResponse:
    incident = load_incident(session, ref)
    if not full_view(session, user, incident):
        raise Forbidden(f"role {user.role} reads the de-personalised view, which has no case page")
    return _case(session, user, incident)


def _case(session: Session, user: User, incident: Incident, headers: dict[str, str] | None = None) -> HTMLResponse:
    now = datetime.now(UTC)
    # The newest events, oldest first: a case's history grows with every request for time and every note.
    events = list(reversed(session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                           .order_by(IncidentEvent.id.desc()).limit(MAX_EVENTS_SHOWN)).all()))
    earlier = (session.scalar(select(func.count()).where(IncidentEvent.incident_id == incident.id)) or 0) - len(events)
    names = {u.id: u.display_name for u in session.scalars(
        select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id is not None})))}
    moves = _offered_moves(user, incident)
    teams = (session.scalars(select(Team).order_by(Team.name).limit(MAX_TEAM_OPTIONS)).all()
             if any(m.action == "dispatch" for m in moves) else [])
    nearby = ([(c, round(m)) for c, m in incidents.duplicates_with_distance(session, incident)]
              if any(m.action == "mark_duplicate" for m in moves) else [])
    return _html(
        "parts/case.html", headers=headers, case=_row(incident, now), incident=incident,
        asked=_pending_request(events, names),
        team=session.get(Team, incident.team_id) if incident.team_id else None,
        events=[{"at": e.at, "action": e.action, "to_status": e.to_status, "note": e.note,
                 "actor": names.get(e.actor_id or 0, "系统" if e.actor_id is None else "—")} for e in events],
        photos=[{"url": photo_url(incident, p), "kind": "处置后" if p.kind == PhotoKind.after else "处置前"}
                for p in incident.photos],
        earlier=earlier, moves=moves, teams=teams, nearby=nearby, after_photo_moves=AFTER_PHOTO_MOVES,
        photo_required=incident.category.after_photo_required,
    )


def _pending_request(events: Sequence[IncidentEvent], names: dict[int, str]) -> dict[str, Any] | None:
    """The team's request for more time not yet answered by an extension: what the extend form starts from."""
    for event in reversed(events):
        if event.action == "extend":
            return None
        if event.action == "request_extension":
            return {"actor_id": event.actor_id, "actor": names.get(event.actor_id or 0, "—"), "note": event.note,
                    "hours": (event.data or {}).get("hours")}
    return None


def _offered_moves(user: User, incident: Incident) -> list[workflow.Move]:
    """The buttons: moves from the case's status the user's role may make (officers: their team's cases).
    The server checks everything again when a button is pressed."""
    if incident.status == Status.duplicate:
        return []
    moves: list[workflow.Move] = []
    for move in workflow.moves_from(incident.status, user.role):
        if move.team_only and user.role == Role.officer and user.team_id != incident.team_id:
            continue
        if move.action == "reopen" and any(m.action == "reopen" for m in moves):
            continue  # one reopen button: it asks which way
        moves.append(move)
    return moves


@router.post("/cases/{ref}/moves", response_class=HTMLResponse)
def move_case(
    ref: str, request: Request, session: SessionDep, user: CurrentUser,
    to: Annotated[str, Form(max_length=24)],
    version: Annotated[int, Form(ge=1)],
    note: Annotated[str, Form(max_length=4000)] = "",
    team_id: Annotated[str, Form(max_length=12)] = "",
    hours: Annotated[str, Form(max_length=12)] = "",
    original: Annotated[str, Form(max_length=24)] = "",
    reopen_as: Annotated[str, Form(max_length=16)] = "",
    requested_by: Annotated[str, Form(max_length=12)] = "",
    photo: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """One button of the case panel: the move, with its reason, team, hours or photo; the panel again."""
    data = photo.file.read(max_photo_bytes(request) + 1) if photo is not None and photo.filename else b""
    return _move(session, user, request, ref, to, version, note, team_id, hours, original, reopen_as, data,
                 requested_by)


def _move(session: Session, user: User, request: Request, ref: str, to: str, version: int, note: str,
          team_id: str, hours: str, original: str, reopen_as: str, photo: bytes,
          requested_by: str = "") -> HTMLResponse:
    incident = load_incident(session, ref)
    full_view(session, user, incident)  # 403 before anything about the case is used
    if to == "mark_duplicate":
        if not original.strip():
            raise InvalidInput("data.original_id: name the case this one duplicates")
        of = incidents.get_or_raise(session, original.strip())
        incidents.mark_duplicate(session, incident=incident, of=of, actor=user, expected_version=version,
                                 note=note or None)
        return _case(session, user, incident, headers={"HX-Trigger": "wg-changed"})
    data: dict[str, Any] = {}
    if team_id:
        if not team_id.isdigit():
            raise InvalidInput(f"data.team_id: not a team id: {team_id!r}")
        data["team_id"] = int(team_id)
    if hours:
        data["hours"] = hours
    if requested_by.isdigit():
        data["requested_by"] = int(requested_by)
    if to == "reopen" and reopen_as in (Status.registered.value, Status.in_progress.value):
        to = reopen_as
    stored = []
    if photo:
        checked = check_photo(photo, max_bytes=max_photo_bytes(request), name="photo")
        kind = PhotoKind.after if to in AFTER_PHOTO_MOVES else PhotoKind.before
        stored.append(store_photo(session, incident=incident, photo=checked, kind=kind, uploader=user,
                                  photo_dir=request.app.state.settings.photo_dir))
    workflow.transition(session, incident=incident, to=to, actor=user, note=note or None, expected_version=version,
                        data=data, photos=stored, calendar=default_calendar(request.app.state.settings))
    session.refresh(incident, ["photos"])
    return _case(session, user, incident, headers={"HX-Trigger": "wg-changed"})


# -- lookups the pages' forms use -----------------------------------------------------------------------------
@router.get("/categories", response_class=HTMLResponse)
def category_options(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The desk filter's category options."""
    permissions.require(user, Action.incident_read)
    rows = session.scalars(select(Category).where(Category.active).order_by(Category.code)).all()
    return _html("parts/category_options.html", categories=rows)


@router.get("/teams", response_class=HTMLResponse)
def team_options(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """The desk filter's team options, for those who may use the desk (rights first: names are not public)."""
    permissions.require(user, Action.incident_register)
    rows = session.scalars(select(Team).order_by(Team.name).limit(MAX_TEAM_OPTIONS)).all()
    return _html("parts/team_options.html", teams=rows)
