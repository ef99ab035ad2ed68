"""Booking shared facilities: checks against opening windows and capacity, conflicts, cancellation, calendar.

Concurrency. Two people booking the same slot at once must not both win. Every booking of a facility
first takes a row lock on the facility (``SELECT … FOR UPDATE``), so bookings of one facility run one at a
time; the second waits, then (READ COMMITTED: each statement sees what committed before it) finds the
first's booking and is refused with the slot named. The lock serves both kinds of facility:

* rooms, courts, halls (capacity in people) are held **exclusively** by one booking; the exclusion
  constraint ``ex_facility_booking_no_overlap`` (btree_gist) also guarantees it inside the database,
  should any writer skip the lock;
* parking lots (capacity in spaces) are **pooled**: bookings overlap freely while the spaces they take at
  any moment stay within the open capacity. A sum cannot be a constraint, so here the lock is the guarantee.

Bookings of different facilities never wait for each other. Times are timezone-aware; naive datetimes
are read as local time (Asia/Shanghai). Services flush; the caller commits.

Approval. A facility with ``approval_required`` takes bookings as ``requested``; a manager of its unit (or an
admin) approves them (``active``) or declines them with a reason (``declined``). A request holds its slot from
the moment it is made, exactly as a confirmed booking does (``HOLDING_STATUSES``): whoever asks first holds
the time, a second community sees it taken, and declining (or cancelling) frees it. A request can be decided
until its start; after that it is past and stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import errors as pg_errors
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.facilities import opening_hours
from gis.facilities.opening_hours import MAX_BOOKING, as_local
from gis.facilities.service import managed_unit_ids, require_community, schedule_of
from gis.models import Booking, BookingStatus, CapacityUnit, Facility, Role, User
from gis.models.facilities import HOLDING_STATUSES
from gis.people.permissions import Action, require, require_jurisdiction

MAX_CALENDAR = timedelta(days=92)
PAST_GRACE = timedelta(minutes=5)  # a booking made "now" may start a moment ago


class OutsideOpeningHours(InvalidInput):
    """The requested time is not (wholly) inside the facility's opening windows."""


class CapacityExceeded(InvalidInput):
    """More people or spaces than the facility opens, whatever else is booked."""


class BookingConflict(Conflict):
    """The slot is taken: by an exclusive booking, or the pooled spaces are used up."""


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    def __str__(self) -> str:
        lo, hi = as_local(self.start), as_local(self.end)
        tail = hi.strftime("%H:%M") if hi.date() == lo.date() else hi.strftime("%Y-%m-%d %H:%M")
        return f"{lo:%Y-%m-%d %H:%M}–{tail}"


