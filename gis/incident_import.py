"""Bulk import of incidents (a 12345 hotline export, historic cases) from CSV or GeoJSON, fast.

Every row is checked by the rules of a single report (``gis.incidents.create``): a known active category,
finite lon/lat in range and not swapped, inside a community or within ``edge_tolerance_m`` of one (else the
nearest one and its distance are named), text within its limits, a known status and source, ISO 8601 times
not in the future. Refused rows are reported with their row number, field and reason. The good rows go in
one transaction — or, all-or-nothing (the default), nothing goes in when any row is refused.

Speed comes from doing the spatial work once and in memory: the current communities and cells are loaded
once into shapely STRtrees and every point is located in one vectorised query; rows that already carry
their cell, community, subdistrict and team then go in by PostgreSQL COPY (psycopg 3), followed by one
``import`` event per incident written by a single INSERT … SELECT from arrays. Not done for imports:
duplicate detection (a history holds the duplicates it holds), deadlines (taken from a ``deadline_at``
column when given, never computed), photos.

CSV columns (header names; only the first three are required)::

    lon,lat,category,description,address,reported_at,status,source,closed_at,deadline_at

GeoJSON: a FeatureCollection of Points with the same names as properties (lon/lat come from the geometry).
Times without a zone are Beijing time. ``closed_at`` is accepted only with a final status (closed,
rejected, void) and left empty when a final case does not give it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import shapely
from psycopg import Copy
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gis.atlas import Atlas
from gis.crs import InputDatum, convert
from gis.errors import InvalidInput
from gis.incidents import (
    EDGE_TOLERANCE_M,
    FUTURE_TOLERANCE,
    MAX_ADDRESS,
    PUBLIC_ID_PREFIX,
    outside_message,
    swapped_message,
)
from gis.models import SRID, Category, Source, Status, User
from gis.models.incidents import FINAL_STATUSES, MAX_DESCRIPTION
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings
from gis.workcalendar import SHANGHAI

REQUIRED = ("lon", "lat", "category")
OPTIONAL = ("description", "address", "reported_at", "status", "source", "closed_at", "deadline_at")
# A historic file may say where a case ended, but not that it was merged: that needs the original.
IMPORTABLE_STATUSES = tuple(s.value for s in Status if s is not Status.duplicate)
_FINAL = {s.value for s in FINAL_STATUSES}
_TZ_SUFFIX = r"(?:Z|[+-]\d\d(?::?\d\d)?)$"


@dataclass(frozen=True)
class RefusedRow:
    row: int  # CSV: the line in the file (the header is line 1); GeoJSON: the feature's number from 1
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did. ``imported`` is 0 when all-or-nothing met a refused row (nothing was written)."""

    total: int
    imported: int
    refused: list[RefusedRow] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def refused_rows(self) -> int:
        return len({r.row for r in self.refused})

    def __str__(self) -> str:
        rate = f" ({self.imported / self.seconds:,.0f}/s)" if self.imported and self.seconds else ""
        return (f"{self.imported:,} of {self.total:,} incidents imported{rate}, "
                f"{self.refused_rows:,} rows refused")


def import_incidents(
    session: Session,
    path: Path,
    *,
    all_or_nothing: bool = True,
    datum: InputDatum | str = InputDatum.wgs84,
    edge_tolerance_m: float = EDGE_TOLERANCE_M,
    actor: User | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    progress: ProgressReporter = no_progress,
) -> ImportReport:
    """Check every row of ``path`` (.csv or .geojson/.json) and write the good ones by COPY; flush, never commit.

    Raises InvalidInput when the file itself cannot be read (format, missing required columns); rows are
    never the cause of an exception, they are reported in ``ImportReport.refused``."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    frame, row_numbers, geometry_errors = read_rows(path)
    progress("check", 0, len(frame))
    checked = _Checker(session, frame, row_numbers, datum, settings or Settings(), now, edge_tolerance_m)
    for row, reason in geometry_errors:
        checked.refuse_rows(np.array([row]), "geometry", reason)
    good = checked.run()
    progress("check", len(frame), len(frame))
    report = ImportReport(total=len(frame), imported=0, refused=checked.refused)
    if good.any() and not (all_or_nothing and checked.refused):
        report.imported = _copy(session, checked, good, path.name, actor, now, progress)
    report.seconds = time.perf_counter() - started
    return report


# -- reading --------------------------------------------------------------------------------------------
def read_rows(path: Path) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """The file as a frame of text columns, each row's number as a person finds it, and rows whose
    geometry was unusable (GeoJSON)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInput(f"{path.name}: not a readable UTF-8 CSV ({exc})") from None
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        if "category_code" in frame.columns and "category" not in frame.columns:
            frame = frame.rename(columns={"category_code": "category"})
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}; "
                               f"the header needs {','.join(REQUIRED)} (optional: {','.join(OPTIONAL)})")
        return frame, np.arange(len(frame)) + 2, []
    if suffix in {".geojson", ".json"}:
        return _read_geojson(path)
    raise InvalidInput(f"{path.name}: import reads .csv or .geojson files")


