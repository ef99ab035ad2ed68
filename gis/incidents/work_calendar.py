"""Working time: deadlines counted in working hours on an office calendar, not in wall-clock hours.

A case dispatched on Friday at 17:00 with a 2-hour limit is due on Monday at 09:30, not on Friday at 19:00;
one dispatched on the eve of the Spring Festival is due after the holiday. The calendar is office hours in
the city's time zone (``WANGGE_TIMEZONE``, Asia/Shanghai for Jishou; by default 08:30–12:00 and 14:30–17:30,
Monday to Friday) with China's public holidays and make-up working days (调休) read from
``data/holidays_cn.csv``::

    date,kind,name
    2026-02-14,workday,春节调休上班     # a Saturday that is worked
    2026-02-16,holiday,春节             # a Monday that is not

Lines starting with ``#`` are comments. A date the file does not list follows the weekday rule.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from gis.errors import InvalidInput
from gis.settings import PROJECT_ROOT, Settings, get_settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""Jishou's zone, the default of ``Settings.timezone``; code that means the city's zone asks ``Settings.zone``."""
HOLIDAYS_FILE = PROJECT_ROOT / "data" / "holidays_cn.csv"
OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))
MONDAY_TO_FRIDAY = frozenset(range(5))

# A calendar with no working day for this long is a configuration error, not a long wait.
_MAX_IDLE_DAYS = 366


@dataclass(frozen=True)
class WorkCalendar:
    """Working periods of a day, working weekdays, and the dates that break the weekday rule.

    ``holidays`` are dates off even on a working weekday; ``workdays`` are dates worked even on a weekend
    (调休). Periods are local times in ``tz``, sorted and not overlapping.
    """

    tz: ZoneInfo = SHANGHAI
    periods: tuple[tuple[time, time], ...] = OFFICE_HOURS
    weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.periods:
            raise InvalidInput("a work calendar needs at least one working period a day")
        previous_end = time.min
        for start, end in self.periods:
            if not previous_end <= start < end:
                raise InvalidInput(f"working periods must be sorted and not overlap: {self.periods}")
            previous_end = end
        both = self.holidays & self.workdays
        if both:
            raise InvalidInput(f"dates listed both as holiday and as workday: {sorted(both)}")

    @property
    def hours_per_day(self) -> float:
        return sum(_seconds(start, end) for start, end in self.periods) / 3600

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() in self.weekdays

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (aware datetime), in this calendar's zone.

        Time outside working periods does not count; a start outside them counts from the next period.
        A deadline that ends exactly at the end of a period stays there (17:30, not next morning 08:30).
        """
        if hours < 0:
            raise InvalidInput(f"hours: must not be negative (got {hours})")
        remaining = timedelta(hours=hours)
        for period_start, period_end in self._periods_from(_aware(start).astimezone(self.tz)):
            available = period_end - period_start
            if remaining <= available:
                return period_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _periods_from never ends")  # pragma: no cover

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        start, end = _aware(start).astimezone(self.tz), _aware(end).astimezone(self.tz)
        total = timedelta()
        if end <= start:
            return 0.0
        for period_start, period_end in self._periods_from(start):
            if period_start >= end:
                break
            total += min(period_end, end) - period_start
        return total.total_seconds() / 3600

    def _periods_from(self, moment: datetime) -> Iterable[tuple[datetime, datetime]]:
        """Working periods (clipped to begin at ``moment``) in time order, for ever."""
        day, idle = moment.date(), 0
        while True:
            if self.is_working_day(day):
                idle = 0
                for start, end in self.periods:
                    # Office hours lie away from the small hours when zones with DST change their clocks,
                    # so these wall times exist and are unambiguous in any zone.
                    period_start = datetime.combine(day, start, self.tz)
                    period_end = datetime.combine(day, end, self.tz)
                    if period_end <= moment:
                        continue
                    yield max(period_start, moment), period_end
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise InvalidInput(f"the work calendar has no working day in {_MAX_IDLE_DAYS} days after {day}")
            day += timedelta(days=1)


def read_holidays(path: Path) -> tuple[frozenset[date], frozenset[date]]:
    """(holidays, workdays) from a ``date,kind,name`` CSV; InvalidInput names the line of a bad row."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if line.strip() and not line.lstrip().startswith("#"))
        for number, row in enumerate(csv.DictReader(lines), start=1):
            where = f"{path.name}, data row {number}"  # comment lines are not counted
            try:
                day = date.fromisoformat(row["date"].strip())
            except (KeyError, AttributeError, ValueError):
                raise InvalidInput(f"{where}: date must be YYYY-MM-DD (got {row.get('date')!r})") from None
            kind = (row.get("kind") or "").strip()
            if kind == "holiday":
                holidays.add(day)
            elif kind == "workday":
                workdays.add(day)
            else:
                raise InvalidInput(f"{where}: kind must be 'holiday' or 'workday' (got {kind!r})")
    return frozenset(holidays), frozenset(workdays)


@lru_cache(maxsize=8)
def calendar_from_file(path: Path = HOLIDAYS_FILE, timezone: str = "Asia/Shanghai") -> WorkCalendar:
    """Office hours in ``timezone`` with the holidays of ``path`` (cached: the file is read once per process)."""
    holidays, workdays = read_holidays(path)
    return WorkCalendar(tz=ZoneInfo(timezone), holidays=holidays, workdays=workdays)


def default_calendar(settings: Settings | None = None) -> WorkCalendar:
    """The shipped calendar: office hours in the city's time zone (the settings' ``timezone``) and
    ``data/holidays_cn.csv``."""
    return calendar_from_file(HOLIDAYS_FILE, (settings or get_settings()).timezone)


def add_working_hours(start: datetime, hours: float, calendar: WorkCalendar | None = None) -> datetime:
    """``start`` plus ``hours`` working hours on ``calendar`` (the shipped one by default)."""
    return (calendar or default_calendar()).add_working_hours(start, hours)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"a time zone is required for {moment.isoformat()} (e.g. +08:00)")
    return moment


def _seconds(start: time, end: time) -> float:
    return (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