def book(
    session: Session,
    *,
    facility: Facility,
    community_code: str,
    starts_at: datetime,
    ends_at: datetime,
    quantity: int = 1,
    group_name: str | None = None,
    purpose: str | None = None,
    booked_by: User | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book ``quantity`` people (rooms) or spaces (parking) of ``facility`` for [starts_at, ends_at).

    The booking is ``requested`` when the facility requires approval, ``active`` otherwise; either holds the slot.
    Raises InvalidInput for a malformed request (end before start, in the past, unknown community),
    OutsideOpeningHours naming the first closed moment, CapacityExceeded when ``quantity`` is above the open
    capacity, and BookingConflict naming the taken slot. Nothing is written when it raises.
    """
    starts_at, ends_at = as_local(starts_at, "starts_at"), as_local(ends_at, "ends_at")
    now = as_local(now or datetime.now(UTC))
    if ends_at <= starts_at:
        raise InvalidInput(f"ends_at: {ends_at:%Y-%m-%d %H:%M} must be after starts_at {starts_at:%Y-%m-%d %H:%M}")
    if ends_at - starts_at > MAX_BOOKING:
        raise InvalidInput(f"ends_at: a booking may last at most {MAX_BOOKING.days} days")
    if starts_at < now - PAST_GRACE:
        raise InvalidInput(f"starts_at: {starts_at:%Y-%m-%d %H:%M} is in the past")
    if quantity < 1:
        raise InvalidInput("quantity: must be at least 1 (people, or parking spaces)")
    require_community(session, community_code)

    # The lock that serialises bookings of this facility (see the module docstring).
    locked = session.execute(
        select(Facility).where(Facility.id == facility.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if not locked.is_active:
        raise Conflict(f"facility {locked.name!r} is not open to bookings at present")
    slot = Slot(starts_at, ends_at)
    closed = schedule_of(locked).first_closed_moment(starts_at, ends_at, locked.holidays or ())
    if closed is not None:
        raise OutsideOpeningHours(
            f"starts_at/ends_at: {locked.name!r} is closed at {closed:%Y-%m-%d %H:%M} ({_weekday(closed)}), "
            f"inside the requested {slot}; it opens {locked.opening_hours}"
            + (" and is closed on its holidays" if locked.holidays else ""))
    unit = CapacityUnit(locked.capacity_unit)
    if quantity > locked.open_capacity:
        raise CapacityExceeded(f"quantity: {quantity} {unit.value} asked, but {locked.name!r} opens only "
                               f"{locked.open_capacity} of its {locked.capacity} {unit.value}")

    exclusive = unit is CapacityUnit.people
    others = holding_bookings(session, facility_id=locked.id, start=starts_at, end=ends_at)
    if exclusive and others:
        first = others[0]
        raise BookingConflict(f"slot: {locked.name!r} is already booked {Slot(first.starts_at, first.ends_at)} "
                              f"(booking {first.id}), which overlaps the requested {slot}")
    if not exclusive:
        peak, peak_slot = _peak_use(others, starts_at, ends_at)
        if peak + quantity > locked.open_capacity:
            free = locked.open_capacity - peak
            raise BookingConflict(f"slot: only {free} of {locked.open_capacity} open spaces of {locked.name!r} are "
                                  f"free {peak_slot}; {quantity} asked for {slot}")

    booking = Booking(
        facility_id=locked.id, community_code=community_code, group_name=group_name, purpose=purpose,
        starts_at=starts_at, ends_at=ends_at, quantity=quantity, exclusive=exclusive,
        status=(BookingStatus.requested if locked.approval_required else BookingStatus.active).value,
        booked_by=booked_by.id if booked_by else None,
    )
    try:
        with session.begin_nested():
            session.add(booking)
            session.flush()
    except IntegrityError as exc:  # a writer that skipped the lock got there first
        if isinstance(exc.orig, pg_errors.ExclusionViolation):
            raise BookingConflict(f"slot: {locked.name!r} is already booked during {slot}") from None
        raise
    return booking


def cancel(session: Session, *, booking: Booking, by: User | None = None, now: datetime | None = None) -> Booking:
    """Cancel a requested or active booking that has not ended; Conflict otherwise. Frees its slot at once."""
    now = as_local(now or datetime.now(UTC))
    if booking.status not in HOLDING_STATUSES:
        raise Conflict(f"booking {booking.id} is {booking.status} already")
    if as_local(booking.ends_at) <= now:
        raise Conflict(f"booking {booking.id} ended at {as_local(booking.ends_at):%Y-%m-%d %H:%M}; "
                       "a past booking cannot be cancelled")
    booking.status = BookingStatus.cancelled.value
    booking.cancelled_at = now
    booking.cancelled_by = by.id if by else None
    session.flush()
    return booking


def approve(session: Session, *, booking: Booking, by: User | None = None, now: datetime | None = None) -> Booking:
    """Confirm a requested booking (its slot was held since the request). Conflict when it is not waiting or has
    already started."""
    _require_undecided(booking, now)
    booking.status = BookingStatus.active.value
    _decided(booking, by, now, None)
    session.flush()
    return booking


def decline(session: Session, *, booking: Booking, reason: str, by: User | None = None,
            now: datetime | None = None) -> Booking:
    """Refuse a requested booking, saying why (the community reads it); frees its slot at once."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("note: say why the request is declined; the community reads it")
    if len(reason) > 200:
        raise InvalidInput("note: at most 200 characters")
    _require_undecided(booking, now)
    booking.status = BookingStatus.declined.value
    _decided(booking, by, now, reason)
    session.flush()
    return booking


def _require_undecided(booking: Booking, now: datetime | None) -> None:
    if booking.status != BookingStatus.requested.value:
        raise Conflict(f"booking {booking.id} is {booking.status}, not waiting for approval")
    if as_local(booking.starts_at) <= as_local(now or datetime.now(UTC)):
        raise Conflict(f"booking {booking.id} started at {as_local(booking.starts_at):%Y-%m-%d %H:%M}; "
                       "a request can be decided only before it starts")


def _decided(booking: Booking, by: User | None, now: datetime | None, note: str | None) -> None:
    booking.decided_at = as_local(now or datetime.now(UTC))
    booking.decided_by = by.id if by else None
    booking.decision_note = note


def get_booking_or_raise(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def holding_bookings(session: Session, *, facility_id: int, start: datetime, end: datetime) -> list[Booking]:
    """Bookings of a facility that hold their slot (requested or active) and overlap [start, end), earliest
    first."""
    return list(session.execute(
        select(Booking).where(Booking.facility_id == facility_id, Booking.status.in_(HOLDING_STATUSES),
                              Booking.starts_at < end, Booking.ends_at > start)
        .order_by(Booking.starts_at, Booking.id)
    ).scalars())


def _peak_use(bookings: list[Booking], start: datetime, end: datetime) -> tuple[int, Slot]:
    """The most spaces in use at once within [start, end), and the first slot where that peak holds."""
    events: list[tuple[datetime, int]] = []
    for b in bookings:
        events += [(max(b.starts_at, start), b.quantity), (min(b.ends_at, end), -b.quantity)]
    events.sort(key=lambda e: (e[0], e[1]))  # at equal times, ends (negative) before starts
    peak, used, peak_slot = 0, 0, Slot(start, end)
    for i, (moment, delta) in enumerate(events):
        used += delta
        if used > peak:
            following = next((m for m, _ in events[i + 1:] if m > moment), end)
            peak, peak_slot = used, Slot(moment, following)
    return peak, peak_slot


def _weekday(moment: datetime) -> str:
    return "周" + "一二三四五六日"[moment.weekday()]


# -- the calendar of one facility --------------------------------------------------------------------

@dataclass(frozen=True)
class CalendarEntry:
    booking_id: int
    community_code: str
    group_name: str | None
    starts_at: datetime
    ends_at: datetime
    quantity: int
    status: str  # requested or active


@dataclass(frozen=True)
class Calendar:
    """What a facility offers in a period: its open windows (holidays cut out) and the bookings holding
    slots (requested or active)."""

    facility_id: int
    start: datetime
    end: datetime
    open_capacity: int
    capacity_unit: str
    exclusive: bool
    open: list[Slot]
    bookings: list[CalendarEntry]


def calendar(session: Session, *, facility: Facility, start: datetime, end: datetime) -> Calendar:
    """Open windows and holding bookings of ``facility`` in [start, end) (at most 92 days); no personal data."""
    start, end = as_local(start, "start"), as_local(end, "end")
    if end <= start:
        raise InvalidInput("end: must be after start")
    if end - start > MAX_CALENDAR:
        raise InvalidInput(f"end: a calendar covers at most {MAX_CALENDAR.days} days; ask for a shorter period")
    schedule = opening_hours.parse(facility.opening_hours)
    windows = [Slot(lo, hi) for lo, hi in schedule.open_intervals(start, end, facility.holidays or ())]
    entries = [CalendarEntry(b.id, b.community_code, b.group_name, as_local(b.starts_at), as_local(b.ends_at),
                             b.quantity, b.status)
               for b in holding_bookings(session, facility_id=facility.id, start=start, end=end)]
    return Calendar(facility.id, start, end, facility.open_capacity, facility.capacity_unit,
                    facility.capacity_unit == CapacityUnit.people.value, windows, entries)


# -- who may book, cancel and decide -------------------------------------------------------------------------

def require_can_book(session: Session, user: User, community_code: str) -> None:
    """Community staff book for their own community; admin for any. Forbidden otherwise."""
    require(user, Action.facility_book)
    require_jurisdiction(session, user, community_code)


def require_can_cancel(session: Session, user: User, booking: Booking) -> None:
    """The booking community's staff, the facility's unit managers, and admin may cancel a booking."""
    if user.role == Role.admin.value:
        return
    if user.role == Role.community_staff.value and user.community_code == booking.community_code:
        require(user, Action.facility_book)
        return
    if user.role == Role.unit_manager.value and booking.facility.unit_id in managed_unit_ids(session, user):
        require(user, Action.facility_manage)
        return
    raise Forbidden(f"user {user.username} may not cancel booking {booking.id} "
                    "(only its community's staff, the facility's unit managers, or an admin)")


def require_can_decide(session: Session, user: User, booking: Booking) -> None:
    """Approving and declining belong to the facility's owner: its unit's managers, and admin."""
    if user.role == Role.admin.value:
        return
    if user.role == Role.unit_manager.value and booking.facility.unit_id in managed_unit_ids(session, user):
        require(user, Action.facility_manage)
        return
    raise Forbidden(f"user {user.username} may not decide booking {booking.id} "
                    "(only the facility's unit managers, or an admin)")