def _read_geojson(path: Path) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput(f"{path.name}: expected a GeoJSON FeatureCollection")
    features = document.get("features") or []
    columns: dict[str, list[str]] = {name: [] for name in (*REQUIRED, *OPTIONAL)}
    bad: list[tuple[int, str]] = []
    for number, feature in enumerate(features, start=1):
        properties = (feature or {}).get("properties") or {}
        geometry = (feature or {}).get("geometry") or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        lon = lat = ""
        if geometry.get("type") != "Point" or not isinstance(coordinates, list) or len(coordinates) < 2:
            bad.append((number, f"must be a Point with [lon, lat] (got {geometry.get('type') or 'none'})"))
        else:
            lon, lat = str(coordinates[0]), str(coordinates[1])
        columns["lon"].append(lon)
        columns["lat"].append(lat)
        for name in ("category", *OPTIONAL):
            value = properties.get(name, properties.get("category_code") if name == "category" else None)
            columns[name].append("" if value is None else str(value))
    return pd.DataFrame(columns, dtype=str), np.arange(len(features)) + 1, bad


# -- checking -------------------------------------------------------------------------------------------
class _Checker:
    """Vectorised checks of a whole file; refused rows are collected, never raised."""

    def __init__(self, session: Session, frame: pd.DataFrame, rows: np.ndarray, datum: InputDatum | str,
                 settings: Settings, now: datetime, edge_tolerance_m: float) -> None:
        self.session, self.frame, self.rows, self.now = session, frame, rows, now
        self.datum, self.settings, self.edge_tolerance_m = datum, settings, edge_tolerance_m
        self.n = len(frame)
        self.ok = np.ones(self.n, dtype=bool)
        self.refused: list[RefusedRow] = []
        self.columns: dict[str, Any] = {}
        self._stripped_columns: dict[str, pd.Series] = {}

    def text(self, name: str) -> pd.Series:
        """Column ``name`` stripped ("" where the file has no such column); computed once per column."""
        if name not in self._stripped_columns:
            self._stripped_columns[name] = (_stripped(self.frame[name]) if name in self.frame.columns
                                 else pd.Series([""] * self.n, dtype=str))
        return self._stripped_columns[name]

    def refuse(self, mask: np.ndarray, name: str, reason: Any) -> None:
        """Refuse the rows of ``mask``; ``reason`` is text or a function of the row position."""
        positions = np.flatnonzero(mask)
        for i in positions:
            self.refused.append(RefusedRow(int(self.rows[i]), name, reason(i) if callable(reason) else reason))
        self.ok[positions] = False

    def refuse_rows(self, row_numbers: np.ndarray, name: str, reason: str) -> None:
        self.refuse(np.isin(self.rows, row_numbers), name, reason)

    def run(self) -> np.ndarray:
        if self.n:
            self._category()
            self._texts()
            self._status_and_source()
            self._times()
            self._place()
        self.refused.sort(key=lambda r: r.row)
        return self.ok

    def _category(self) -> None:
        codes = self.text("category")
        active = set(self.session.scalars(select(Category.code).where(Category.active.is_(True))))
        empty = (codes == "").to_numpy()
        self.refuse(empty, "category", "required (a 5-digit GB/T 47678.5 matter code)")
        unknown = ~codes.isin(active).to_numpy() & ~empty
        self.refuse(unknown, "category", lambda i: f"unknown or inactive code {codes.iat[i]!r}")
        self.columns["category_code"] = codes

    def _texts(self) -> None:
        for name, limit in (("description", MAX_DESCRIPTION), ("address", MAX_ADDRESS)):
            # Free text is kept as written (not stripped), HTML and all: it is stored as plain text.
            values = self.frame[name] if name in self.frame.columns else pd.Series([""] * self.n, dtype=str)
            lengths = values.str.len().to_numpy()
            self.refuse(lengths > limit, name, lambda i, v=lengths, k=limit: f"{v[i]} characters is more than {k}")
            self.refuse(values.str.contains("\x00", regex=False).to_numpy(), name, "contains a NUL character")
            self.columns[name] = values
        address = self.columns["address"].str.strip().to_numpy(dtype=object)
        self.columns["address"] = np.where(address == "", None, address)

    def _status_and_source(self) -> None:
        status = self.text("status").str.lower().replace("", Status.reported.value)
        self.refuse(~status.isin(IMPORTABLE_STATUSES).to_numpy(), "status",
                    lambda i: f"unknown {status.iat[i]!r}; one of {', '.join(IMPORTABLE_STATUSES)}")
        source = self.text("source").str.lower().replace("", Source.import_.value)
        self.refuse(~source.isin([s.value for s in Source]).to_numpy(), "source",
                    lambda i: f"unknown {source.iat[i]!r}; one of {', '.join(Source)}")
        self.columns["status"], self.columns["source"] = status, source

    def _times(self) -> None:
        reported = self._time("reported_at")
        reported_ok = ~(reported.isna() & (self.text("reported_at") != "")).to_numpy()
        reported = reported.fillna(pd.Timestamp(self.now))
        future = (reported > pd.Timestamp(self.now + FUTURE_TOLERANCE)).to_numpy()
        self.refuse(future, "reported_at", lambda i: f"{reported.iat[i].isoformat()} is in the future")
        closed = self._time("closed_at")
        has_closed = closed.notna().to_numpy()
        status = self.columns["status"]
        # Only rows whose status and report time are usable are judged, so one mistake is reported once.
        not_final = (status.isin(IMPORTABLE_STATUSES) & ~status.isin(_FINAL)).to_numpy()
        self.refuse(has_closed & not_final, "closed_at", "given for a case that is not closed, rejected or void")
        self.refuse(has_closed & reported_ok & (closed < reported).to_numpy(), "closed_at", "is before reported_at")
        self.columns["reported_at"], self.columns["closed_at"] = reported, closed
        self.columns["deadline_at"] = self._time("deadline_at")

    def _time(self, name: str) -> pd.Series:
        """Parsed times (UTC); empty → NaT; unparseable → refused; no zone → Beijing time."""
        values = self.text(name)
        if not (values != "").any():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        # Each distinct text is parsed once: a file's times repeat (a day's reports, empty deadlines).
        codes, distinct = pd.factorize(values)
        result = pd.Series(_parse_times(pd.Series(distinct, dtype=str)).array.take(codes), index=values.index)
        unreadable = (result.isna() & (values != "")).to_numpy()
        self.refuse(unreadable, name, lambda i: f"not an ISO 8601 date-time ({values.iat[i]!r})")
        return result

    def _place(self) -> None:
        raw_lon, raw_lat = self.text("lon"), self.text("lat")
        lon = pd.to_numeric(raw_lon, errors="coerce").to_numpy(dtype=np.float64)
        lat = pd.to_numeric(raw_lat, errors="coerce").to_numpy(dtype=np.float64)
        for name, values, raw in (("lon", lon, raw_lon), ("lat", lat, raw_lat)):
            self.refuse(~np.isfinite(values), name,
                        lambda i, r=raw: f"must be a finite number of degrees (got {r.iat[i]!r})")
        usable = np.isfinite(lon) & np.isfinite(lat)
        in_range = usable & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        atlas = Atlas.load(self.session)
        x, y = self._wgs84(np.where(in_range, lon, 0.0), np.where(in_range, lat, 0.0))
        points = shapely.points(x, y)
        community = np.where(in_range, atlas.community_of(points), -1)
        # Swapped? Only for the few rows that found no community.
        candidates = np.flatnonzero(usable & (community < 0) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90))
        looks_swapped = np.zeros(self.n, dtype=bool)
        if candidates.size:
            sx, sy = self._wgs84(lat[candidates], lon[candidates])
            looks_swapped[candidates] = atlas.community_of(shapely.points(sx, sy)) >= 0
        self.refuse(looks_swapped, "lon/lat", lambda i: swapped_message(lon[i], lat[i]))
        out_of_range = usable & ~in_range & ~looks_swapped
        self.refuse(out_of_range & (np.abs(lon) > 180), "lon", lambda i: f"{lon[i]} is outside [-180, 180]")
        self.refuse(out_of_range & (np.abs(lat) > 90), "lat", lambda i: f"{lat[i]} is outside [-90, 90]")
        outside = in_range & (community < 0) & ~looks_swapped
        near_edge = np.zeros(self.n, dtype=bool)
        if outside.any() and atlas.codes.size:
            positions = np.flatnonzero(outside)
            nearest, metres = atlas.nearest(points[positions], self.settings.metric_crs)
            close = metres <= self.edge_tolerance_m  # as gis.incidents.locate: GPS noise, hairline gaps
            community[positions[close]], near_edge[positions[close]] = nearest[close], True
            hints = dict(zip(positions, zip(nearest, metres, strict=True), strict=True))
            self.refuse(outside & ~near_edge, "location", lambda i: outside_message(
                float(x[i]), float(y[i]), atlas.names[hints[i][0]], atlas.codes[hints[i][0]], float(hints[i][1])))
        elif outside.any():
            self.refuse(outside, "location", "no community boundaries are loaded; load boundaries first")
        where = np.where(self.ok, community, -1)
        self.columns["x"], self.columns["y"] = x, y
        self.columns["community_code"] = atlas.codes_at(where)
        self.columns["subdistrict_code"] = atlas.parents_at(where)
        self.columns["team_id"] = atlas.teams_at(where)
        self.columns["cell_code"] = atlas.cell_of(points, where, near_edge)

    def _wgs84(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wx, wy = convert(lon, lat, self.datum, InputDatum.wgs84)
        return np.asarray(wx, dtype=np.float64), np.asarray(wy, dtype=np.float64)


def _stripped(values: pd.Series) -> pd.Series:
    """``values.str.strip()``, done once per distinct value where values repeat (codes, statuses, times), and
    not at all in a column without any whitespace (coordinates)."""
    codes, distinct = pd.factorize(values)
    if 2 * len(distinct) > len(values):
        if not any(character.isspace() for character in set("".join(values.tolist()))):
            return values
        return values.str.strip()
    return pd.Series(pd.Series(distinct, dtype=str).str.strip().array.take(codes), index=values.index)


def _parse_times(values: pd.Series) -> pd.Series:
    """Texts as UTC times; "" and unreadable texts → NaT; no zone → Beijing time."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    zoned = values.str.contains(_TZ_SUFFIX, regex=True)
    if zoned.any():
        result[zoned] = pd.to_datetime(values[zoned], errors="coerce", utc=True, format="ISO8601")
    naive = ~zoned & (values != "")
    if naive.any():
        local = pd.to_datetime(values[naive], errors="coerce", format="ISO8601")
        result[naive] = local.dt.tz_localize(SHANGHAI, nonexistent="NaT", ambiguous="NaT").dt.tz_convert(UTC)
    return result


# -- writing --------------------------------------------------------------------------------------------
_INCIDENT_COLUMNS = (
    "id", "public_id", "category_code", "description", "location", "address", "source", "cell_code",
    "community_code", "subdistrict_code", "team_id", "status", "version", "deadline_at", "reported_at",
    "updated_at", "closed_at",
)
_EVENT_COLUMNS = ("incident_id", "actor_id", "at", "action", "from_status", "to_status", "data")
# Row by row, foreign keys and secondary indexes are the dearest part of a load: PostgreSQL checks each key
# with a look-up and a row lock, and inserts into twelve indexes per incident (COPY of 500,000 incidents:
# 8.5 s with them, 1.9 s without, plus 3.4 s to build the indexes afterwards, each in one sorted pass). A load
# of at least BULK_ROWS rows that is also at least as large as the table (a first or historic load) drops
# them and adds them back after, the foreign keys validated by one join each (every value was checked
# against the same tables in this transaction anyway). Primary keys, unique and CHECK constraints stay:
# they are checked row by row as always. The price: the incident tables are locked (ACCESS EXCLUSIVE) until
# the import commits. Smaller loads into a large table keep everything, where rebuilding the whole table's
# indexes would cost more than it saves.
BULK_ROWS = 10_000
COPY_CHUNK = 50_000  # rows per block sent to COPY (and per progress report)
# Hex EWKB of a little-endian POINT with our SRID, up to its coordinates.
_EWKB_POINT = "0101000020" + SRID.to_bytes(4, "little").hex().upper()
_NULL = "\\N"  # COPY text format's NULL


def _copy(session: Session, checked: _Checker, good: np.ndarray, file_name: str, actor: User | None,
          now: datetime, progress: ProgressReporter) -> int:
    """COPY the good rows, then one ``import`` event each; returns how many incidents were written.

    Both tables are loaded by COPY in its text format, written a block at a time from whole columns (escaped
    and joined by vectorised string operations), not row by row through the driver. A writer thread sends
    the blocks, so PostgreSQL reads one while the next is being formatted here."""
    n = int(good.sum())
    ids = _reserve_ids(session, n)
    id_text = ids.astype(str)
    now_text = _timestamps(pd.Series([pd.Timestamp(now)]))[0]
    c = checked.columns
    status = _texts(c["status"][good])
    session.flush()
    connection = session.connection().connection.driver_connection
    assert connection is not None
    with _bulk_load(session, n), connection.cursor() as cursor:
        # Table and column names are ours (constants above), never user input.
        with cursor.copy(f"COPY incident ({', '.join(_INCIDENT_COLUMNS)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            _send(copy, _incident_columns(c, good, id_text, status, now_text), n, "copy incidents", progress)
            # Formatted while PostgreSQL is still reading the incidents.
            events = _event_columns(checked.rows[good], id_text, status, now_text, file_name, actor)
        with cursor.copy(f"COPY incident_event ({', '.join(_EVENT_COLUMNS)}) FROM STDIN",
                         writer=QueuedLibpqWriter(cursor)) as copy:
            _send(copy, events, n, "import events", progress)
    return n


def _incident_columns(c: dict[str, Any], good: np.ndarray, id_text: np.ndarray, status: np.ndarray,
                      now_text: str) -> list[np.ndarray]:
    """The values of ``_INCIDENT_COLUMNS`` as COPY text, one array per column."""
    n = len(id_text)
    reported = c["reported_at"][good]
    years = reported.dt.tz_convert(SHANGHAI).dt.year.to_numpy().astype(str)
    teams = c["team_id"][good]
    return [
        id_text,
        np.char.add(np.char.add(f"{PUBLIC_ID_PREFIX}-", years), np.char.add("-", np.char.zfill(id_text, 6))),
        _texts(c["category_code"][good]),
        _texts(c["description"][good]),
        _ewkb_points(c["x"][good], c["y"][good]),
        _texts(c["address"][good]),
        _texts(c["source"][good]),
        _texts(c["cell_code"][good]),
        _texts(c["community_code"][good]),
        _texts(c["subdistrict_code"][good]),
        np.where(teams < 0, _NULL, teams.astype(str)),
        status,
        np.full(n, "1", dtype=object),
        _timestamps(c["deadline_at"][good]),
        _timestamps(reported),
        np.full(n, now_text, dtype=object),
        _timestamps(c["closed_at"][good]),
    ]


def _event_columns(rows: np.ndarray, id_text: np.ndarray, status: np.ndarray, now_text: str, file_name: str,
                   actor: User | None) -> list[np.ndarray]:
    """The values of ``_EVENT_COLUMNS`` as COPY text: an ``import`` event per incident, naming file and row."""
    n = len(id_text)
    # The same jsonb as jsonb_build_object('file', …, 'row', …): {"row": 2, "file": "cases.csv"}.
    prefix = '{"file": ' + orjson.dumps(file_name).decode() + ', "row": '
    data = _texts(np.array([f"{prefix}{row}}}" for row in rows.tolist()], dtype=object))
    return [
        id_text,
        np.full(n, _NULL if actor is None else str(actor.id), dtype=object),
        np.full(n, now_text, dtype=object),
        np.full(n, "import", dtype=object),
        np.full(n, _NULL, dtype=object),
        status,
        data,
    ]


def _send(copy: Copy, columns: list[np.ndarray], n: int, stage: str, progress: ProgressReporter) -> None:
    progress(stage, 0, n)
    for begin in range(0, n, COPY_CHUNK):
        end = min(begin + COPY_CHUNK, n)
        copy.write(_block([column[begin:end] for column in columns]))
        progress(stage, end, n)


def _block(columns: list[np.ndarray]) -> bytes:
    """Rows of COPY text: the columns' values (already escaped) joined by tabs, one line per row."""
    return ("\n".join(map("\t".join, zip(*(column.tolist() for column in columns), strict=True))) + "\n").encode()


def _texts(values: pd.Series | np.ndarray) -> np.ndarray:
    """Text values escaped for COPY's text format (backslash, tab, newline, carriage return); None → NULL."""
    items = np.asarray(values, dtype=object)
    missing = pd.isna(items)
    result = np.where(missing, "", items)
    joined = "".join(result.tolist())  # one scan in C finds whether any value needs escaping at all
    if any(special in joined for special in _COPY_SPECIALS):
        escaped = pd.Series(result, dtype=object)
        for raw, replacement in _COPY_SPECIALS.items():
            escaped = escaped.str.replace(raw, replacement, regex=False)
        result = np.array(escaped, dtype=object)
    result[missing] = _NULL
    return result


_COPY_SPECIALS = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}  # backslash first


