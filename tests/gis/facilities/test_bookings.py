import threading
import time
from datetime import date, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, box
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput
from gis.facilities import bookings
from gis.facilities import service as facilities
from gis.facilities.bookings import BookingConflict, CapacityExceeded, OutsideOpeningHours
from gis.facilities.opening_hours import TIMEZONE
from gis.models import AdminArea, Booking, Facility, Unit
from tests.facility_world import add_facility, add_unit, facility_spec
from tests.factories import FIRST_COMMUNITY, add_user

NOW = datetime(2030, 6, 1, 12, tzinfo=TIMEZONE)  # bookings below are in the week after


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time ``day`` days after Monday 2030-06-03."""
    return datetime(2030, 6, 3, tzinfo=TIMEZONE) + timedelta(days=day, hours=hour, minutes=minute)


def book(db: Session, facility: Facility, start: datetime, end: datetime, **options: object) -> Booking:
    return bookings.book(db, facility=facility, community_code=FIRST_COMMUNITY, starts_at=start, ends_at=end,
                         now=NOW, **options)  # type: ignore[arg-type]


def count_bookings(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Booking)) or 0


def test_a_booking_inside_an_overnight_window_is_stored_active(db: Session) -> None:
    room = add_facility(db, opening_hours="Mo-Fr 18:30-07:30")
    booking = book(db, room, at(0, 19), at(1, 7), quantity=20, group_name="老年合唱团")
    assert (booking.status, booking.exclusive, booking.quantity) == ("active", True, 20)
    assert db.get(Booking, booking.id) is booking


def test_booking_outside_opening_hours_names_the_closed_moment_and_writes_nothing(db: Session) -> None:
    room = add_facility(db, opening_hours="Mo-Fr 18:30-07:30")
    with pytest.raises(OutsideOpeningHours, match=r"closed at 2030-06-04 07:30 \(周二\)"):
        book(db, room, at(0, 19), at(1, 9))
    assert count_bookings(db) == 0


def test_booking_on_a_holiday_is_outside_opening_hours(db: Session) -> None:
    room = add_facility(db, holidays=[date(2030, 6, 4)])
    with pytest.raises(OutsideOpeningHours, match="holidays"):
        book(db, room, at(1, 9), at(1, 10))


def test_overlapping_booking_of_a_room_is_refused_naming_the_taken_slot(db: Session) -> None:
    room = add_facility(db)
    first = book(db, room, at(0, 9), at(0, 11))
    with pytest.raises(BookingConflict, match=rf"already booked 2030-06-03 09:00–11:00 \(booking {first.id}\)"):
        book(db, room, at(0, 10), at(0, 12))
    assert count_bookings(db) == 1


def test_back_to_back_bookings_do_not_overlap(db: Session) -> None:
    room = add_facility(db)
    book(db, room, at(0, 9), at(0, 11))
    book(db, room, at(0, 11), at(0, 12))
    assert count_bookings(db) == 2


def test_more_people_than_the_open_capacity_is_refused(db: Session) -> None:
    room = add_facility(db, capacity=100, open_share=0.3)
    assert room.open_capacity == 30
    with pytest.raises(CapacityExceeded, match=r"quantity: 31 people asked, but .* opens only 30 of its 100"):
        book(db, room, at(0, 9), at(0, 10), quantity=31)
    assert count_bookings(db) == 0


def test_parking_bookings_share_spaces_until_the_open_capacity_is_used_up(db: Session) -> None:
    lot = add_facility(db, name="停车场", type="parking_lot", capacity=100, open_share=0.3)
    book(db, lot, at(0, 18), at(0, 22), quantity=20)
    book(db, lot, at(0, 20), at(0, 23), quantity=10)  # 30 at once from 20:00 to 22:00: full
    book(db, lot, at(0, 22), at(0, 23), quantity=10)  # 20 at once from 22:00
    with pytest.raises(BookingConflict, match=r"only 0 of 30 open spaces .* free 2030-06-03 21:00–21:30"):
        book(db, lot, at(0, 21), at(0, 21, 30), quantity=1)
    assert count_bookings(db) == 3


def test_a_cancelled_booking_frees_its_slot_and_cannot_be_cancelled_twice(db: Session) -> None:
    room = add_facility(db)
    first = book(db, room, at(0, 9), at(0, 11))
    bookings.cancel(db, booking=first, now=NOW)
    assert first.status == "cancelled" and first.cancelled_at is not None
    book(db, room, at(0, 9), at(0, 11))
    with pytest.raises(Conflict, match="cancelled already"):
        bookings.cancel(db, booking=first, now=NOW)


@pytest.mark.parametrize(("start", "end", "options", "field"), [
    (at(0, 11), at(0, 9), {}, "ends_at"),
    (datetime(2030, 5, 1, 9, tzinfo=TIMEZONE), datetime(2030, 5, 1, 10, tzinfo=TIMEZONE), {}, "starts_at"),
    (at(0, 9), at(0, 10), {"quantity": 0}, "quantity"),
    (at(0, 9), at(40, 10), {}, "ends_at"),
])
def test_malformed_requests_are_refused_naming_the_field(db: Session, start: datetime, end: datetime,
                                                         options: dict[str, int], field: str) -> None:
    room = add_facility(db)
    with pytest.raises(InvalidInput, match=f"^{field}:"):
        book(db, room, start, end, **options)
    assert count_bookings(db) == 0


def test_booking_for_an_unknown_community_is_refused(db: Session) -> None:
    room = add_facility(db)
    with pytest.raises(InvalidInput, match="community_code: '433101999999'"):
        bookings.book(db, facility=room, community_code="433101999999", starts_at=at(0, 9), ends_at=at(0, 10),
                      now=NOW)


def test_the_database_refuses_overlapping_exclusive_bookings_even_without_the_lock(db: Session) -> None:
    room = add_facility(db)
    row = {"facility_id": room.id, "community_code": FIRST_COMMUNITY, "quantity": 1, "exclusive": True,
           "status": "active"}
    db.add(Booking(starts_at=at(0, 9), ends_at=at(0, 11), **row))
    db.flush()
    with pytest.raises(IntegrityError, match="ex_facility_booking_no_overlap"), db.begin_nested():
        db.add(Booking(starts_at=at(0, 10), ends_at=at(0, 12), **row))
        db.flush()


def test_calendar_lists_open_windows_and_active_bookings_only(db: Session) -> None:
    room = add_facility(db, opening_hours="Mo-Fr 18:00-21:00")
    kept = book(db, room, at(0, 18), at(0, 19), group_name="舞蹈队")
    bookings.cancel(db, booking=book(db, room, at(1, 18), at(1, 19)), now=NOW)
    cal = bookings.calendar(db, facility=room, start=at(0, 0), end=at(2, 0))
    assert [(str(s)) for s in cal.open] == ["2030-06-03 18:00–21:00", "2030-06-04 18:00–21:00"]
    assert [e.booking_id for e in cal.bookings] == [kept.id]
    assert cal.bookings[0].group_name == "舞蹈队"


def test_community_staff_book_only_for_their_own_community(db: Session) -> None:
    staff = add_user(db, "community_staff")
    bookings.require_can_book(db, staff, FIRST_COMMUNITY)
    with pytest.raises(Forbidden):
        bookings.require_can_book(db, staff, "433101005001")
    with pytest.raises(Forbidden):
        bookings.require_can_book(db, add_user(db, "planner"), FIRST_COMMUNITY)


def test_a_unit_manager_may_cancel_bookings_of_their_own_units_facilities_only(db: Session) -> None:
    mine, theirs = add_unit(db, "甲单位"), add_unit(db, "乙单位")
    manager = add_user(db, "unit_manager")
    facilities.add_manager(db, unit=mine, user=manager)
    booking = book(db, facilities.create_facility(db, unit=mine, spec=facility_spec()), at(0, 9), at(0, 10))
    other = book(db, facilities.create_facility(db, unit=theirs, spec=facility_spec()), at(0, 9), at(0, 10))
    bookings.require_can_cancel(db, manager, booking)
    with pytest.raises(Forbidden, match="may not cancel"):
        bookings.require_can_cancel(db, manager, other)


# -- concurrency, on the real database with committed rows -------------------------------------------

CONCURRENT_COMMUNITY = "433101999001"


@pytest.fixture
def committed_world(engine: Engine):
    """A community, a unit, a room and a parking lot committed for real; removed afterwards."""
    with Session(engine) as session:
        session.add(AdminArea(code=CONCURRENT_COMMUNITY, name="并发测试社区", level="community",
                              parent_code="433101999000",
                              geom=from_shape(MultiPolygon([box(111.0, 29.0, 111.01, 29.01)]), 4326)))
        session.flush()
        unit = facilities.create_unit(session, facilities.UnitSpec(name="并发测试单位", kind="enterprise"))
        room = facilities.create_facility(session, unit=unit, spec=facility_spec("并发会议室", at=(111.005, 29.005)))
        lot = facilities.create_facility(session, unit=unit, spec=facility_spec(
            "并发停车场", type="parking_lot", capacity=10, at=(111.006, 29.006)))
        session.commit()
        ids = {"unit": unit.id, "room": room.id, "lot": lot.id}
    try:
        yield ids
    finally:
        with Session(engine) as session:
            session.execute(delete(Booking).where(Booking.facility_id.in_([ids["room"], ids["lot"]])))
            session.execute(delete(Facility).where(Facility.unit_id == ids["unit"]))
            session.execute(delete(Unit).where(Unit.id == ids["unit"]))
            session.execute(delete(AdminArea).where(AdminArea.code == CONCURRENT_COMMUNITY))
            session.commit()


def _race(engine: Engine, facility_id: int, quantity: int) -> list[str]:
    """Two threads, each with its own session, book the same slot at the same moment."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        with Session(engine) as session:
            facility = session.get_one(Facility, facility_id)
            barrier.wait()
            try:
                bookings.book(session, facility=facility, community_code=CONCURRENT_COMMUNITY,
                              starts_at=at(0, 9), ends_at=at(0, 10), quantity=quantity, now=NOW)
                time.sleep(0.3)  # hold the lock: the other thread is now waiting on it
                session.commit()
                outcomes.append("booked")
            except BookingConflict:
                session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def test_two_concurrent_bookings_of_the_same_room_slot_exactly_one_wins(engine: Engine, committed_world) -> None:
    assert _race(engine, committed_world["room"], quantity=5) == ["booked", "conflict"]
    with Session(engine) as session:
        stored = session.scalar(select(func.count()).where(Booking.facility_id == committed_world["room"]))
    assert stored == 1


def test_two_concurrent_parking_bookings_that_together_overflow_exactly_one_wins(
        engine: Engine, committed_world) -> None:
    assert _race(engine, committed_world["lot"], quantity=6) == ["booked", "conflict"]  # 6 + 6 > 10 spaces
