"""The handling cycle of a case (数字城管): one table of moves, who may make them, and what each one does.

::

    reported ─register→ registered ─dispatch→ dispatched ─take→ in_progress ─handle→ handled ─verify→ verified
        └─reject→ rejected        (re-dispatch)          ↑                           │                 │
                                                          └────────── rework ────────┘               close
                                                                                                       ↓
                                                                                                    closed
    extend (延期): dispatched/in_progress keep their status, the deadline moves, the approver is recorded;
    request_extension (申请延期): the team asks for it, with a reason and the hours; nothing else changes
    shelve (挂账), void (作废), mark_duplicate (重复), reopen (重开: closed/shelved/void → registered or in_progress)

Roles follow the issue: the supervision centre (supervisor; admin may do everything, as in
``gis.people.permissions``) registers, dispatches, verifies and closes; officers of the responsible team take and
handle the case; grid workers may verify on site (pass, or send back for rework). Every move is an
``IncidentEvent`` row (who, when, from, to, note, data, photos) and bumps the incident's version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from gis.errors import Conflict, Forbidden, InvalidInput, OutsideJurisdiction, StaleVersion
from gis.evaluation import facts
from gis.incidents.visibility import full_view
from gis.incidents.work_calendar import WorkCalendar, default_calendar
from gis.models import Incident, IncidentEvent, IncidentPhoto, PhotoKind, Role, Status, Team, User
from gis.people.permissions import Action


class UnknownState(InvalidInput):
    """``to`` names neither a status nor a move."""


class TransitionNotAllowed(Conflict):
    """The move exists, but not from the case's current status."""


class RoleNotAllowed(Forbidden):
    """The actor's role may not make this move."""


class NotResponsible(Forbidden):
    """An officer acting on a case dispatched to another team."""


class IsDuplicate(Conflict):
    """The case was merged into another one; act on the original (``original_public_id``)."""

    def __init__(self, message: str, original_public_id: str | None) -> None:
        super().__init__(message)
        self.original_public_id = original_public_id


_CENTRE = frozenset({Role.supervisor, Role.admin})
_OFFICER = frozenset({Role.officer, Role.admin})
_ON_SITE = frozenset({Role.grid_worker, Role.supervisor, Role.admin})
_OPEN = frozenset({Status.reported, Status.registered, Status.dispatched, Status.in_progress, Status.shelved})


@dataclass(frozen=True)
class Move:
    """One row of the table: ``action`` takes a case from any of ``sources`` to ``target`` (None: it stays).

    ``permission`` is the ``gis.people.permissions`` action the move belongs to; its roles agree with ``roles``
    (a test keeps the two tables in step)."""

    action: str
    sources: frozenset[Status]
    target: Status | None
    roles: frozenset[Role]
    permission: Action
    label_zh: str
    needs_reason: bool = False
    team_only: bool = False  # officers must belong to the case's team


MOVES: tuple[Move, ...] = (
    Move("register", frozenset({Status.reported}), Status.registered, _CENTRE, Action.incident_register, "立案"),
    Move("reject", frozenset({Status.reported}), Status.rejected, _CENTRE, Action.incident_register, "不予立案",
         needs_reason=True),
    Move("dispatch", frozenset({Status.registered, Status.dispatched}), Status.dispatched, _CENTRE,
         Action.incident_dispatch, "派遣"),
    Move("take", frozenset({Status.dispatched}), Status.in_progress, _OFFICER, Action.incident_handle, "接单处置",
         team_only=True),
    Move("handle", frozenset({Status.in_progress}), Status.handled, _OFFICER, Action.incident_handle, "处置完成",
         team_only=True),
    Move("verify", frozenset({Status.handled}), Status.verified, _ON_SITE, Action.incident_verify, "核查通过"),
    Move("rework", frozenset({Status.handled}), Status.in_progress, _ON_SITE, Action.incident_verify,
         "核查不通过，返工", needs_reason=True),
    Move("close", frozenset({Status.verified}), Status.closed, _CENTRE, Action.incident_close, "结案"),
    Move("extend", frozenset({Status.dispatched, Status.in_progress}), None, _CENTRE, Action.incident_extend, "延期",
         needs_reason=True),
    # The team asks, the centre decides: the request is a step of the history (with the hours asked), and
    # the centre's extend names who asked (data.requested_by).
    Move("request_extension", frozenset({Status.dispatched, Status.in_progress}), None, _OFFICER,
         Action.incident_handle, "申请延期", needs_reason=True, team_only=True),
    Move("shelve", frozenset({Status.registered, Status.dispatched, Status.in_progress}), Status.shelved, _CENTRE,
         Action.incident_shelve, "挂账", needs_reason=True),
    Move("reopen", frozenset({Status.closed, Status.shelved, Status.void}), Status.registered, _CENTRE,
         Action.incident_reopen, "重开（重新立案）", needs_reason=True),
    Move("reopen", frozenset({Status.closed, Status.shelved}), Status.in_progress, _CENTRE, Action.incident_reopen,
         "重开（继续处置）", needs_reason=True),
    Move("void", frozenset(Status) - {Status.closed, Status.rejected, Status.void, Status.duplicate}, Status.void,
         _CENTRE, Action.incident_void, "作废", needs_reason=True),
    Move("mark_duplicate", _OPEN, Status.duplicate, _CENTRE, Action.incident_void, "重复案件"),
)
ACTIONS = frozenset(m.action for m in MOVES)


