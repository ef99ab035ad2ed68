"""Importing units, pairings and shared facilities from CSV or GeoJSON: validate everything, then write.

One import may take several files; what each holds is told by its columns:

* **units**: ``name, kind`` and optionally ``credit_code, address, lon, lat, contact_name, contact_phone``;
* **pairings**: ``unit, community_code`` and optionally ``since`` (YYYY-MM-DD), ``commitment``;
* **facilities**: ``unit, name, type, capacity, opening_hours`` and ``lon, lat`` (or a GeoJSON Point; a
  GeoJSON Polygon is the footprint, its point then defaults to a point inside it), optionally
  ``open_share`` (0.3 or 30%), ``holidays``, ``booking_required`` (yes/no, 是/否), ``approval_required``
  (yes/no, default no), ``rules``, ``photos`` (separated by ``|``), ``address``, ``footprint`` (WKT).

Units are written first, then pairings, then facilities, so a facility may name a unit of the same
import. Like every import, it is all or nothing: every row of every file is checked (fields, community
codes, facilities outside every community, unknown units, duplicates) and one ValidationFailed lists all
problems before anything is written. Rows are matched by unit name, (unit, community) and (unit, facility
name), so importing the same files twice changes nothing. Coordinates are WGS84 unless ``datum`` says
GCJ-02 (AMap) or BD-09 (Baidu).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, Problem, ValidationFailed
from gis.facilities import service as fac
from gis.facilities.opening_hours import parse_holidays
from gis.models import Facility, Unit, UnitPairing
from gis.spatial.crs import InputDatum, convert, convert_geometry
from gis.spatial.readers import read_vector, text_value

_TRUE = {"1", "true", "yes", "y", "是", "需要", "需预约"}
_FALSE = {"0", "false", "no", "n", "否", "不需要", "免预约"}
UNIT_COLUMNS = {"name", "kind"}
PAIRING_COLUMNS = {"unit", "community_code"}
FACILITY_COLUMNS = {"unit", "name", "type", "capacity", "opening_hours"}


@dataclass
class Counts:
    added: int = 0
    changed: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.changed} changed, {self.unchanged} unchanged"


@dataclass
class FacilityImportSummary:
    units: Counts = field(default_factory=Counts)
    pairings: Counts = field(default_factory=Counts)
    facilities: Counts = field(default_factory=Counts)

    def __str__(self) -> str:
        return f"units: {self.units}; pairings: {self.pairings}; facilities: {self.facilities}"


@dataclass
class _Rows:
    units: list[tuple[str, fac.UnitSpec]] = field(default_factory=list)
    pairings: list[tuple[str, str, str, date | None, str | None]] = field(default_factory=list)
    facilities: list[tuple[str, str, fac.FacilitySpec]] = field(default_factory=list)  # label, unit, spec


def import_files(session: Session, paths: Sequence[str | Path], *,
                 datum: InputDatum = InputDatum.wgs84) -> FacilityImportSummary:
    """Validate every row of ``paths`` (units, pairings, facilities in any order), then write them all.

    Raises InvalidInput when a file cannot be read or its kind cannot be told from its columns, and
    ValidationFailed listing every problem (nothing written) when any row is wrong."""
    rows, problems = _Rows(), []
    for path in paths:
        problems += _read(Path(path), datum, rows)
    problems += _check(session, rows)
    if problems:
        raise ValidationFailed(problems=problems, what="facilities import")
    return _write(session, rows)


def load_sample_facilities(session: Session, folder: str | Path) -> FacilityImportSummary:
    """Load ``folder``'s ``*units*.csv``, ``*pairings*.csv`` and ``*facilities*`` files (the Jishou
    sample: ``data/facilities``); idempotent, so a second run reports everything unchanged."""
    folder = Path(folder)
    files = [p for pattern in ("*units*.csv", "*pairings*.csv", "*facilities*.csv", "*facilities*.geojson")
             for p in sorted(folder.glob(pattern))]
    if not files:
        raise InvalidInput(f"{folder}: no units/pairings/facilities files found")
    return import_files(session, files)


# -- reading ---------------------------------------------------------------------------------------

def _read(path: Path, datum: InputDatum, rows: _Rows) -> list[Problem]:
    frame, geometries = _frame(path, datum)
    columns = set(frame.columns)
    label = path.name
    if columns >= FACILITY_COLUMNS:
        return _facility_rows(frame, geometries, label, datum if path.suffix.lower() == ".csv" else None, rows)
    if columns >= PAIRING_COLUMNS:
        return _pairing_rows(frame, label, rows)
    if columns >= UNIT_COLUMNS:
        return _unit_rows(frame, label, datum, rows)
    raise InvalidInput(
        f"{path}: cannot tell what the file holds from its columns {sorted(columns)} — fix: units need "
        f"{sorted(UNIT_COLUMNS)}, pairings {sorted(PAIRING_COLUMNS)}, facilities {sorted(FACILITY_COLUMNS)}")


def _frame(path: Path, datum: InputDatum) -> tuple[pd.DataFrame, list[BaseGeometry | None]]:
    if path.suffix.lower() == ".csv":
        if not path.exists():
            raise InvalidInput(f"{path}: no such file — fix: check the path")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InvalidInput(f"{path}: not a UTF-8 CSV file ({exc})") from None
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame, [None] * len(frame)
    file = read_vector(path, datum=datum)  # converts GeoJSON/GPKG coordinates to WGS84 already
    geometries = list(file.frame.geometry)
    return pd.DataFrame(file.frame.drop(columns=file.frame.geometry.name)), geometries


def _value(row: dict[str, Any], name: str) -> str | None:
    return text_value(row.get(name))


def _number(row: dict[str, Any], name: str, label: str, problems: list[Problem], *,
            percent: bool = False) -> float | None:
    raw = _value(row, name)
    if raw is None:
        return None
    try:
        return float(raw[:-1]) / 100 if percent and raw.endswith("%") else float(raw)
    except ValueError:
        problems.append(Problem("error", label, f"{name}: {raw!r} is not a number"))
        return None


def _unit_rows(frame: pd.DataFrame, source: str, datum: InputDatum, rows: _Rows) -> list[Problem]:
    problems: list[Problem] = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        label = f"{source} row {number} {_value(row, 'name') or ''}".strip()
        lon, lat = _number(row, "lon", label, problems), _number(row, "lat", label, problems)
        if lon is not None and lat is not None and datum is not InputDatum.wgs84:
            lon, lat = (float(v) for v in convert(lon, lat, datum))
        spec = fac.UnitSpec(
            name=_value(row, "name") or "", kind=_value(row, "kind") or "", credit_code=_value(row, "credit_code"),
            address=_value(row, "address"), lon=lon, lat=lat, contact_name=_value(row, "contact_name"),
            contact_phone=_value(row, "contact_phone"))
        problems += [Problem("error", label, message) for message in spec.problems()]
        rows.units.append((label, spec))
    return problems


def _pairing_rows(frame: pd.DataFrame, source: str, rows: _Rows) -> list[Problem]:
    problems: list[Problem] = []
    for number, row in enumerate(frame.to_dict("records"), start=2):
        label = f"{source} row {number}"
        unit, community = _value(row, "unit"), _value(row, "community_code")
        since_text = _value(row, "since")
        since = None
        if since_text:
            try:
                since = date.fromisoformat(since_text)
            except ValueError:
                problems.append(Problem("error", label, f"since: {since_text!r} is not a date YYYY-MM-DD"))
        if not unit or not community:
            problems.append(Problem("error", label, "unit and community_code: both required"))
            continue
        rows.pairings.append((label, unit, community, since, _value(row, "commitment")))
    return problems


def _facility_rows(frame: pd.DataFrame, geometries: list[BaseGeometry | None], source: str,
                   csv_datum: InputDatum | None, rows: _Rows) -> list[Problem]:
    problems: list[Problem] = []
    for number, (row, geometry) in enumerate(zip(frame.to_dict("records"), geometries, strict=True), start=2):
        label = f"{source} row {number} {_value(row, 'name') or ''}".strip()
        found: list[Problem] = []
        lon, lat = _number(row, "lon", label, found), _number(row, "lat", label, found)
        footprint = _footprint(row, geometry, label, found)
        if isinstance(geometry, Point):
            lon, lat = (geometry.x, geometry.y) if lon is None or lat is None else (lon, lat)
        if csv_datum not in (None, InputDatum.wgs84):
            if lon is not None and lat is not None:
                lon, lat = (float(v) for v in convert(lon, lat, csv_datum))
            if footprint is not None:
                footprint = convert_geometry(footprint, csv_datum)
        if (lon is None or lat is None) and footprint is not None:
            point = footprint.representative_point()
            lon, lat = point.x, point.y
        capacity = _number(row, "capacity", label, found)
        share = _number(row, "open_share", label, found, percent=True)
        try:
            holidays = parse_holidays(_value(row, "holidays"))
        except InvalidInput as exc:
            found.append(Problem("error", label, str(exc)))
            holidays = []
        booking = _flag(_value(row, "booking_required"), label, found)
        approval = _flag(_value(row, "approval_required"), label, found, name="approval_required", default=False)
        photos = [p.strip() for p in (_value(row, "photos") or "").split("|") if p.strip()]
        spec = fac.FacilitySpec(
            name=_value(row, "name") or "", type=_value(row, "type") or "",
            lon=lon if lon is not None else float("nan"), lat=lat if lat is not None else float("nan"),
            capacity=int(capacity) if capacity is not None and capacity.is_integer() else -1,
            opening_hours=_value(row, "opening_hours") or "", open_share=share if share is not None else 1.0,
            holidays=holidays, booking_required=booking, approval_required=approval, rules=_value(row, "rules"),
            photos=photos, footprint=footprint, address=_value(row, "address"))
        if not found:
            found += [Problem("error", label, message) for message in spec.problems()]
        problems += found
        rows.facilities.append((label, _value(row, "unit") or "", spec))
    return problems


def _footprint(row: dict[str, Any], geometry: BaseGeometry | None, label: str,
               problems: list[Problem]) -> BaseGeometry | None:
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    wkt = _value(row, "footprint")
    if wkt is None:
        return None
    try:
        return shapely.from_wkt(wkt)
    except shapely.errors.GEOSException:
        problems.append(Problem("error", label, "footprint: not WKT, e.g. POLYGON((109.73 28.31, …))"))
        return None


def _flag(raw: str | None, label: str, problems: list[Problem], name: str = "booking_required",
          default: bool = True) -> bool:
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    problems.append(Problem("error", label, f"{name}: {raw!r} is not yes/no (是/否)"))
    return default


# -- checking against the store -------------------------------------------------------------------

def _check(session: Session, rows: _Rows) -> list[Problem]:
    problems: list[Problem] = []
    stored_units = {u.name: u for u in session.execute(select(Unit)).scalars()}
    known_units = set(stored_units) | {spec.name.strip() for _, spec in rows.units}
    problems += _duplicates([(label, spec.name.strip()) for label, spec in rows.units], "unit name")
    codes = [(label, spec.credit_code) for label, spec in rows.units if spec.credit_code]
    problems += _duplicates(codes, "credit_code")
    for label, spec in rows.units:
        if spec.credit_code:
            other = session.execute(select(Unit.name).where(Unit.credit_code == spec.credit_code,
                                                            Unit.name != spec.name.strip())).scalar_one_or_none()
            if other is not None:
                problems.append(Problem("error", label, f"credit_code: {spec.credit_code} belongs to {other}"))
    for label, unit, community, _, _ in rows.pairings:
        if unit not in known_units:
            problems.append(Problem("error", label, f"unit: no unit named {unit!r} in this import or stored",
                                    "add it to the units file"))
        try:
            fac.require_community(session, community)
        except InvalidInput as exc:
            problems.append(Problem("error", label, str(exc), "use a current 12-digit community code"))
    problems += _duplicates([(label, (u, c)) for label, u, c, _, _ in rows.pairings], "pairing")
    problems += _duplicates([(label, (u, s.name.strip())) for label, u, s in rows.facilities], "facility name")
    for label, unit, place in rows.facilities:
        if unit not in known_units:
            problems.append(Problem("error", label, f"unit: no unit named {unit!r} in this import or stored",
                                    "add it to the units file"))
        if not place.problems() and fac.community_at(session, place.lon, place.lat) is None:
            problems.append(Problem("error", label, f"lon/lat: ({place.lon:.6f}, {place.lat:.6f}) is outside every "
                                    "community", "check the coordinates (WGS84, lon first) or --datum gcj02"))
    return problems


def _duplicates(items: Iterable[tuple[str, object]], what: str) -> list[Problem]:
    seen: dict[object, str] = {}
    problems = []
    for label, key in items:
        if key in seen:
            problems.append(Problem("error", label, f"{what}: {key} appears twice (also {seen[key]})"))
        else:
            seen[key] = label
    return problems


# -- writing ---------------------------------------------------------------------------------------

def _write(session: Session, rows: _Rows) -> FacilityImportSummary:
    summary = FacilityImportSummary()
    units = {u.name: u for u in session.execute(select(Unit)).scalars()}
    for _, spec in rows.units:
        unit = units.get(spec.name.strip())
        if unit is None:
            units[spec.name.strip()] = fac.create_unit(session, spec)
            summary.units.added += 1
        elif _unit_differs(unit, spec):
            fac.update_unit(session, unit, spec)
            summary.units.changed += 1
        else:
            summary.units.unchanged += 1
    for _, unit_name, community, since, commitment in rows.pairings:
        unit = units[unit_name]
        pairing = session.get(UnitPairing, (unit.id, community))
        if pairing is not None and (pairing.since, pairing.commitment) == (since, commitment):
            summary.pairings.unchanged += 1
            continue
        counter = "added" if pairing is None else "changed"
        fac.pair(session, unit=unit, community_code=community, since=since, commitment=commitment)
        setattr(summary.pairings, counter, getattr(summary.pairings, counter) + 1)
    for _, unit_name, facility in rows.facilities:
        unit = units[unit_name]
        existing = session.execute(select(Facility).where(
            Facility.unit_id == unit.id, Facility.name == facility.name.strip())).scalar_one_or_none()
        if existing is None:
            fac.create_facility(session, unit=unit, spec=facility)
            summary.facilities.added += 1
        elif fac.changed_fields(existing, facility):
            fac.update_facility(session, existing, facility)
            summary.facilities.changed += 1
        else:
            summary.facilities.unchanged += 1
    return summary


def _unit_differs(unit: Unit, spec: fac.UnitSpec) -> bool:
    stored = fac.unit_spec(unit)
    for name in ("lon", "lat"):
        old, new = getattr(stored, name), getattr(spec, name)
        if (old is None) != (new is None) or (old is not None and round(old, 7) != round(new, 7)):
            return True
    return (stored.name, stored.kind, stored.credit_code, stored.address, stored.contact_name,
            stored.contact_phone) != (spec.name.strip(), spec.kind, spec.credit_code or None, spec.address,
                                      spec.contact_name, spec.contact_phone)