def _timestamps(values: pd.Series) -> np.ndarray:
    """UTC times as ISO 8601 text with a zone (what ``timestamptz`` reads); NaT → NULL. Each distinct time
    is formatted once (a file's times repeat: a day's reports, empty deadlines)."""
    utc = values.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    codes, distinct = pd.factorize(utc, use_na_sentinel=False)
    distinct = np.asarray(distinct, dtype="datetime64[us]")
    formatted = np.char.add(np.datetime_as_string(distinct, unit="us"), "+00:00").astype(object)
    formatted[np.isnat(distinct)] = _NULL
    return formatted[codes]  # type: ignore[no-any-return]


@contextmanager
def _bulk_load(session: Session, rows: int) -> Iterator[None]:
    """For a load of at least BULK_ROWS rows and at least the table's size, drop the foreign keys and the
    secondary indexes of the incident tables for the block, and add them back (validated, rebuilt) after it."""
    if not _drops_indexes(session, rows):
        yield
        return
    # Statements are made by the catalogue (format with %I / regclass quoting, pg_get_indexdef), never from
    # the file's data.
    constraints = session.execute(text("""
        SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
               format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
        FROM pg_constraint
        WHERE contype = 'f' AND conrelid IN ('incident'::regclass, 'incident_event'::regclass)
        ORDER BY conname
    """)).all()
    # Indexes that back no constraint (primary keys and unique constraints keep theirs, and keep checking).
    # Partial indexes stay too: closed history, most of a historic load, is not in them, and PostgreSQL would
    # re-read a predicate from pg_get_indexdef into other (equivalent) words, drifting from the migrations.
    indexes = session.execute(text("""
        SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid IN ('incident'::regclass, 'incident_event'::regclass)
          AND i.indpred IS NULL
          AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY i.indexrelid::regclass::text
    """)).all()
    for drop, _ in [*constraints, *indexes]:
        session.execute(text(drop))
    yield
    for _, restore in [*indexes, *constraints]:
        session.execute(text(restore))