def moves_from(status: Status | str, role: Role | str | None = None) -> list[Move]:
    """The moves possible from ``status`` (for ``role`` when given): what a client may offer as buttons."""
    return [m for m in MOVES if Status(status) in m.sources and (role is None or Role(role) in m.roles)]


def find_move(current: Status, to: str) -> Move:
    """The move from ``current`` named by ``to``: a move's name (``extend``, ``rework``) or a target status.

    Raises UnknownState when ``to`` is neither, TransitionNotAllowed when no move leads there from
    ``current``. A name with two rows (``reopen``) means its first target (registered)."""
    name = _known(to)
    for move in MOVES:
        if current in move.sources and name in (move.action, move.target):
            return move
    possible = ", ".join(f"{m.action} → {m.target or current}" for m in moves_from(current)) or "nothing"
    raise TransitionNotAllowed(f"cannot {name} a case that is {current} ({current.label_zh}); from here: {possible}")


def _known(to: str) -> str:
    name = str(to).strip()
    if name not in ACTIONS and name not in {s.value for s in Status}:
        known = ", ".join(sorted(ACTIONS | {s.value for s in Status}))
        raise UnknownState(f"to: unknown state or action {name!r}; known: {known}")
    return name


def transition(
    session: Session,
    *,
    incident: Incident,
    to: str,
    actor: User,
    note: str | None = None,
    expected_version: int,
    data: Mapping[str, Any] | None = None,
    photos: Sequence[IncidentPhoto] = (),
    now: datetime | None = None,
    calendar: WorkCalendar | None = None,
) -> IncidentEvent:
    """Move ``incident`` as ``to`` says (a target status or a move's name) and record the event; flush.

    Checks, in this order, rights first: ``to`` is known (UnknownState); the actor's role may make a move of
    that name at all (RoleNotAllowed); the case is one the actor may read (OutsideJurisdiction: the same
    scope as reads, ``gis.incidents.visibility``) and, for officers' moves, their team has it
    (NotResponsible). Only then is anything about the case itself told: ``expected_version`` is its current
    version (StaleVersion); it is not a merged duplicate (IsDuplicate); the move exists from its current status
    (TransitionNotAllowed); the move's own needs (InvalidInput): a reason in ``note``, an after-photo among
    ``photos`` when the category asks for one, ``data["team_id"]`` for dispatch (default: the responsible
    team), ``data["deadline_at"]`` (aware datetime or ISO text) or ``data["hours"]`` (working hours added to
    the current deadline) for extend.

    ``photos`` are photos of this incident already stored (``gis.incidents.photos.store_photo``) that this step
    documents. Dispatch and reopening into in_progress start the clock: ``deadline_at`` = now + the
    category's working hours. Nothing is changed when any check fails.
    """
    now = now or datetime.now(UTC)
    data = dict(data or {})
    move_name = _known(to)
    # Rights before anything about the case: a caller refused here learns neither its version nor its status.
    _check_rights(session, move_name, incident, actor)
    if expected_version != incident.version:
        raise StaleVersion(
            f"incident {incident.public_id} is at version {incident.version}, not {expected_version}: "
            "someone changed it since you loaded it; reload and try again"
        )
    current = Status(incident.status)
    if current is Status.duplicate:
        original = incident.original
        raise IsDuplicate(
            f"incident {incident.public_id} is a duplicate of {original.public_id if original else 'another case'}; "
            "act on the original",
            original.public_id if original else None,
        )
    move = find_move(current, move_name)
    _check_role(move, actor)  # the row found may differ from the name's others only in its roles
    reason = (note or "").strip()
    if move.needs_reason and not reason:
        raise InvalidInput(f"note: {move.action} ({move.label_zh}) needs a reason")
    for photo in photos:
        if photo.incident_id != incident.id:
            raise InvalidInput(f"photos: photo {photo.id} belongs to another incident")
    if move.action == "handle" and incident.category.after_photo_required and not any(
        p.kind == PhotoKind.after for p in photos
    ):
        raise InvalidInput(
            f"photos: {incident.category.name_zh} needs a photo after handling (kind 'after') to be marked handled"
        )

    target = move.target or current
    cal = calendar or default_calendar()
    event_data = _apply(session, move, incident, target, data, reason, actor, now, cal)
    event = IncidentEvent(
        incident=incident, actor_id=actor.id, at=now, action=move.action, from_status=current.value,
        to_status=target.value, note=reason or None, data=event_data or None,
    )
    session.add(event)
    for photo in photos:
        photo.event = event
    _flush_or_stale(session, incident)
    facts.refresh(session, incident.id)  # the evaluation's copy of the case, in the same transaction
    return event


