"""The shared-facility page's parts (场所联享): a facility's week — opening windows and bookings — and booking
or cancelling from it, for unit managers and community staff (``/sharing``); the requests waiting for the unit
manager's approval, approved or declined (with a reason) from the list or the week; the approval setting.

Rendered from ``gis.facilities.bookings`` (the calendar, the booking rules and who may cancel) and asking for
the same bearer token as every part; errors are the API's JSON, shown in Chinese by ``pages.js``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import CurrentUser, SessionDep
from api.routes.page_parts import page_templates
from gis.errors import Forbidden, InvalidInput
from gis.facilities import bookings
from gis.facilities import service as facilities
from gis.incidents.work_calendar import SHANGHAI
from gis.models import AdminArea, Booking, BookingStatus, Facility, Role, Unit, User
from gis.models.facilities import FacilityType
from gis.people import permissions
from gis.people.permissions import Action

DAYS = 7  # the calendar shows a week from the day asked
LISTED = 50  # requests, or a community's bookings, listed beside the facilities
WEEKDAYS = "一二三四五六日"

router = APIRouter(prefix="/app", include_in_schema=False)


def _html(template: str, **context: Any) -> HTMLResponse:
    html = page_templates.get_template(template).render(**context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def community_names(session: Session, codes: set[str] | None = None) -> dict[str, str]:
    """Current communities' names by code (all of them when ``codes`` is None), for the page to print names."""
    query = select(AdminArea.code, AdminArea.name).where(AdminArea.level == "community", AdminArea.valid_to.is_(None))
    if codes is not None:
        query = query.where(AdminArea.code.in_(codes))
    return dict(session.execute(query.order_by(AdminArea.name).limit(5000)).tuples().all())


@router.get("/facilities", response_class=HTMLResponse)
def facility_list(session: SessionDep, user: CurrentUser) -> HTMLResponse:
    """Unit managers: the requests waiting for them, their units' facilities and pairings; community staff:
    their community's bookings to come (declined ones with the reason); everyone who may read facilities:
    every active one, those in their own community first."""
    permissions.require(user, Action.facility_read)
    return facility_list_part(session, user)


def facility_list_part(session: Session, user: User, message: str | None = None) -> HTMLResponse:
    query = select(Facility).options(selectinload(Facility.unit)).where(Facility.is_active)
    units: list[Unit] = []
    now = datetime.now(UTC)
    listed = select(Booking).options(selectinload(Booking.facility)).where(Booking.ends_at > now)
    upcoming: list[Booking] = []
    if user.role == Role.unit_manager:
        managed = facilities.managed_unit_ids(session, user)
        query = query.where(Facility.unit_id.in_(managed))
        units = list(session.scalars(select(Unit).options(selectinload(Unit.pairings))
                                     .where(Unit.id.in_(managed)).order_by(Unit.name)))
        upcoming = list(session.scalars(listed.join(Facility, Facility.id == Booking.facility_id).where(
            Facility.unit_id.in_(managed), Booking.status == BookingStatus.requested.value,
            Booking.starts_at > now).order_by(Booking.starts_at, Booking.id).limit(LISTED)))
    elif user.role == Role.community_staff and user.community_code:
        upcoming = list(session.scalars(listed.where(
            Booking.community_code == user.community_code, Booking.status != BookingStatus.cancelled.value)
            .order_by(Booking.starts_at, Booking.id).limit(LISTED)))
    rows = sorted(session.scalars(query.order_by(Facility.name).limit(200)),
                  key=lambda f: (f.community_code != user.community_code, f.name))
    paired = {p.community_code for u in units for p in u.pairings} | {b.community_code for b in upcoming}
    return _html("parts/facilities.html", facilities=[(f, to_shape(f.geom)) for f in rows], units=units,
                 upcoming=upcoming, deciding=user.role == Role.unit_manager, message=message,
                 names=community_names(session, paired), all_names=community_names(session) if units else {},
                 status_zh=_status_zh, span=_span,
                 type_zh=lambda t: FacilityType(t).label_zh if t in FacilityType.__members__ else t)


def _status_zh(status: str) -> str:
    return BookingStatus(status).label_zh if status in BookingStatus.__members__ else status


def _local(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{local:%m-%d} 周{WEEKDAYS[local.weekday()]} {local:%H:%M}"


def _span(start: datetime, end: datetime) -> str:
    """``06-03 周一 09:00–11:00``; the end's day too when it is another day."""
    lo, hi = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    return f"{_local(lo)}–{hi:%H:%M}" if hi.date() == lo.date() else f"{_local(lo)}–{_local(hi)}"


def _start(day: str | None) -> date:
    if not day:
        return datetime.now(SHANGHAI).date()
    try:
        return date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"day: not a date (YYYY-MM-DD): {day!r}") from None


