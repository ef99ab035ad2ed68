"""Periods and groupings of an evaluation: what a caller may ask for, parsed once, with the field named.

A period is a half-open range of local dates ``[from, to)`` in the work calendar's zone (Asia/Shanghai): the
cases reported from ``from`` 00:00 up to, not including, ``to`` 00:00. Named periods are shorthands:
``2026-11-20`` (a day), ``2026-W47`` (an ISO week, Monday to Sunday), ``2026-11`` (a month), ``2026-Q4`` (a
quarter), ``2026`` (a year).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gis.errors import InvalidInput
from gis.incidents.work_calendar import SHANGHAI


class Grouping(enum.StrEnum):
    """What one row of an evaluation stands for."""

    city = "city"  # 全市
    subdistrict = "subdistrict"  # 街道
    community = "community"  # 社区
    cell = "cell"  # 单元网格
    team = "team"  # 执法队 (the responsible team)
    worker = "worker"  # 上报人 (grid worker who reported)
    category = "category"  # 小类 (national 5-digit code)
    major = "major"  # 大类

    @property
    def label_zh(self) -> str:
        return _GROUPING_ZH[self]


_GROUPING_ZH = {
    Grouping.city: "全市", Grouping.subdistrict: "街道", Grouping.community: "社区", Grouping.cell: "单元网格",
    Grouping.team: "执法队", Grouping.worker: "网格员", Grouping.category: "小类", Grouping.major: "大类",
}


def parse_grouping(value: str) -> Grouping:
    try:
        return Grouping(value.strip())
    except ValueError:
        known = ", ".join(g.value for g in Grouping)
        raise InvalidInput(f"by: unknown grouping {value!r}; one of {known}") from None


@dataclass(frozen=True)
class Period:
    """Local dates ``[start, end)``; ``label`` is how people name it (``2026-W47``, ``2026-11-01…2026-12-01``)."""

    start: date
    end: date
    label: str
    tz: ZoneInfo = SHANGHAI

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise InvalidInput(f"to: {self.end} must be after from ({self.start})")

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, self.tz)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time.min, self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def shifted(self, days: int) -> Period:
        """The same length of time ``days`` later (negative: earlier)."""
        delta = timedelta(days=days)
        return Period(self.start + delta, self.end + delta, f"{self.start + delta}…{self.end + delta}", self.tz)

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return self.shifted(-self.days)

    def year_before(self) -> Period:
        """The same dates one year earlier (ISO weeks: the same week number; 29 Feb → 28 Feb)."""
        if _WEEK.fullmatch(self.label):
            return self.shifted(-364)
        return Period(_year_back(self.start), _year_back(self.end), f"{_year_back(self.start)}…", self.tz)


def _year_back(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_YEAR = re.compile(r"\d{4}")


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field}: not a date YYYY-MM-DD: {value!r}") from None


def between(start: str, end: str) -> Period:
    """The period ``[from, to)`` from two ISO dates (InvalidInput names the field that is wrong)."""
    first, last = parse_date(start, "from"), parse_date(end, "to")
    return Period(first, last, f"{first}…{last}")


def resolve(start: str | None, end: str | None, name: str | None) -> Period:
    """The period from ``from``/``to`` or from a ``period`` name; InvalidInput names what is missing or wrong."""
    if name is not None:
        if start is not None or end is not None:
            raise InvalidInput("period: give either period or from/to, not both")
        return named(name)
    if start is None or end is None:
        raise InvalidInput(f"{'from' if start is None else 'to'}: required (YYYY-MM-DD), or give period=2026-W47")
    return between(start, end)


def named(value: str) -> Period:
    """A day, ISO week, month, quarter or year by its usual name (``2026-W47``…); InvalidInput otherwise."""
    text = value.strip()
    try:
        if _DAY.fullmatch(text):
            day = date.fromisoformat(text)
            return Period(day, day + timedelta(days=1), text)
        if match := _WEEK.fullmatch(text):
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
            return Period(monday, monday + timedelta(days=7), text)
        if match := _QUARTER.fullmatch(text):
            year, quarter = int(match[1]), int(match[2])
            start = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return Period(start, end, text)
        if match := _MONTH.fullmatch(text):
            year, month = int(match[1]), int(match[2])
            start = date(year, month, 1)
            return Period(start, date(year + month // 12, month % 12 + 1, 1), text)
        if _YEAR.fullmatch(text):
            return Period(date(int(text), 1, 1), date(int(text) + 1, 1, 1), text)
    except ValueError:
        pass
    raise InvalidInput(
        f"period: {value!r} is not a day (2026-11-20), ISO week (2026-W47), month (2026-11), quarter (2026-Q4) "
        "or year (2026)"
    )
