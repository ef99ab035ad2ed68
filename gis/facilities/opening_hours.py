"""Weekly opening windows of a shared facility: parse, print, measure, and test a time range against them.

Text form (a small, strict subset of OpenStreetMap's ``opening_hours``), rules separated by ``;``::

    Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00
    周一至周五 18:30-07:30；周六、周日 全天
    daily 08:00-12:00,14:00-17:30

* days: ``Mo Tu We Th Fr Sa Su`` or ``周一 … 周日`` (``周天`` too), ranges with ``-`` or ``至`` (wrapping
  ranges such as ``Fr-Mo`` are allowed), lists with ``,`` or ``、``; ``daily`` / ``每天`` is every day,
  ``工作日`` Monday–Friday, ``周末`` Saturday and Sunday;
* times: ``HH:MM-HH:MM``, several separated by ``,``; ``24:00`` may close a window; ``全天`` / ``24/7``
  mean 00:00-24:00. A window whose end is not after its start runs **overnight** into the next day:
  ``Fr 18:30-07:30`` is open from Friday 18:30 to Saturday 07:30.

JSON form: a list of ``{"days": "Mo-Fr", "open": "18:30", "close": "07:30"}`` objects (``days`` may also
be a list of day names), which is what an API client or a CSV cell in JSON gives.

Times are local wall-clock time of ``TIMEZONE`` (Asia/Shanghai: China has no daylight saving, so a week
is always 168 hours). Holidays are local calendar dates on which the facility is closed all day, including
the part of an overnight window that reaches into the holiday.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from gis.errors import InvalidInput

TIMEZONE = ZoneInfo("Asia/Shanghai")
DAY = 24 * 60
WEEK = 7 * DAY
DAY_CODES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_DAY_NAMES: dict[str, int] = {code.lower(): i for i, code in enumerate(DAY_CODES)}
_DAY_NAMES.update({zh: i for i, zh in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"))})
_DAY_NAMES.update({"周天": 6, "星期一": 0, "星期二": 1, "星期三": 2, "星期四": 3, "星期五": 4, "星期六": 5,
                   "星期日": 6, "星期天": 6})
_DAY_GROUPS: dict[str, tuple[int, ...]] = {
    "daily": tuple(range(7)), "每天": tuple(range(7)), "每日": tuple(range(7)),
    "工作日": (0, 1, 2, 3, 4), "周末": (5, 6),
}
_ALL_DAY = {"全天", "24/7", "00:00-24:00"}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
MAX_BOOKING = timedelta(days=31)
T = TypeVar("T", int, datetime)


class OpeningHoursError(InvalidInput):
    """Opening windows that cannot be read; the message quotes the part at fault and the expected form."""


@dataclass(frozen=True, order=True)
class Window:
    """Open from ``start`` to ``end`` minutes after Monday 00:00 local time; ``end`` may pass the week's end
    (a Sunday overnight window), never by more than a day."""

    start: int
    end: int


@dataclass(frozen=True)
class Rule:
    days: tuple[int, ...]
    open: int  # minutes after midnight
    close: int  # minutes after midnight; <= open means overnight

    @property
    def overnight(self) -> bool:
        return self.close <= self.open

    @property
    def length(self) -> int:
        return self.close - self.open if not self.overnight else DAY - self.open + self.close


@dataclass(frozen=True)
class WeeklySchedule:
    """Parsed weekly opening windows; build with :func:`parse`."""

    rules: tuple[Rule, ...]

    # -- printing --------------------------------------------------------------------------------
    def to_text(self) -> str:
        """Canonical text (``parse(s.to_text()) == s``): one rule per distinct set of times, in day order."""
        by_days: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for rule in self.rules:
            by_days.setdefault(rule.days, []).append((rule.open, rule.close))
        parts = [f"{_days_text(days)} {','.join(_span_text(o, c) for o, c in spans)}"
                 for days, spans in by_days.items()]
        return "; ".join(parts)

    def to_text_zh(self) -> str:
        """The same rules in Chinese, for pages: ``每天 08:00-20:00``, ``周一至周五 18:30-07:30；周六、周日 全天``
        (``parse`` reads it back to the same schedule)."""
        by_days: dict[tuple[int, ...], list[tuple[int, int]]] = {}
        for rule in self.rules:
            by_days.setdefault(rule.days, []).append((rule.open, rule.close))
        whole_day = [(0, 24 * 60)]
        parts = [f"{_days_text_zh(days)} "
                 + ("全天" if spans == whole_day else ",".join(_span_text(o, c) for o, c in spans))
                 for days, spans in by_days.items()]
        return "；".join(parts)

    def to_json(self) -> list[dict[str, str]]:
        return [{"days": _days_text(r.days), "open": _clock(r.open), "close": _clock(r.close)} for r in self.rules]

    # -- measuring -------------------------------------------------------------------------------
    def windows(self) -> list[Window]:
        """Merged windows over one week in minutes from Monday 00:00 (overlaps and touching runs joined;
        a window running past Sunday midnight is split so every minute appears once in [0, WEEK))."""
        raw: list[tuple[int, int]] = []
        for rule in self.rules:
            for day in rule.days:
                start = day * DAY + rule.open
                end = start + rule.length
                if end > WEEK:
                    raw += [(start, WEEK), (0, end - WEEK)]
                else:
                    raw.append((start, end))
        return [Window(s, e) for s, e in _merge(raw)]

    def hours_per_week(self) -> float:
        """Open hours in a week with no holiday (overlapping windows are counted once)."""
        return sum(w.end - w.start for w in self.windows()) / 60

    def open_intervals(self, start: datetime, end: datetime, holidays: Iterable[date] = ()) -> list[
            tuple[datetime, datetime]]:
        """The open periods that meet [start, end), as aware local datetimes, holidays cut out."""
        start, end = as_local(start, "start"), as_local(end, "end")
        closed = set(holidays)
        first = start.date() - timedelta(days=1)  # yesterday's overnight window may reach into today
        raw: list[tuple[datetime, datetime]] = []
        day = first
        while day <= end.date():
            midnight = datetime.combine(day, time(0), TIMEZONE)
            for rule in self.rules:
                if day.weekday() not in rule.days:
                    continue
                lo = midnight + timedelta(minutes=rule.open)
                hi = lo + timedelta(minutes=rule.length)
                raw += _cut_holidays(lo, hi, closed)
            day += timedelta(days=1)
        merged = _merge(raw)
        return [(max(lo, start), min(hi, end)) for lo, hi in merged if hi > start and lo < end]

    def first_closed_moment(self, start: datetime, end: datetime, holidays: Iterable[date] = ()) -> datetime | None:
        """None when the facility is open for the whole of [start, end); else the first moment it is closed."""
        cursor = as_local(start, "start")
        for lo, hi in self.open_intervals(start, end, holidays):
            if lo > cursor:
                return cursor
            cursor = max(cursor, hi)
        return None if cursor >= as_local(end, "end") else cursor


# -- parsing -------------------------------------------------------------------------------------------

def parse(value: str | Sequence[Any] | WeeklySchedule) -> WeeklySchedule:
    """Read opening windows from text or JSON (a list, or text holding a JSON list).

    Raises :class:`OpeningHoursError` naming the rule at fault, e.g. ``opening_hours: rule 2 "Sa 25:00-26:00":
    hour 25 is not 0–24; write times as HH:MM, e.g. 08:00-17:30``. An empty value is an error too: a facility
    that never opens shares nothing.
    """
    if isinstance(value, WeeklySchedule):
        return value
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise OpeningHoursError(f"opening_hours: not valid JSON ({exc.msg} at column {exc.colno})") from None
    rules = _parse_json(value) if not isinstance(value, str) else _parse_text(value)
    if not rules:
        raise OpeningHoursError("opening_hours: empty; give at least one window, e.g. 'Mo-Fr 18:30-07:30'")
    # Canonical order, duplicates dropped: equal schedules compare equal and print the same.
    return WeeklySchedule(tuple(sorted(set(rules), key=lambda r: (r.days, r.open, r.close))))


def _parse_text(text: str) -> list[Rule]:
    text = text.replace("；", ";").replace("，", ",").replace("：", ":").replace("－", "-").replace("—", "-")
    rules: list[Rule] = []
    for number, part in enumerate((p.strip() for p in text.split(";")), start=1):
        if not part:
            continue
        where = f'opening_hours: rule {number} "{part}"'
        pieces = part.split()
        if len(pieces) == 1 and pieces[0] in _ALL_DAY:
            pieces = ["daily", pieces[0]]
        if len(pieces) != 2:
            raise OpeningHoursError(f"{where}: expected days then times, e.g. 'Mo-Fr 18:30-07:30' or '周六、周日 全天'")
        days = _parse_days(pieces[0], where)
        for span in pieces[1].split(","):
            opens, closes = _parse_span(span, where)
            rules.append(Rule(days, opens, closes))
    return rules


def _parse_json(items: Any) -> list[Rule]:
    if not isinstance(items, list):
        raise OpeningHoursError("opening_hours: JSON must be a list of {\"days\", \"open\", \"close\"} objects")
    rules: list[Rule] = []
    for number, item in enumerate(items, start=1):
        where = f"opening_hours[{number - 1}]"
        if not isinstance(item, dict) or set(item) != {"days", "open", "close"}:
            raise OpeningHoursError(f'{where}: expected {{"days": "Mo-Fr", "open": "18:30", "close": "07:30"}}, '
                                    f"got {json.dumps(item, ensure_ascii=False)}")
        days_value = item["days"]
        days_text = ",".join(days_value) if isinstance(days_value, list) else str(days_value)
        days = _parse_days(days_text, where)
        opens, closes = _parse_span(f"{item['open']}-{item['close']}", where)
        rules.append(Rule(days, opens, closes))
    return rules


def _parse_days(text: str, where: str) -> tuple[int, ...]:
    text = text.replace("、", ",").replace("至", "-").replace("到", "-")
    days: set[int] = set()
    for item in (i.strip() for i in text.split(",")):
        if item.lower() in _DAY_GROUPS or item in _DAY_GROUPS:
            days.update(_DAY_GROUPS.get(item.lower(), _DAY_GROUPS.get(item, ())))
            continue
        ends = item.split("-")
        if len(ends) > 2 or not all(e.strip() for e in ends):
            raise OpeningHoursError(f"{where}: day range '{item}' must be like Mo-Fr or 周一-周五")
        found = [_DAY_NAMES.get(e.strip().lower()) for e in ends]
        if any(f is None for f in found):
            bad = next(e for e, f in zip(ends, found, strict=True) if f is None)
            raise OpeningHoursError(f"{where}: unknown day '{bad}'; use Mo Tu We Th Fr Sa Su or 周一…周日")
        first, last = found[0], found[-1]
        assert first is not None and last is not None
        span = (last - first) % 7
        days.update((first + k) % 7 for k in range(span + 1))
    return tuple(sorted(days))


def _parse_span(text: str, where: str) -> tuple[int, int]:
    if text.strip() in _ALL_DAY:
        return 0, DAY
    ends = text.strip().split("-")
    if len(ends) != 2:
        raise OpeningHoursError(f"{where}: time window '{text}' must be like 08:00-17:30 (or 18:30-07:30 overnight)")
    opens, closes = (_minutes(e.strip(), where) for e in ends)
    if opens == DAY:
        raise OpeningHoursError(f"{where}: a window cannot open at 24:00; write 00:00 of the next day")
    if opens == closes % DAY and closes != DAY:
        raise OpeningHoursError(f"{where}: window '{text}' opens and closes at the same time; "
                                "for all day write 00:00-24:00 (or 全天)")
    if closes == DAY:
        return opens, DAY
    return opens, closes


def _minutes(text: str, where: str) -> int:
    match = _TIME.match(text)
    if not match:
        raise OpeningHoursError(f"{where}: time '{text}' is not HH:MM; write times as e.g. 08:00-17:30")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise OpeningHoursError(f"{where}: time '{text}' is not a time of day (00:00–24:00)")
    return hours * 60 + minutes


def parse_holidays(value: str | Iterable[str | date] | None) -> list[date]:
    """Closed dates from ISO text (``2025-10-01,2025-10-02`` or ``2025-10-01..2025-10-07``) or a list.

    Raises :class:`InvalidInput` naming the date that cannot be read."""
    if value is None:
        return []
    items: list[str | date] = [p for p in re.split(r"[,;，、\s]+", value) if p] if isinstance(value, str) else list(
        value)
    days: set[date] = set()
    for item in items:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            if ".." in item:
                lo, hi = (date.fromisoformat(p) for p in item.split("..", 1))
                if hi < lo or (hi - lo).days > 366:
                    raise ValueError
                days.update(lo + timedelta(days=k) for k in range((hi - lo).days + 1))
            else:
                days.add(date.fromisoformat(item))
        except ValueError:
            raise InvalidInput(f"holidays: '{item}' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD") \
                from None
    return sorted(days)


# -- helpers -------------------------------------------------------------------------------------------

def as_local(moment: datetime, name: str = "time") -> datetime:
    """An aware datetime in local time; naive input is read as local time (Asia/Shanghai)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TIMEZONE)
    return moment.astimezone(TIMEZONE)


