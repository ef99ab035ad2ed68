from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gis.errors import InvalidInput
from gis.incidents.work_calendar import SHANGHAI, WorkCalendar, add_working_hours, default_calendar, read_holidays
from gis.settings import Settings

PLAIN = WorkCalendar()  # office hours, no holidays


def at(day: str, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm), SHANGHAI)


@pytest.mark.parametrize(("start", "hours", "due"), [
    (at("2026-03-02", 9), 2, at("2026-03-02", 11)),  # Monday morning, inside the period
    (at("2026-03-02", 11), 2, at("2026-03-02", 15, 30)),  # lunch (12:00–14:30) does not count
    (at("2026-03-02", 17), 2, at("2026-03-03", 10)),  # evening: 30 min today, 1.5 h tomorrow
    (at("2026-03-06", 17), 2, at("2026-03-09", 10)),  # Friday evening → Monday
    (at("2026-03-07", 10), 1, at("2026-03-09", 9, 30)),  # Saturday start counts from Monday 08:30
    (at("2026-03-02", 7), 0, at("2026-03-02", 8, 30)),  # zero hours before work: the opening moment
    (at("2026-03-02", 8, 30), 6.5, at("2026-03-02", 17, 30)),  # a full day ends at 17:30, not next morning
    (at("2026-03-02", 8, 30), 13, at("2026-03-03", 17, 30)),
])
def test_working_hours_skip_lunch_nights_and_weekends(start, hours, due) -> None:
    assert PLAIN.add_working_hours(start, hours) == due


def test_a_start_in_utc_is_counted_in_beijing_time() -> None:
    utc = datetime.fromisoformat("2026-03-02T01:00:00+00:00")  # 09:00 in Beijing
    assert PLAIN.add_working_hours(utc, 1) == at("2026-03-02", 10)


def test_holidays_are_skipped_and_make_up_saturdays_are_worked() -> None:
    calendar = WorkCalendar(holidays=frozenset({date(2026, 3, 3)}), workdays=frozenset({date(2026, 3, 7)}))
    assert calendar.add_working_hours(at("2026-03-02", 17), 1) == at("2026-03-04", 9)  # Tuesday off
    assert calendar.add_working_hours(at("2026-03-06", 17), 1) == at("2026-03-07", 9)  # Saturday worked


def test_the_shipped_calendar_knows_the_2026_spring_festival_and_its_make_up_days() -> None:
    calendar = default_calendar()
    assert not calendar.is_working_day(date(2026, 2, 16))  # Monday, Spring Festival
    assert calendar.is_working_day(date(2026, 2, 14))  # Saturday, make-up day
    assert calendar.is_working_day(date(2026, 2, 28))
    assert not calendar.is_working_day(date(2026, 10, 7))
    assert calendar.is_working_day(date(2026, 10, 10))
    # Friday 13 Feb 17:00 + 2 h: 30 min on Friday, 1.5 h on make-up Saturday the 14th; then nine days off.
    assert add_working_hours(at("2026-02-13", 17), 2) == at("2026-02-14", 10)
    assert add_working_hours(at("2026-02-14", 17), 2) == at("2026-02-24", 10)


def test_the_shipped_calendar_keeps_office_hours_in_the_city_s_time_zone(settings: Settings) -> None:
    new_york = ZoneInfo("America/New_York")
    calendar = default_calendar(settings.model_copy(update={"timezone": "America/New_York"}))
    assert calendar.tz == new_york and default_calendar(settings).tz == SHANGHAI
    # Friday 17:00 + 2 h in New York: 30 min on Friday, 1.5 h on Monday, across the change to summer time.
    due = calendar.add_working_hours(datetime(2026, 3, 6, 17, 0, tzinfo=new_york), 2)
    assert due.astimezone(UTC) == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 EDT (UTC-4)


def test_working_hours_between_counts_what_add_working_hours_added() -> None:
    start = at("2026-03-06", 10, 15)
    for hours in (0.5, 3, 7.25, 20):
        assert PLAIN.working_hours_between(start, PLAIN.add_working_hours(start, hours)) == pytest.approx(hours)
    assert PLAIN.working_hours_between(start, start - timedelta(hours=1)) == 0


def test_custom_periods_and_weekdays_are_honoured() -> None:
    six_days = WorkCalendar(periods=((time(9), time(17)),), weekdays=frozenset(range(6)))
    assert six_days.hours_per_day == 8
    assert six_days.add_working_hours(at("2026-03-06", 16), 2) == at("2026-03-07", 10)


def test_a_naive_start_or_negative_hours_are_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        PLAIN.add_working_hours(datetime(2026, 3, 2, 9), 1)
    with pytest.raises(InvalidInput, match="negative"):
        PLAIN.add_working_hours(at("2026-03-02", 9), -1)


def test_overlapping_periods_and_a_calendar_without_working_days_are_refused() -> None:
    with pytest.raises(InvalidInput, match="overlap"):
        WorkCalendar(periods=((time(8), time(12)), (time(11), time(14))))
    never = WorkCalendar(weekdays=frozenset())
    with pytest.raises(InvalidInput, match="no working day"):
        never.add_working_hours(at("2026-03-02", 9), 1)


def test_the_holiday_file_names_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "holidays.csv"
    path.write_text("# comment\ndate,kind,name\n2026-05-01,holiday,劳动节\n2026-05-09,workday,调休\n")
    assert read_holidays(path) == (frozenset({date(2026, 5, 1)}), frozenset({date(2026, 5, 9)}))
    path.write_text("date,kind,name\n2026-05-01,holiday,劳动节\n2026-05-32,holiday,坏日期\n")
    with pytest.raises(InvalidInput, match="data row 2: date must be YYYY-MM-DD"):
        read_holidays(path)
    path.write_text("date,kind,name\n2026-05-01,festival,劳动节\n")
    with pytest.raises(InvalidInput, match="kind must be"):
        read_holidays(path)
