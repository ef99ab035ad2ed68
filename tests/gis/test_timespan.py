from datetime import UTC, datetime, timedelta

import pytest

from gis.errors import InvalidInput
from gis.timespan import Timespan, parse_timespan

T = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def test_an_instant_is_a_span_of_that_moment_and_a_date_the_whole_day() -> None:
    assert parse_timespan("2026-03-01T08:30:00Z") == Timespan(T, T)
    day = parse_timespan("2026-03-01")
    assert day == Timespan(datetime(2026, 3, 1, tzinfo=UTC),
                           datetime(2026, 3, 2, tzinfo=UTC) - timedelta(microseconds=1))


def test_intervals_may_be_open_at_either_end() -> None:
    assert parse_timespan("2026-03-01T08:30:00Z/..") == Timespan(T, None)
    assert parse_timespan("/2026-03-01T08:30:00+00:00") == Timespan(None, T)
    assert parse_timespan(None) is None


@pytest.mark.parametrize(("value", "fix"), [
    ("yesterday", "RFC 3339"), ("../..", "at least one end"), ("..", "instant or start/end"),
    ("2026-03-01T08:30:00", "time zone"), ("2026-03-02/2026-03-01", "start is after the end"), ("a/b/c", "start/end"),
])
def test_a_bad_span_names_the_field_and_the_fix(value: str, fix: str) -> None:
    with pytest.raises(InvalidInput, match=f"^datetime: .*{fix}"):
        parse_timespan(value)