@router.get("/facilities/{facility_id}/week", response_class=HTMLResponse)
def facility_week(
    facility_id: int, session: SessionDep, user: CurrentUser,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    permissions.require(user, Action.facility_read)
    facility = facilities.get_facility_or_raise(session, facility_id)
    return _week(session, user, facility, _start(day))


def _week(session: Session, user: User, facility: Facility, first: date) -> HTMLResponse:
    start = datetime.combine(first, time(0), SHANGHAI)
    cal = bookings.calendar(session, facility=facility, start=start, end=start + timedelta(days=DAYS))
    days = []
    for n in range(DAYS):
        d = first + timedelta(days=n)
        lo, hi = datetime.combine(d, time(0), SHANGHAI), datetime.combine(d + timedelta(days=1), time(0), SHANGHAI)
        days.append({
            "date": d, "label": f"{d:%m-%d} 周{WEEKDAYS[d.weekday()]}",
            "open": [s for s in cal.open if s.start < hi and s.end > lo],
            "bookings": [b for b in cal.bookings if b.starts_at < hi and b.ends_at > lo],
        })
    shown = list(session.scalars(select(Booking).where(Booking.id.in_([e.booking_id for e in cal.bookings]))))
    cancellable = {b.id for b in shown if _may(bookings.require_can_cancel, session, user, b)}
    decidable = {b.id for b in shown
                 if b.status == BookingStatus.requested.value and _may(bookings.require_can_decide, session, user, b)}
    can_book = permissions.can(user, Action.facility_book) and (user.community_code is not None
                                                                 or user.role == Role.admin)
    manages = _may_manage(session, user, facility)
    return _html("parts/week.html", facility=facility, days=days, cancellable=cancellable, can_book=can_book,
                 decidable=decidable, manages=manages, status_zh=_status_zh,
                 names=community_names(session, {e.community_code for e in cal.bookings}),
                 first=first, previous=first - timedelta(days=DAYS), next=first + timedelta(days=DAYS),
                 unit_label="个车位" if cal.capacity_unit == "spaces" else "人", open_capacity=cal.open_capacity)


def _may(check: Callable[[Session, User, Booking], None], session: Session, user: User, booking: Booking) -> bool:
    try:
        check(session, user, booking)
    except Forbidden:
        return False
    return True


def _may_manage(session: Session, user: User, facility: Facility) -> bool:
    try:
        facilities.require_manages(session, user, facility.unit_id)
    except Forbidden:
        return False
    return True


@router.post("/facilities/{facility_id}/bookings", response_class=HTMLResponse)
def book(
    facility_id: int, session: SessionDep, user: CurrentUser,
    day: Annotated[str, Form(max_length=10)],
    starts: Annotated[str, Form(pattern=r"^\d{2}:\d{2}$")],
    ends: Annotated[str, Form(pattern=r"^\d{2}:\d{2}$")],
    quantity: Annotated[int, Form(ge=1, le=10_000)] = 1,
    group_name: Annotated[str, Form(max_length=100)] = "",
    purpose: Annotated[str, Form(max_length=200)] = "",
    week: Annotated[str | None, Form(max_length=10)] = None,
) -> HTMLResponse:
    """Book from the week's form; the same week again, with the booking in it."""
    facility = facilities.get_facility_or_raise(session, facility_id)
    community = user.community_code
    if community is None:
        raise InvalidInput("community_code: required (the caller belongs to no community)")
    bookings.require_can_book(session, user, community)
    on = _start(day)
    at = {name: datetime.combine(on, time.fromisoformat(value), SHANGHAI) for name, value in
          (("starts_at", starts), ("ends_at", ends))}
    bookings.book(session, facility=facility, community_code=community, starts_at=at["starts_at"],
                  ends_at=at["ends_at"], quantity=quantity, group_name=group_name or None, purpose=purpose or None,
                  booked_by=user, now=datetime.now(UTC))
    return _week(session, user, facility, _start(week) if week else on)


@router.post("/bookings/{booking_id}/cancel", response_class=HTMLResponse)
def cancel(booking_id: int, session: SessionDep, user: CurrentUser,
           day: Annotated[str | None, Form(max_length=10)] = None) -> HTMLResponse:
    booking = bookings.get_booking_or_raise(session, booking_id)
    bookings.require_can_cancel(session, user, booking)
    bookings.cancel(session, booking=booking, by=user)
    return _week(session, user, booking.facility, _start(day))


@router.post("/bookings/{booking_id}/decision", response_class=HTMLResponse)
def decide(booking_id: int, session: SessionDep, user: CurrentUser,
           decision: Annotated[str, Form(pattern="^(approve|decline)$")],
           note: Annotated[str, Form(max_length=200)] = "",
           day: Annotated[str | None, Form(max_length=10)] = None) -> HTMLResponse:
    """Approve or decline a request (the facility's unit managers, admin). From the week (``day`` given) the
    week again; from the list of requests the list, saying what was done."""
    booking = bookings.get_booking_or_raise(session, booking_id)
    bookings.require_can_decide(session, user, booking)
    if decision == "approve":
        bookings.approve(session, booking=booking, by=user)
    else:
        bookings.decline(session, booking=booking, reason=note, by=user)
    if day:
        return _week(session, user, booking.facility, _start(day))
    said = "已批准" if decision == "approve" else "已拒绝"
    return facility_list_part(session, user, f"{said}：{booking.facility.name} {_local(booking.starts_at)}")


@router.post("/facilities/{facility_id}/approval", response_class=HTMLResponse)
def set_approval(facility_id: int, session: SessionDep, user: CurrentUser,
                 required: Annotated[str, Form(pattern="^(yes|no)$")],
                 day: Annotated[str | None, Form(max_length=10)] = None) -> HTMLResponse:
    """Turn the unit manager's approval of new bookings on or off; bookings already made keep their status."""
    facility = facilities.get_facility_or_raise(session, facility_id)
    facilities.require_manages(session, user, facility.unit_id)
    spec = facilities.facility_spec(facility)
    spec.approval_required = required == "yes"
    facilities.update_facility(session, facility, spec)
    return _week(session, user, facility, _start(day))
