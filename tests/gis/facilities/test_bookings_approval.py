"""Booking approval (gis.facilities.bookings): requested → active / declined, decided by the facility's owner;
a request holds its slot while it waits."""

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput
from gis.facilities import bookings
from gis.facilities import service as facilities
from gis.facilities.bookings import BookingConflict
from gis.models import Booking
from tests.facility_world import add_facility, add_unit, facility_spec
from tests.factories import FIRST_COMMUNITY, add_user
from tests.gis.facilities.test_bookings import NOW, at, book


def test_a_facility_that_needs_approval_takes_bookings_as_requests(db: Session) -> None:
    unit = add_unit(db)
    room = add_facility(db, unit, approval_required=True)
    assert book(db, room, at(0, 9), at(0, 10)).status == "requested"
    assert book(db, add_facility(db, unit, name="活动室"), at(0, 9), at(0, 10)).status == "active"


def test_a_waiting_request_holds_its_slot_against_a_second_community(db: Session) -> None:
    room = add_facility(db, approval_required=True)
    first = book(db, room, at(0, 9), at(0, 11))
    with pytest.raises(BookingConflict, match=rf"booking {first.id}"):
        book(db, room, at(0, 10), at(0, 12))
    cal = bookings.calendar(db, facility=room, start=at(0, 0), end=at(1, 0))
    assert [(e.booking_id, e.status) for e in cal.bookings] == [(first.id, "requested")]


def test_the_database_counts_a_request_in_the_no_overlap_guarantee(db: Session) -> None:
    room = add_facility(db)
    row = {"facility_id": room.id, "community_code": FIRST_COMMUNITY, "quantity": 1, "exclusive": True}
    db.add(Booking(starts_at=at(0, 9), ends_at=at(0, 11), status="requested", **row))
    db.flush()
    with pytest.raises(IntegrityError, match="ex_facility_booking_no_overlap"), db.begin_nested():
        db.add(Booking(starts_at=at(0, 10), ends_at=at(0, 12), status="active", **row))
        db.flush()


def test_approving_confirms_the_request_and_records_who_and_when(db: Session) -> None:
    manager = add_user(db, "unit_manager")
    request = book(db, add_facility(db, approval_required=True), at(0, 9), at(0, 10))
    bookings.approve(db, booking=request, by=manager, now=NOW)
    assert (request.status, request.decided_by, request.decided_at) == ("active", manager.id, NOW)
    with pytest.raises(Conflict, match="not waiting for approval"):
        bookings.approve(db, booking=request, now=NOW)


def test_declining_needs_a_reason_and_frees_the_slot(db: Session) -> None:
    room = add_facility(db, approval_required=True)
    request = book(db, room, at(0, 9), at(0, 10))
    with pytest.raises(InvalidInput, match="note:"):
        bookings.decline(db, booking=request, reason="  ", now=NOW)
    assert request.status == "requested"
    bookings.decline(db, booking=request, reason="当天单位自用", now=NOW)
    assert (request.status, request.decision_note) == ("declined", "当天单位自用")
    assert book(db, room, at(0, 9), at(0, 10)).status == "requested"  # the slot is free again
    with pytest.raises(Conflict, match="declined"):
        bookings.cancel(db, booking=request, now=NOW)


def test_a_request_cannot_be_decided_once_it_has_started(db: Session) -> None:
    request = book(db, add_facility(db, approval_required=True), at(0, 9), at(0, 10))
    with pytest.raises(Conflict, match="only before it starts"):
        bookings.approve(db, booking=request, now=at(0, 9, 30))


def test_the_community_may_withdraw_its_own_request(db: Session) -> None:
    request = book(db, add_facility(db, approval_required=True), at(0, 9), at(0, 10))
    bookings.cancel(db, booking=request, now=NOW)
    assert request.status == "cancelled"


def test_only_the_facility_units_managers_and_admin_decide(db: Session) -> None:
    mine, theirs = add_unit(db, "甲单位"), add_unit(db, "乙单位")
    manager = add_user(db, "unit_manager")
    facilities.add_manager(db, unit=mine, user=manager)
    own = book(db, facilities.create_facility(db, unit=mine, spec=facility_spec(approval_required=True)),
               at(0, 9), at(0, 10))
    other = book(db, facilities.create_facility(db, unit=theirs, spec=facility_spec(approval_required=True)),
                 at(0, 9), at(0, 10))
    bookings.require_can_decide(db, manager, own)
    bookings.require_can_decide(db, add_user(db, "admin"), other)
    for outsider, booking in ((manager, other), (add_user(db, "community_staff"), own)):
        with pytest.raises(Forbidden, match="may not decide"):
            bookings.require_can_decide(db, outsider, booking)
