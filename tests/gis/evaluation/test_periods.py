from datetime import date

import pytest

from gis.errors import InvalidInput
from gis.evaluation.periods import Grouping, between, named, parse_grouping, resolve


@pytest.mark.parametrize(("name", "start", "end"), [
    ("2026-11-20", date(2026, 11, 20), date(2026, 11, 21)),
    ("2026-W47", date(2026, 11, 16), date(2026, 11, 23)),
    ("2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ("2026-12", date(2026, 12, 1), date(2027, 1, 1)),
    ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
    ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ("2026", date(2026, 1, 1), date(2027, 1, 1)),
])
def test_named_periods_are_half_open_local_date_ranges(name: str, start: date, end: date) -> None:
    period = named(name)
    assert (period.start, period.end) == (start, end)


def test_the_previous_period_and_the_year_before_keep_the_length() -> None:
    week = named("2026-W47")
    assert (week.previous().start, week.previous().end) == (date(2026, 11, 9), date(2026, 11, 16))
    assert week.year_before().start == date(2025, 11, 17)  # ISO week 47 of 2025, a Monday too
    month = named("2026-11")
    assert (month.year_before().start, month.year_before().end) == (date(2025, 11, 1), date(2025, 12, 1))


@pytest.mark.parametrize(("call", "field"), [
    (lambda: between("2026-13-01", "2026-12-01"), "from:"),
    (lambda: between("2026-12-01", "tomorrow"), "to:"),
    (lambda: between("2026-12-01", "2026-11-01"), "to:"),
    (lambda: named("2026-W60"), "period:"),
    (lambda: resolve(None, "2026-12-01", None), "from:"),
    (lambda: resolve("2026-11-01", None, "2026-W47"), "period:"),
    (lambda: parse_grouping("street"), "by:"),
])
def test_bad_input_names_the_field(call, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}"):
        call()


def test_groupings_have_chinese_labels() -> None:
    assert Grouping.worker.label_zh == "网格员" and parse_grouping(" team ") is Grouping.team