def _cut_holidays(lo: datetime, hi: datetime, closed: set[date]) -> list[tuple[datetime, datetime]]:
    if not closed:
        return [(lo, hi)]
    pieces: list[tuple[datetime, datetime]] = []
    cursor = lo
    while cursor < hi:
        next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), TIMEZONE)
        piece_end = min(hi, next_midnight)
        if cursor.date() not in closed:
            pieces.append((cursor, piece_end))
        cursor = piece_end
    return pieces


def _merge(spans: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    merged: list[tuple[T, T]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _span_text(opens: int, closes: int) -> str:
    return f"{_clock(opens)}-{_clock(closes)}"


def _days_text(days: tuple[int, ...]) -> str:
    if len(days) == 7:
        return "Mo-Su"
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(DAY_CODES[r[0]] if len(r) == 1 else f"{DAY_CODES[r[0]]}-{DAY_CODES[r[-1]]}" for r in runs)


_DAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def _days_text_zh(days: tuple[int, ...]) -> str:
    if len(days) == 7:
        return "每天"
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return "、".join(_DAYS_ZH[r[0]] if len(r) == 1 else
                    f"{_DAYS_ZH[r[0]]}{'、' if len(r) == 2 else '至'}{_DAYS_ZH[r[-1]]}" for r in runs)


def describe_zh(value: str) -> str:
    """Stored opening hours as Chinese for a page; the text as stored when it does not parse."""
    try:
        return parse(value).to_text_zh()
    except OpeningHoursError:
        return value