def _flush_or_stale(session: Session, incident: Incident) -> None:
    """Flush; StaleVersion when another transaction moved the case on since it was loaded.

    :func:`transition`'s check of ``expected_version`` cannot see a change committed after this session read
    the row; the UPDATE's ``WHERE version = …`` does. A failed flush rolls the session back and expires what
    it had loaded, so the message is worded from values read before the flush: reading ``incident`` afterwards
    would need the database and raise PendingRollbackError (a 500) instead of this conflict (a 409)."""
    public_id, version = incident.public_id, incident.version
    try:
        session.flush()
    except StaleDataError:
        raise StaleVersion(
            f"incident {public_id} is no longer at version {version}: someone else changed it while you "
            "worked; reload it and try again"
        ) from None


def require_move_role(actor: User, to: str) -> None:
    """RoleNotAllowed unless ``actor`` (active) is in a role that may make some move called ``to`` (a move's
    name or its target status; UnknownState when neither). Depends on nobody's case: callers ask it before
    they look a case up."""
    name = _known(to)
    if not actor.is_active:
        raise RoleNotAllowed(f"user {actor.username} is disabled")
    named = [m for m in MOVES if name in (m.action, m.target)]
    roles = frozenset[Role]().union(*(m.roles for m in named))
    if actor.role not in roles:
        allowed = ", ".join(sorted(roles))
        raise RoleNotAllowed(f"role {actor.role} may not {name} ({named[0].label_zh}); allowed: {allowed}")


def _check_rights(session: Session, name: str, incident: Incident, actor: User) -> None:
    """What the actor may do, decided from who they are and where the case is, never from its status or
    version: the role may make some move called ``name``, the case is within the actor's read scope, and an
    officer's team has the case when every such move is the team's."""
    require_move_role(actor, name)
    if not full_view(session, actor, incident):
        raise OutsideJurisdiction(f"{actor.username} reads only the de-personalised view of this case")
    named = [m for m in MOVES if name in (m.action, m.target) and actor.role in m.roles]
    if actor.role == Role.officer and all(m.team_only for m in named) and actor.team_id != incident.team_id:
        raise NotResponsible(
            f"incident {incident.public_id} is with team {incident.team_id}, not with {actor.username}'s team"
        )


def _check_role(move: Move, actor: User) -> None:
    if actor.role not in move.roles:
        allowed = ", ".join(sorted(move.roles))
        raise RoleNotAllowed(f"role {actor.role} may not {move.action} ({move.label_zh}); allowed: {allowed}")


def _apply(
    session: Session, move: Move, incident: Incident, target: Status, data: dict[str, Any], reason: str,
    actor: User, now: datetime, cal: WorkCalendar,
) -> dict[str, Any]:
    """Change the incident for ``move``; return what the event should record."""
    recorded: dict[str, Any] = {}
    if move.action == "dispatch":
        team = _team(session, data.get("team_id", incident.team_id), incident)
        incident.team_id = team.id
        _start_clock(incident, now, cal)
        recorded = {"team_id": team.id, "team": team.name}
    elif move.action == "extend":
        old = incident.deadline_at
        if old is None:
            raise InvalidInput(f"incident {incident.public_id} has no deadline to extend")
        new = _new_deadline(data, old, cal)
        incident.deadline_at = new
        incident.escalated_at = None
        recorded = {"old_deadline_at": old.isoformat(), "reason": reason, "approver_id": actor.id}
        if data.get("requested_by") is not None:
            recorded["requested_by"] = int(data["requested_by"])
    elif move.action == "request_extension":
        hours = data.get("hours")
        if hours is not None:
            try:
                asked = float(hours)
            except (TypeError, ValueError):
                raise InvalidInput(f"data.hours: not a number: {hours!r}") from None
            if not asked > 0:
                raise InvalidInput("data.hours: must be a positive number of working hours")
            recorded = {"hours": asked}
    elif move.action == "reopen":
        if target is Status.in_progress and incident.team_id is None:
            raise InvalidInput("data.team_id: the case has no team to continue it; reopen it as registered")
        incident.closed_at = None
        if target is Status.in_progress:
            _start_clock(incident, now, cal)
        else:
            incident.dispatched_at = incident.deadline_at = incident.escalated_at = None
    elif move.action == "mark_duplicate":
        original_id = data.get("original_id")
        if original_id is None:
            raise InvalidInput("data.original_id: name the case this one duplicates (use incidents.mark_duplicate)")
        original = session.get(Incident, int(original_id))
        if original is None:
            raise InvalidInput(f"data.original_id: no incident {original_id!r}")
        incident.original = original
        recorded = {"original_id": int(original_id), "original": data.get("original")}
    if target in (Status.closed, Status.rejected, Status.void, Status.duplicate):
        incident.closed_at = now
    if incident.deadline_at is not None and move.action in ("dispatch", "extend", "reopen"):
        recorded["deadline_at"] = incident.deadline_at.isoformat()
    incident.status = target.value
    return recorded