def _drops_indexes(session: Session, rows: int) -> bool:
    """Whether a load of ``rows`` rows is one for :func:`_bulk_load`: at least BULK_ROWS and no fewer than the
    table holds (by the planner's estimate, -1 when never analysed)."""
    if rows < BULK_ROWS:
        return False
    existing = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'incident'::regclass")) or 0
    return rows >= existing


def _reserve_ids(session: Session, n: int) -> np.ndarray:
    """``n`` fresh incident ids from the table's sequence (usually one contiguous run: sent as a range)."""
    # The sequence is named once: resolving it per row (pg_get_serial_sequence in the select list) costs
    # twenty times the drawing itself.
    sequence = session.scalar(text("SELECT pg_get_serial_sequence('incident', 'id')"))
    low, high = session.execute(text("""
        SELECT min(v), max(v)
        FROM (SELECT nextval(CAST(:sequence AS regclass)) AS v FROM generate_series(1, :n)) AS drawn
    """), {"sequence": sequence, "n": n}).one()
    if high - low + 1 == n:
        return np.arange(low, high + 1, dtype=np.int64)
    # Another session drew numbers in between: ours are not contiguous, so ask for a fresh run whole.
    return np.array(session.scalars(text(
        "SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"
    ), {"sequence": sequence, "n": n}).all(), dtype=np.int64)


def _ewkb_points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hex EWKB of POINT(x y) with SRID 4326 for each pair, without building geometries."""
    hexed = np.column_stack([x, y]).astype("<f8").tobytes().hex().upper()
    return np.array([_EWKB_POINT + hexed[i : i + 32] for i in range(0, len(hexed), 32)], dtype=object)
