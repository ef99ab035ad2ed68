"""A span of time, as layers filter by it: an instant or an interval, either end open (RFC 3339 / OGC API).

Layers that have a time (``Layer.time_field``) keep the features whose time lies in the span, ends included
(OGC API – Features ``datetime``); layers without one match any span, as OGC API Core says of features with
no temporal property. A date without a time is the whole day, in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from gis.errors import InvalidInput


@dataclass(frozen=True)
class Timespan:
    """From ``start`` to ``end``, both included; None: open at that end."""

    start: datetime | None
    end: datetime | None


def _instant(text: str, field: str, *, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        if "T" in text.upper() or " " in text.strip():
            moment = datetime.fromisoformat(text.replace("z", "Z"))
            if moment.tzinfo is None:
                raise InvalidInput(f"{field}: {text!r} has no time zone; add Z or an offset such as +08:00")
            return moment
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: {text!r} is not an RFC 3339 date-time or date") from None
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) - timedelta(microseconds=1) if end else start


def parse_timespan(text: str | None, field: str = "datetime") -> Timespan | None:
    """``2026-03-01T00:00:00Z``, ``2026-03-01``, ``2026-01-01/2026-03-31``, ``../2026-03-31`` or
    ``2026-01-01/..`` as a :class:`Timespan`; InvalidInput naming ``field`` otherwise."""
    if text is None:
        return None
    parts = text.split("/")
    if len(parts) > 2 or (len(parts) == 1 and parts[0] in ("", "..")):
        raise InvalidInput(f"{field}: {text!r}: give an instant or start/end (.. for an open end)")
    if len(parts) == 1:
        return Timespan(_instant(parts[0], field, end=False), _instant(parts[0], field, end=True))
    start, end = _instant(parts[0], field, end=False), _instant(parts[1], field, end=True)
    if start is None and end is None:
        raise InvalidInput(f"{field}: {text!r}: an interval needs at least one end")
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"{field}: {text!r}: the start is after the end")
    return Timespan(start, end)
