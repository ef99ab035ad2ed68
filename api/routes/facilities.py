"""Shared facilities over HTTP: units and their pairings, facilities, bookings and each facility's calendar.

Roles, as for incidents, come from ``gis.people.permissions``: unit managers manage their own units' facilities
and the bookings of those facilities (approving or declining the requests of facilities that need approval);
community staff book for their own community and cancel its
bookings; everyone who is logged in (planners included) reads facilities and calendars. Admins do all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from geoalchemy2.shape import to_shape
from shapely.errors import ShapelyError
from shapely.geometry import mapping, shape
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import CurrentUser, Id, IdQuery, PageDep, SessionDep, forbid_extra_query, require
from api.schemas.common import Moment
from api.schemas.facilities import (
    BookingCreate,
    BookingDecline,
    BookingRead,
    CalendarBooking,
    CalendarRead,
    FacilityCreate,
    FacilityRead,
    FacilityUpdate,
    ManagerAdd,
    PairingRead,
    PairingWrite,
    SlotRead,
    UnitCreate,
    UnitRead,
)
from gis.errors import InvalidInput, NotFound
from gis.facilities import bookings
from gis.facilities import service as facilities
from gis.facilities.service import FacilitySpec, UnitSpec
from gis.models import Booking, BookingStatus, Facility, Role, Unit, UnitPairing, User
from gis.models.facilities import HOLDING_STATUSES
from gis.people.permissions import Action

router = APIRouter(prefix="/api/v1", tags=["facilities"], dependencies=[Depends(forbid_extra_query)])

Reader = Annotated[User, require(Action.facility_read)]
Admin = Annotated[User, require(Action.admin_users)]


# -- conversions -------------------------------------------------------------------------------------

def unit_read(unit: Unit) -> UnitRead:
    point = to_shape(unit.geom) if unit.geom is not None else None
    return UnitRead(id=unit.id, name=unit.name, kind=unit.kind, credit_code=unit.credit_code, address=unit.address,
                    lon=point.x if point else None, lat=point.y if point else None,
                    pairings=[PairingRead(community_code=p.community_code, since=p.since, commitment=p.commitment)
                              for p in sorted(unit.pairings, key=lambda p: p.community_code)])


def facility_read(facility: Facility) -> FacilityRead:
    point = to_shape(facility.geom)
    return FacilityRead(
        id=facility.id, unit_id=facility.unit_id, unit_name=facility.unit.name, name=facility.name,
        type=facility.type, community_code=facility.community_code, address=facility.address, lon=point.x,
        lat=point.y, footprint=mapping(to_shape(facility.footprint)) if facility.footprint is not None else None,
        capacity=facility.capacity, capacity_unit=facility.capacity_unit, open_share=float(facility.open_share),
        open_capacity=facility.open_capacity, opening_hours=facility.opening_hours,
        open_hours_week=facility.open_hours_week, holidays=list(facility.holidays or []),
        booking_required=facility.booking_required, approval_required=facility.approval_required,
        rules=facility.rules, photos=list(facility.photos or []),
        is_active=facility.is_active)


def booking_read(booking: Booking) -> BookingRead:
    return BookingRead(id=booking.id, facility_id=booking.facility_id, community_code=booking.community_code,
                       group_name=booking.group_name, purpose=booking.purpose, starts_at=booking.starts_at,
                       ends_at=booking.ends_at, quantity=booking.quantity, status=booking.status,
                       created_at=booking.created_at, cancelled_at=booking.cancelled_at,
                       decided_at=booking.decided_at, decision_note=booking.decision_note)


def _footprint(value: dict[str, Any] | None) -> Any:
    if value is None:
        return None
    try:
        return shape(value)
    except (KeyError, TypeError, ValueError, AttributeError, ShapelyError):
        raise InvalidInput("footprint: not a GeoJSON geometry; give {\"type\": \"Polygon\", \"coordinates\": …}") \
            from None


def _spec(body: FacilityCreate) -> FacilitySpec:
    return FacilitySpec(
        name=body.name, type=body.type.value, lon=body.lon, lat=body.lat, capacity=body.capacity,
        opening_hours=body.opening_hours, open_share=body.open_share, holidays=body.holidays,
        booking_required=body.booking_required, approval_required=body.approval_required, rules=body.rules,
        photos=body.photos,
        footprint=_footprint(body.footprint), address=body.address)


def _load_unit(session: Session, unit_id: int) -> Unit:
    return facilities.get_unit_or_raise(session, unit_id)


# -- units and pairings ------------------------------------------------------------------------------

@router.get("/units", operation_id="list_units", summary="Units that share facilities, with their pairings")
def list_units(session: SessionDep, user: Reader, page: PageDep,
               community_code: Annotated[str | None, Query(max_length=12, description="only units paired with it")]
               = None,
               ) -> list[UnitRead]:
    stmt = select(Unit).options(selectinload(Unit.pairings)).order_by(Unit.name, Unit.id)
    if community_code:
        stmt = stmt.where(Unit.pairings.any(UnitPairing.community_code == community_code))
    return [unit_read(u) for u in session.scalars(stmt.limit(page.limit).offset(page.offset))]


@router.post("/units", operation_id="create_unit", status_code=status.HTTP_201_CREATED,
             summary="Add a unit (admin)")
def create_unit(session: SessionDep, user: Admin, body: UnitCreate) -> UnitRead:
    unit = facilities.create_unit(session, UnitSpec(**body.model_dump() | {"kind": body.kind.value}))
    session.refresh(unit, ["pairings"])
    return unit_read(unit)


@router.post("/units/{unit_id}/managers", operation_id="add_unit_manager", status_code=status.HTTP_204_NO_CONTENT,
             summary="Let a unit_manager user manage the unit (admin)")
def add_manager(session: SessionDep, user: Admin, unit_id: Id, body: ManagerAdd) -> None:
    manager = session.get(User, body.user_id)
    if manager is None:
        raise NotFound(f"no user {body.user_id}")
    facilities.add_manager(session, unit=_load_unit(session, unit_id), user=manager)


@router.put("/units/{unit_id}/pairings/{community_code}", operation_id="pair_unit",
            summary="Pair the unit with a community (结对共建), or update the pairing")
def pair(session: SessionDep, user: CurrentUser, unit_id: Id, community_code: str, body: PairingWrite) -> UnitRead:
    unit = _load_unit(session, unit_id)
    facilities.require_manages(session, user, unit.id)
    facilities.pair(session, unit=unit, community_code=community_code, since=body.since, commitment=body.commitment)
    session.refresh(unit, ["pairings"])
    return unit_read(unit)


@router.delete("/units/{unit_id}/pairings/{community_code}", operation_id="unpair_unit",
               status_code=status.HTTP_204_NO_CONTENT, summary="End a pairing")
def unpair(session: SessionDep, user: CurrentUser, unit_id: Id, community_code: str) -> None:
    unit = _load_unit(session, unit_id)
    facilities.require_manages(session, user, unit.id)
    facilities.unpair(session, unit=unit, community_code=community_code)


# -- facilities --------------------------------------------------------------------------------------

@router.get("/facilities", operation_id="list_facilities", summary="Shared facilities, filtered")
def list_facilities(
    session: SessionDep,
    user: Reader,
    page: PageDep,
    community_code: Annotated[str | None, Query(description="facilities inside this community")] = None,
    type: Annotated[str | None, Query(description="meeting_room, parking_lot, …")] = None,
    unit_id: IdQuery = None,
    include_inactive: bool = False,
) -> list[FacilityRead]:
    stmt = select(Facility).options(selectinload(Facility.unit)).order_by(Facility.community_code, Facility.name,
                                                                          Facility.id)
    if community_code:
        stmt = stmt.where(Facility.community_code == community_code)
    if type:
        stmt = stmt.where(Facility.type == type)
    if unit_id is not None:
        stmt = stmt.where(Facility.unit_id == unit_id)
    if not include_inactive:
        stmt = stmt.where(Facility.is_active)
    return [facility_read(f) for f in session.scalars(stmt.limit(page.limit).offset(page.offset))]


@router.post("/units/{unit_id}/facilities", operation_id="create_facility", status_code=status.HTTP_201_CREATED,
             summary="Add a facility of a unit the caller manages")
def create_facility(session: SessionDep, user: CurrentUser, unit_id: Id, body: FacilityCreate) -> FacilityRead:
    unit = _load_unit(session, unit_id)
    facilities.require_manages(session, user, unit.id)
    return facility_read(facilities.create_facility(session, unit=unit, spec=_spec(body)))


@router.get("/facilities/{facility_id}", operation_id="get_facility", summary="One facility")
def get_facility(session: SessionDep, user: Reader, facility_id: Id) -> FacilityRead:
    return facility_read(facilities.get_facility_or_raise(session, facility_id))


@router.patch("/facilities/{facility_id}", operation_id="update_facility",
              summary="Change a facility of a unit the caller manages (only the fields given)")
def update_facility(session: SessionDep, user: CurrentUser, facility_id: Id, body: FacilityUpdate) -> FacilityRead:
    facility = facilities.get_facility_or_raise(session, facility_id)
    facilities.require_manages(session, user, facility.unit_id)
    changes = body.model_dump(exclude_unset=True)
    if "type" in changes and changes["type"] is not None:
        changes["type"] = changes["type"].value
    if "footprint" in changes:
        changes["footprint"] = _footprint(changes["footprint"])
    for required in ("name", "type", "lon", "lat", "capacity", "open_share", "opening_hours", "holidays",
                     "booking_required", "approval_required", "photos", "is_active"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required}: may be changed but not removed")
    spec = replace(facilities.facility_spec(facility), **changes)
    return facility_read(facilities.update_facility(session, facility, spec))


@router.get("/facilities/{facility_id}/calendar", operation_id="facility_calendar",
            summary="Open windows and holding (requested or active) bookings of a facility in a period "
                    "(at most 92 days)")
def calendar(session: SessionDep, user: Reader, facility_id: Id, start: Moment, end: Moment) -> CalendarRead:
    facility = facilities.get_facility_or_raise(session, facility_id)
    cal = bookings.calendar(session, facility=facility, start=start, end=end)
    return CalendarRead(
        facility_id=cal.facility_id, start=cal.start, end=cal.end, open_capacity=cal.open_capacity,
        capacity_unit=cal.capacity_unit, exclusive=cal.exclusive,
        open=[SlotRead(start=s.start, end=s.end) for s in cal.open],
        bookings=[CalendarBooking(**vars(e)) for e in cal.bookings])


# -- bookings ----------------------------------------------------------------------------------------

@router.post("/facilities/{facility_id}/bookings", operation_id="book_facility",
             status_code=status.HTTP_201_CREATED,
             summary="Book a facility for a community (requested when it needs approval); 409 names the taken "
                     "slot, 422 the closed moment")
def book(session: SessionDep, user: CurrentUser, facility_id: Id, body: BookingCreate) -> BookingRead:
    facility = facilities.get_facility_or_raise(session, facility_id)
    community = body.community_code or user.community_code
    if community is None:
        raise InvalidInput("community_code: required (the caller belongs to no community)")
    bookings.require_can_book(session, user, community)
    booking = bookings.book(session, facility=facility, community_code=community, starts_at=body.starts_at,
                            ends_at=body.ends_at, quantity=body.quantity, group_name=body.group_name,
                            purpose=body.purpose, booked_by=user)
    session.refresh(booking, ["created_at"])
    return booking_read(booking)


@router.get("/facilities/{facility_id}/bookings", operation_id="list_facility_bookings",
            summary="Bookings of a facility (its unit's managers, admin)")
def facility_bookings(session: SessionDep, user: CurrentUser, facility_id: Id, page: PageDep,
                      include_cancelled: bool = False) -> list[BookingRead]:
    facility = facilities.get_facility_or_raise(session, facility_id)
    facilities.require_manages(session, user, facility.unit_id)
    stmt = select(Booking).where(Booking.facility_id == facility.id).order_by(Booking.starts_at, Booking.id)
    if not include_cancelled:
        stmt = stmt.where(Booking.status.in_(HOLDING_STATUSES))
    return [booking_read(b) for b in session.scalars(stmt.limit(page.limit).offset(page.offset))]


@router.get("/bookings", operation_id="list_my_bookings",
            summary="Bookings the caller answers for: their community's (staff) or their units' (managers)")
def my_bookings(session: SessionDep, user: CurrentUser, page: PageDep,
                include_cancelled: Annotated[bool, Query(description="also cancelled and declined")] = False,
                status: Annotated[BookingStatus | None, Query(description="only this status, e.g. requested")]
                = None) -> list[BookingRead]:
    stmt = select(Booking).order_by(Booking.starts_at, Booking.id)
    if user.role == Role.community_staff.value:
        stmt = stmt.where(Booking.community_code == user.community_code)
    elif user.role == Role.unit_manager.value:
        units = facilities.managed_unit_ids(session, user)
        stmt = stmt.join(Facility, Facility.id == Booking.facility_id).where(Facility.unit_id.in_(units))
    elif user.role != Role.admin.value:
        stmt = stmt.where(Booking.booked_by == user.id)
    if status is not None:
        stmt = stmt.where(Booking.status == status.value)
    elif not include_cancelled:
        stmt = stmt.where(Booking.status.in_(HOLDING_STATUSES))
    return [booking_read(b) for b in session.scalars(stmt.limit(page.limit).offset(page.offset))]


@router.post("/bookings/{booking_id}/cancel", operation_id="cancel_booking",
             summary="Cancel a booking (its community's staff, the facility's unit managers, admin)")
def cancel(session: SessionDep, user: CurrentUser, booking_id: Id) -> BookingRead:
    booking = bookings.get_booking_or_raise(session, booking_id)
    bookings.require_can_cancel(session, user, booking)
    return booking_read(bookings.cancel(session, booking=booking, by=user))


@router.post("/bookings/{booking_id}/approve", operation_id="approve_booking",
             summary="Approve a requested booking (the facility's unit managers, admin)")
def approve(session: SessionDep, user: CurrentUser, booking_id: Id) -> BookingRead:
    booking = bookings.get_booking_or_raise(session, booking_id)
    bookings.require_can_decide(session, user, booking)
    return booking_read(bookings.approve(session, booking=booking, by=user))


@router.post("/bookings/{booking_id}/decline", operation_id="decline_booking",
             summary="Decline a requested booking with a reason; frees its slot (the facility's unit managers, admin)")
def decline(session: SessionDep, user: CurrentUser, booking_id: Id, body: BookingDecline) -> BookingRead:
    booking = bookings.get_booking_or_raise(session, booking_id)
    bookings.require_can_decide(session, user, booking)
    return booking_read(bookings.decline(session, booking=booking, reason=body.note, by=user))