def _team(session: Session, team_id: object, incident: Incident) -> Team:
    if team_id is None:
        raise InvalidInput(
            f"data.team_id: no team answers for community {incident.community_code}; name the team to dispatch to"
        )
    try:
        team = session.get(Team, int(team_id))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        team = None
    if team is None:
        raise InvalidInput(f"data.team_id: no team {team_id!r}")
    return team


def _start_clock(incident: Incident, now: datetime, cal: WorkCalendar) -> None:
    incident.dispatched_at = now
    incident.deadline_at = cal.add_working_hours(now, incident.category.deadline_hours)
    incident.escalated_at = None


def _new_deadline(data: Mapping[str, Any], old: datetime, cal: WorkCalendar) -> datetime:
    if data.get("deadline_at") is not None:
        value = data["deadline_at"]
        try:
            new = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"data.deadline_at: not an ISO 8601 date-time: {value!r}") from None
        if new.tzinfo is None:
            raise InvalidInput("data.deadline_at: give a time zone (e.g. 2026-03-02T17:30:00+08:00)")
    elif data.get("hours") is not None:
        try:
            hours = float(data["hours"])
        except (TypeError, ValueError):
            raise InvalidInput(f"data.hours: not a number: {data['hours']!r}") from None
        if not hours > 0:
            raise InvalidInput("data.hours: must be a positive number of working hours")
        new = cal.add_working_hours(old, hours)
    else:
        raise InvalidInput("data: an extension needs deadline_at (new deadline) or hours (working hours to add)")
    if new <= old:
        raise InvalidInput(f"data.deadline_at: {new.isoformat()} is not after the current deadline {old.isoformat()}")
    return new


# -- deadlines ----------------------------------------------------------------------------------------------
def overdue_clause(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """SQL: the case is overdue at ``now`` — :meth:`Incident.overdue_clause`, the one definition."""
    return Incident.overdue_clause(now)


def escalate_overdue(
    session: Session, now: datetime, *, factor: float = 2.0, calendar: WorkCalendar | None = None
) -> list[Incident]:
    """Escalate to the subdistrict every running case overdue by ``factor`` × its allowed working time.

    A case dispatched with 4 working hours (extensions included) escalates once 8 working hours have
    passed since dispatch (factor 2). Each escalation sets ``escalated_at`` and writes an ``escalate`` event
    (no actor: the system) naming the subdistrict; a case is escalated once per clock (a new dispatch,
    extension or reopening resets it). Returns the escalated cases; flushes."""
    if not factor >= 1:
        raise InvalidInput(f"factor: must be at least 1 (got {factor})")
    cal = calendar or default_calendar()
    candidates = session.scalars(
        select(Incident)
        .where(overdue_clause(now), Incident.escalated_at.is_(None), Incident.dispatched_at.is_not(None))
        .order_by(Incident.id)
        .with_for_update(skip_locked=True, of=Incident)
    )
    escalated = []
    for incident in candidates:
        assert incident.dispatched_at is not None and incident.deadline_at is not None
        allowed = cal.working_hours_between(incident.dispatched_at, incident.deadline_at)
        threshold = cal.add_working_hours(incident.dispatched_at, factor * allowed)
        if now <= threshold:
            continue
        incident.escalated_at = now
        status = incident.status
        session.add(IncidentEvent(
            incident=incident, actor_id=None, at=now, action="escalate", from_status=status, to_status=status,
            data={"to_subdistrict": incident.subdistrict_code, "factor": factor,
                  "deadline_at": incident.deadline_at.isoformat(), "threshold": threshold.isoformat()},
        ))
        escalated.append(incident)
    session.flush()
    # Not a fact the indicators count, but the case's version moved: its facts row follows (same values).
    facts.refresh_for_ids(session, [i.id for i in escalated])
    return escalated
