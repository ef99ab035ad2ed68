"""Bulk import of incidents (a 12345 hotline export, historic cases) from CSV or GeoJSON, fast.

Every row is checked by the rules of a single report (``gis.incidents.service.create``): a known active category,
finite lon/lat in range and not swapped, inside a community or within ``edge_tolerance_m`` of one (else the
nearest one and its distance are named), text within its limits, a known status and source, ISO 8601 times
not in the future. Refused rows are reported with their row number, field and reason. The good rows go in
one transaction — or, all-or-nothing (the default), nothing goes in when any row is refused.

Speed comes from doing the spatial work once and in memory: the current communities and cells are loaded
once into shapely STRtrees and every point is located in one vectorised query; rows that already carry
their cell, community, subdistrict and team then go in by PostgreSQL COPY with one ``import`` event each
(``gis.incidents.bulk_copy``). Not done for imports:
duplicate detection (a history holds the duplicates it holds), deadlines (taken from a ``deadline_at``
column when given, never computed), photos.

Columns (header names; only the first three are required)::

    lon,lat,category,description,address,reported_at,status,source,closed_at,deadline_at

A file that names them otherwise, a shapefile or GeoPackage of points in any CRS, a GBK CSV: see
:mod:`gis.incidents.sources` (``SourceOptions``: a column mapping, a categories map, the CRS, the encoding, the
time zone). Times without a zone are in ``SourceOptions.timezone``, else the settings' ``timezone``
(Asia/Shanghai for Jishou). ``closed_at`` is accepted only with a final status (closed, rejected, void) and
left empty when a final case does not give it. The snap tolerance is the settings' ``snap_tolerance_m``
(0: none); the report counts the points it gave to a community they lie outside of.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.incidents.bulk_copy import copy_incidents
from gis.incidents.location import Atlas, outside_message, swapped_message
from gis.incidents.service import EARLIEST_REPORT, FUTURE_TOLERANCE, MAX_ADDRESS
from gis.incidents.sources import OPTIONAL, REQUIRED, SourceOptions, read_source
from gis.models import Category, Source, Status, User
from gis.models.incidents import FINAL_STATUSES, MAX_DESCRIPTION
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings
from gis.spatial.crs import InputDatum, convert

__all__ = ["OPTIONAL", "REQUIRED", "ImportReport", "RefusedRow", "import_incidents"]
MAX_UNKNOWN_LISTED = 50  # distinct category values the report lists
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
    snapped: int = 0  # good rows outside every community, given to the nearest one within the snap tolerance
    snap_tolerance_m: float = 0.0
    unknown_categories: dict[str, int] = field(default_factory=dict)  # values the categories map lacks → rows
    described: str = ""  # how the file was read

    @property
    def refused_rows(self) -> int:
        return len({r.row for r in self.refused})

    def __str__(self) -> str:
        rate = f" ({self.imported / self.seconds:,.0f}/s)" if self.imported and self.seconds else ""
        snapped = (f", {self.snapped:,} points snapped to the nearest community (≤ {self.snap_tolerance_m:g} m)"
                   if self.snapped else "")
        return (f"{self.imported:,} of {self.total:,} incidents imported{rate}, "
                f"{self.refused_rows:,} rows refused{snapped}")


def import_incidents(
    session: Session,
    path: Path,
    *,
    all_or_nothing: bool = True,
    datum: InputDatum | str = InputDatum.wgs84,
    edge_tolerance_m: float | None = None,
    source: SourceOptions | None = None,
    offline: bool = False,
    actor: User | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    progress: ProgressReporter = no_progress,
) -> ImportReport:
    """Check every row of ``path`` (CSV, GeoJSON or a vector file GDAL reads, read as ``source`` says) and
    write the good ones by COPY; flush, never commit. The live API keeps reading and creating meanwhile;
    ``offline`` (the city is not running) lets a large load drop and rebuild indexes for speed
    (:func:`gis.incidents.bulk_copy.bulk_load`).

    Raises InvalidInput when the file itself cannot be read (format, missing required columns); rows are
    never the cause of an exception, they are reported in ``ImportReport.refused``."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    source = source or SourceOptions()
    progress("read", 0, 1)
    read = read_source(path, source)
    frame = read.frame
    progress("read", 1, 1)
    progress("check", 0, len(frame))
    settings = settings or Settings()
    tolerance = settings.snap_tolerance_m if edge_tolerance_m is None else edge_tolerance_m
    zone = ZoneInfo(source.timezone) if source.timezone else settings.zone
    checked = _Checker(session, frame, read.rows, datum, settings, now, tolerance,
                       categories=source.categories, zone=zone, time_format=source.time_format)
    for row, reason in read.geometry_errors:
        checked.refuse_rows(np.array([row]), "geometry", reason)
    good = checked.run()
    progress("check", len(frame), len(frame))
    report = ImportReport(total=len(frame), imported=0, refused=checked.refused,
                          snapped=int((checked.near_edge & good).sum()), snap_tolerance_m=tolerance,
                          unknown_categories=checked.unknown_categories, described=read.described)
    if good.any() and not (all_or_nothing and checked.refused):
        report.imported = copy_incidents(session, checked.columns, checked.rows, good, path.name, actor, now,
                                         progress, offline=offline, settings=settings)
    report.seconds = time.perf_counter() - started
    return report


