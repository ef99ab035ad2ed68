from datetime import date, datetime

import pytest

from gis.facilities import opening_hours
from gis.facilities.opening_hours import TIMEZONE, OpeningHoursError, parse, parse_holidays

# 2030-06-03 is a Monday.
MONDAY = date(2030, 6, 3)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """Local time ``day`` days after Monday 2030-06-03."""
    return datetime(2030, 6, 3 + day, hour, minute, tzinfo=TIMEZONE)


def test_the_sample_monday_is_a_monday() -> None:
    assert MONDAY.weekday() == 0


def test_weekday_nights_and_whole_weekends_count_105_and_a_half_hours() -> None:
    schedule = parse("Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00")
    # 5 nights of 13 h, of which Friday's runs into Saturday (already open): 4 × 13 + 5.5 (Fri 18:30–24:00) + 48
    assert schedule.hours_per_week() == pytest.approx(4 * 13 + 5.5 + 48)


def test_chinese_text_and_json_give_the_same_schedule_as_english_text() -> None:
    english = parse("Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00")
    chinese = parse("周一至周五 18:30-07:30；周六、周日 全天")
    as_json = parse('[{"days": "Mo-Fr", "open": "18:30", "close": "07:30"},'
                    ' {"days": ["Sa", "Su"], "open": "00:00", "close": "24:00"}]')
    assert english == chinese == as_json


def test_canonical_text_parses_back_to_the_same_schedule() -> None:
    schedule = parse("Tu 14:00-17:00; Mo 08:00-12:00; 工作日 12:00-13:00,18:00-20:00")
    assert parse(schedule.to_text()) == schedule
    assert parse(schedule.to_json()) == schedule


def test_overlapping_windows_are_counted_once() -> None:
    assert parse("Mo 08:00-12:00; Mo 10:00-14:00").hours_per_week() == 6


def test_an_overnight_window_covers_the_next_morning() -> None:
    schedule = parse("Mo-Fr 18:30-07:30")
    assert schedule.first_closed_moment(at(0, 19), at(1, 7, 30)) is None
    assert schedule.first_closed_moment(at(0, 19), at(1, 8)) == at(1, 7, 30)


def test_a_sunday_overnight_window_wraps_into_monday_of_the_week() -> None:
    schedule = parse("Su 20:00-06:00")
    assert schedule.hours_per_week() == 10
    assert schedule.first_closed_moment(at(6, 21), at(7, 5)) is None


def test_a_range_starting_before_opening_names_its_start_as_the_closed_moment() -> None:
    assert parse("Mo-Fr 18:30-07:30").first_closed_moment(at(0, 17), at(0, 20)) == at(0, 17)


def test_a_holiday_closes_the_whole_day_even_inside_an_overnight_window() -> None:
    schedule = parse("Mo-Su 18:00-08:00")
    tuesday = date(2030, 6, 4)
    assert schedule.first_closed_moment(at(0, 19), at(1, 7), [tuesday]) == at(1, 0)
    intervals = schedule.open_intervals(at(0, 0), at(2, 0), [tuesday])
    assert (at(0, 18), at(1, 0)) in intervals
    assert all(lo.date() != tuesday for lo, _ in intervals)


def test_naive_times_are_read_as_local_time() -> None:
    schedule = parse("Mo 09:00-10:00")
    assert schedule.first_closed_moment(datetime(2030, 6, 3, 9), datetime(2030, 6, 3, 10)) is None


@pytest.mark.parametrize(("text", "names"), [
    ("Mo-Fr 25:00-26:00", "25:00"),
    ("Xx 08:00-09:00", "unknown day 'Xx'"),
    ("Mo-Fr 08:00-08:00", "opens and closes at the same time"),
    ("Mo-Fr", "expected days then times"),
    ("Mo 8-9", "is not HH:MM"),
    ("", "empty"),
    ("[{\"days\": \"Mo\"}]", "opening_hours[0]"),
    ("[oops", "not valid JSON"),
    ("Mo 24:00-08:00", "cannot open at 24:00"),
])
def test_malformed_windows_are_refused_naming_the_part_at_fault(text: str, names: str) -> None:
    with pytest.raises(OpeningHoursError, match="opening_hours") as error:
        parse(text)
    assert names in str(error.value)


def test_holidays_read_lists_and_ranges_and_refuse_non_dates() -> None:
    assert parse_holidays("2030-10-01..2030-10-03, 2030-01-01") == [
        date(2030, 1, 1), date(2030, 10, 1), date(2030, 10, 2), date(2030, 10, 3)]
    with pytest.raises(Exception, match="holidays: '2030-13-01'"):
        parse_holidays("2030-13-01")


@pytest.mark.parametrize(("stored", "shown"), [
    ("Mo-Su 08:00-20:00", "每天 08:00-20:00"),
    ("Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00", "周一至周五 18:30-07:30；周六、周日 全天"),
    ("Mo,We,Fr 08:00-09:00", "周一、周三、周五 08:00-09:00"),
])
def test_pages_show_opening_hours_in_chinese_that_read_back_the_same(stored: str, shown: str) -> None:
    assert opening_hours.describe_zh(stored) == shown
    assert opening_hours.parse(shown) == opening_hours.parse(stored)


def test_hours_that_do_not_parse_are_shown_as_stored() -> None:
    assert opening_hours.describe_zh("by appointment") == "by appointment"
