"""The work calendar as SQL: working hours between two moments computed inside PostgreSQL.

``gis.incidents.work_calendar.WorkCalendar`` is the one definition of working time; this module derives a
form PostgreSQL can evaluate per row without a calendar table. A *working clock* over a date window gives
every moment ``t`` its working hours since the window's first day, ``W(t)``; the working hours between two
moments are ``W(b) − W(a)``. ``W`` needs, per day, the number of working days before it (one integer array
bound as a parameter, O(1) to index) and the working seconds of the day up to ``t``'s local time (a sum over
the calendar's daily periods of ``max(0, min(s, end) − start)``). A moment outside the window gives NULL.

``tests/gis/evaluation/test_working_clock.py`` holds ``W(b) − W(a)`` equal to
``WorkCalendar.working_hours_between`` across weekends, holidays and make-up workdays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from gis.errors import InvalidInput
from gis.incidents.work_calendar import WorkCalendar

MAX_WINDOW_DAYS = 366 * 12  # a clock for more than a dozen years is a mistake, not a report


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


@dataclass(frozen=True)
class WorkingClock:
    """Working hours since ``first_day`` (local date in the calendar's zone) for moments up to ``last_day``.

    ``working_days_before[k]`` is the number of working days in ``[first_day, first_day + k)``, for
    ``k = 0 … days`` (so it has one more entry than the window has days)."""

    calendar: WorkCalendar
    first_day: date
    last_day: date
    working_days_before: tuple[int, ...]

    @classmethod
    def over(cls, calendar: WorkCalendar, first_day: date, last_day: date) -> WorkingClock:
        """A clock for moments whose local date lies in ``[first_day, last_day]``."""
        days = (last_day - first_day).days + 1
        if days < 1:
            raise InvalidInput(f"to: the window ends ({last_day}) before it starts ({first_day})")
        if days > MAX_WINDOW_DAYS:
            raise InvalidInput(f"to: at most {MAX_WINDOW_DAYS} days can be evaluated at once (got {days})")
        counts, total = [0], 0
        for k in range(days):
            total += calendar.is_working_day(first_day + timedelta(days=k))
            counts.append(total)
        return cls(calendar=calendar, first_day=first_day, last_day=last_day, working_days_before=tuple(counts))

    @property
    def seconds_per_day(self) -> int:
        return sum(_seconds(end) - _seconds(start) for start, end in self.calendar.periods)

    def hours_at(self, moment: datetime) -> float:
        """``W(moment)`` computed in Python the way the SQL does (for tests and for Python callers)."""
        local = moment.astimezone(self.calendar.tz)
        k = (local.date() - self.first_day).days
        if not 0 <= k < len(self.working_days_before) - 1:
            raise InvalidInput(f"{moment.isoformat()} is outside the clock's window {self.first_day}…{self.last_day}")
        before = self.working_days_before[k]
        working = self.working_days_before[k + 1] - before
        s = _seconds(local.time()) + local.microsecond / 1e6
        in_day = sum(max(0.0, min(s, _seconds(end)) - _seconds(start)) for start, end in self.calendar.periods)
        return (before * self.seconds_per_day + working * in_day) / 3600

    def sql(self, moment: str, prefix: str = "wc") -> str:
        """SQL text of ``W(moment)`` in hours, ``moment`` being an SQL expression of type timestamptz.

        The text names bound parameters ``:{prefix}_tz``, ``:{prefix}_d0``, ``:{prefix}_days`` (see
        :meth:`params`); the calendar's periods are spliced in as integer literals (our configuration,
        never user input). ``moment`` must be an expression of ours too (a column), never user text."""
        local = f"({moment} AT TIME ZONE CAST(:{prefix}_tz AS text))"
        index = f"(CAST({local} AS date) - CAST(:{prefix}_d0 AS date) + 1)"  # 1-based into the array
        days = f"(CAST(:{prefix}_days AS int[]))"
        secs = f"EXTRACT(EPOCH FROM CAST({local} AS time))"
        in_day = " + ".join(
            f"GREATEST(0, LEAST({secs}, {_seconds(end)}) - {_seconds(start)})" for start, end in self.calendar.periods
        )
        return (
            f"(({days}[{index}] * {self.seconds_per_day} + ({days}[{index} + 1] - {days}[{index}]) * ({in_day}))"
            f" / 3600.0)"
        )

    def params(self, prefix: str = "wc") -> dict[str, Any]:
        return {
            f"{prefix}_tz": self.calendar.tz.key,
            f"{prefix}_d0": self.first_day,
            f"{prefix}_days": list(self.working_days_before),
        }