# -- checking -------------------------------------------------------------------------------------------
class _Checker:
    """Vectorised checks of a whole file; refused rows are collected, never raised."""

    def __init__(self, session: Session, frame: pd.DataFrame, rows: np.ndarray, datum: InputDatum | str,
                 settings: Settings, now: datetime, edge_tolerance_m: float, *,
                 categories: dict[str, str] | None = None, zone: ZoneInfo | None = None,
                 time_format: str | None = None) -> None:
        self.session, self.frame, self.rows, self.now = session, frame, rows, now
        self.datum, self.settings, self.edge_tolerance_m = datum, settings, edge_tolerance_m
        self.categories, self.zone, self.time_format = categories, zone or settings.zone, time_format
        self.unknown_categories: dict[str, int] = {}
        self.n = len(frame)
        self.near_edge = np.zeros(self.n, dtype=bool)
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
        if self.categories is not None:
            codes = self._mapped_categories(codes)
        empty = (codes == "").to_numpy()
        self.refuse(empty, "category", "required (a 5-digit GB/T 47678.5 matter code)")
        unknown = ~codes.isin(active).to_numpy() & ~empty & (codes != "-").to_numpy()
        self.refuse(unknown, "category", lambda i: f"unknown or inactive code {codes.iat[i]!r}")
        self.columns["category_code"] = codes

    def _mapped_categories(self, values: pd.Series) -> pd.Series:
        """The file's category words through the categories map; values it lacks are refused and counted
        (the report lists them), never guessed."""
        assert self.categories is not None
        mapped = values.map(self.categories)
        missing = (mapped.isna() & (values != "")).to_numpy()
        if missing.any():
            counts = values[missing].value_counts()
            self.unknown_categories = {str(k): int(v) for k, v in counts.head(MAX_UNKNOWN_LISTED).items()}
            self.refuse(missing, "category", lambda i: f"{values.iat[i]!r} is not in the categories map")
        # A refused row keeps its own word, so the code check below does not report it a second time.
        return mapped.fillna("").where(~missing, "-")

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
        early = (reported < pd.Timestamp(EARLIEST_REPORT)).to_numpy()
        self.refuse(early, "reported_at", lambda i: f"{reported.iat[i].isoformat()} is before {EARLIEST_REPORT.year}")
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
        parsed = _parse_times(pd.Series(distinct, dtype=str), self.zone, self.time_format)
        result = pd.Series(parsed.array.take(codes), index=values.index)
        unreadable = (result.isna() & (values != "")).to_numpy()
        wanted = (f"a date-time as {self.time_format}" if self.time_format
                  else "an ISO 8601 date-time of the years 2000-2099")
        self.refuse(unreadable, name, lambda i: f"not {wanted} ({values.iat[i]!r})")
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
            # As gis.incidents.location.locate: GPS noise, hairline gaps; a tolerance of 0 snaps nothing.
            close = (metres <= self.edge_tolerance_m) if self.edge_tolerance_m > 0 else np.zeros(len(metres), bool)
            community[positions[close]], near_edge[positions[close]] = nearest[close], True
            hints = dict(zip(positions, zip(nearest, metres, strict=True), strict=True))
            self.refuse(outside & ~near_edge, "location", lambda i: outside_message(
                float(x[i]), float(y[i]), atlas.names[hints[i][0]], atlas.codes[hints[i][0]], float(hints[i][1])))
        elif outside.any():
            self.refuse(outside, "location", "no community boundaries are loaded; load boundaries first")
        self.near_edge = near_edge
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


def _parse_times(values: pd.Series, zone: ZoneInfo, time_format: str | None = None) -> pd.Series:
    """Texts as UTC times; "" and unreadable texts → NaT; no zone → in ``zone`` (a time that does not exist
    or is ambiguous there, at a DST change, is unreadable rather than guessed). ``time_format`` (strftime)
    reads exports that are not ISO 8601, e.g. ``%m/%d/%Y %I:%M:%S %p``."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    parse_format = time_format or "ISO8601"
    zoned = values.str.contains(_TZ_SUFFIX, regex=True) if time_format is None else values != values
    if zoned.any():
        result[zoned] = _to_datetime(values[zoned], utc=True, time_format=parse_format)
    naive = ~zoned & (values != "")
    if naive.any():
        local = _to_datetime(values[naive], utc=False, time_format=parse_format)
        if local.dt.tz is not None:  # a format with %z gave zoned times
            result[naive] = local.dt.tz_convert(UTC)
        else:
            result[naive] = local.dt.tz_localize(zone, nonexistent="NaT", ambiguous="NaT").dt.tz_convert(UTC)
    return result


def _to_datetime(values: pd.Series, *, utc: bool, time_format: str = "ISO8601") -> pd.Series:
    """``pd.to_datetime`` with unreadable texts as NaT, and so are dates beyond the nanosecond range the
    columns hold (before 1678 or after 2261, such as a client's year-1 zero value), which would otherwise
    fail when stored into them."""
    parsed = pd.to_datetime(values, errors="coerce", utc=utc, format=time_format)
    years = parsed.dt.year
    return parsed.where((years >= 1678) & (years <= 2261))
