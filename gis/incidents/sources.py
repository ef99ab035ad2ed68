"""Incident sources as they come: any CSV, GeoJSON or vector file GDAL reads, in any CRS and text encoding.

A hotline export names its columns its own way (``Created Date``, ``Complaint Type``), writes its categories
in its own words and its times in its own zone, and may be a shapefile in a state plane CRS. :func:`read_source`
turns such a file into the frame of text columns that :mod:`gis.incidents.bulk_import` checks (``lon``,
``lat``, ``category``, …) without guessing:

- ``SourceOptions.columns`` maps our names to the file's (``{"lon": "Longitude", "category": "Complaint
  Type"}``); names not mapped are looked up as ours, case-insensitively;
- a vector file's points give ``lon``/``lat``, from the file's CRS (its ``.prj``, a GeoPackage's SRS, a
  GeoJSON's ``crs`` member) or ``crs`` when given, which wins;
- a CSV's coordinate columns are lon/lat, or in ``crs`` when given (e.g. EPSG:4546 metres);
- an Open311 GeoReport v2 ``requests.json`` dump of another system (a JSON array of requests) is read by the
  standard's member names (``long``, ``lat``, ``service_code``, ``requested_datetime``…);
- a CSV's bytes are UTF-8 when they decode as UTF-8, else GB18030 (a superset of GBK and GB2312) when they
  decode as that, else refused with the fix; ``encoding`` overrides.

Category words are mapped by a categories map (:func:`load_category_map`); values it does not hold are
reported by the checker, never guessed.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.errors import InvalidInput
from gis.spatial.crs import WGS84
from gis.spatial.readers import read_vector

REQUIRED = ("lon", "lat", "category")
OPTIONAL = ("description", "address", "reported_at", "status", "source", "closed_at", "deadline_at")
OURS = (*REQUIRED, *OPTIONAL)
MAX_CATEGORY_MAP = 10_000
# An Open311 GeoReport v2 request's members → ours (https://wiki.open311.org/GeoReport_v2).
OPEN311_COLUMNS = {"lon": "long", "lat": "lat", "category": "service_code", "reported_at": "requested_datetime",
                   "description": "description", "address": "address", "status": "status"}


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source that does not speak Wangge's columns (all optional)."""

    columns: dict[str, str] = field(default_factory=dict)  # ours → the file's
    categories: dict[str, str] | None = None  # the file's category value → our category code
    crs: str | None = None  # of the coordinates, e.g. "EPSG:26971"; wins over the file's
    encoding: str | None = None  # of a CSV or DBF; detected when None
    layer: str | None = None  # of a file with several
    timezone: str | None = None  # of times without a zone; None: the settings'
    time_format: str | None = None  # strftime format of the times when they are not ISO 8601


@dataclass(frozen=True)
class SourceRows:
    """A source read into text columns named as ours, with each row's number as a person finds it."""

    frame: pd.DataFrame
    rows: np.ndarray
    geometry_errors: list[tuple[int, str]]
    described: str  # how the file was read, e.g. "abandoned_cars.zip in Transverse_Mercator, 31,390 features"


def parse_columns(text: str | None) -> dict[str, str]:
    """``lon=Longitude,lat=Latitude,category="Complaint Type"`` as ``{ours: theirs}``.

    Names may be double-quoted (to hold commas). Raises InvalidInput naming the part that is not
    ``name=column`` or a name that is not one of ours.
    """
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for part in next(csv.reader([text], skipinitialspace=True)):
        ours, sep, theirs = part.partition("=")
        ours, theirs = ours.strip().lower(), theirs.strip().strip('"')
        if not sep or not ours or not theirs:
            raise InvalidInput(f"--columns: {part!r} is not name=column — fix: e.g. "
                               '--columns lon=Longitude,lat=Latitude,category="Complaint Type"')
        if ours not in OURS:
            raise InvalidInput(f"--columns: {ours!r} is not one of ours — fix: use {', '.join(OURS)}")
        mapping[ours] = theirs
    return mapping


def load_category_map(path: Path) -> dict[str, str]:
    """A categories map CSV with the header ``source,code``: the source's value → our category code.

    Values are trimmed. Raises InvalidInput for a missing header, an empty cell, or a source value given
    two different codes.
    """
    if not path.is_file():
        raise InvalidInput(f"--categories {path}: no such file — fix: check the path")
    text = decode(path.read_bytes(), None, what=path.name)
    reader = csv.DictReader(io.StringIO(text))
    header = [f.strip().lower() for f in reader.fieldnames or []]
    if not {"source", "code"} <= set(header):
        raise InvalidInput(f"{path.name}: the header must be source,code (got {','.join(header) or 'nothing'})")
    mapping: dict[str, str] = {}
    for number, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        source, code = row.get("source", ""), row.get("code", "")
        if not source or not code:
            raise InvalidInput(f"{path.name}: line {number}: source and code are both required")
        if mapping.get(source, code) != code:
            raise InvalidInput(f"{path.name}: line {number}: {source!r} is mapped to both {mapping[source]} "
                               f"and {code}")
        mapping[source] = code
        if len(mapping) > MAX_CATEGORY_MAP:
            raise InvalidInput(f"{path.name}: more than {MAX_CATEGORY_MAP:,} values")
    return mapping


def decode(raw: bytes, encoding: str | None, *, what: str) -> str:
    """``raw`` as text: in ``encoding`` when given, else UTF-8 (with or without BOM), else GB18030."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInput(f"--encoding {encoding!r} is not a known encoding — fix: e.g. UTF-8, GBK or "
                               "GB18030") from None
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{what}: is not {encoding} text ({exc}) — fix: give the right --encoding") from None
    for guess in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(guess)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{what}: is neither UTF-8 nor GBK/GB18030 text — fix: name its encoding with "
                       "--encoding, e.g. --encoding cp1252")  # pragma: no cover - GB18030 decodes nearly all


def read_source(path: Path, options: SourceOptions | None = None) -> SourceRows:
    """Read a CSV, GeoJSON or other vector file of incidents into text columns named as ours.

    Raises InvalidInput when the file cannot be read, a mapped column is missing, a required column is
    absent, or the CRS is unknown.
    """
    options = options or SourceOptions()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        result = _read_csv(path, options)
    elif suffix in (".geojson", ".json"):
        result = _read_geojson(path, options)
    else:
        result = _read_vector(path, options)
    missing = [c for c in REQUIRED if c not in result.frame.columns]
    if missing:
        columns = [c for c in result.frame.columns if c not in ("lon", "lat")][:50]
        raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}; the header needs "
                           f"{','.join(REQUIRED)} (optional: {','.join(OPTIONAL)}) — fix: name the file's own "
                           f"columns with --columns, e.g. --columns category=Legend; the file has {columns}")
    return result


def _renamed(columns: list[str], mapping: dict[str, str], *, what: str) -> dict[str, str]:
    """The file's column → our name, for the mapped columns and those already named as ours."""
    missing = [theirs for theirs in mapping.values() if theirs not in columns]
    if missing:
        raise InvalidInput(f"{what}: no column {', '.join(map(repr, missing))} (--columns) — fix: use one of "
                           f"{columns[:50]}")
    renames = {theirs: ours for ours, theirs in mapping.items()}
    for column in columns:
        ours = column.strip().lower()
        if column not in renames and ours in OURS and ours not in mapping:
            renames[column] = ours
        if column not in renames and ours == "category_code" and "category" not in mapping:
            renames[column] = "category"
    return renames


def _read_csv(path: Path, options: SourceOptions) -> SourceRows:
    text = decode(path.read_bytes(), options.encoding, what=path.name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"{path.name}: not a readable CSV ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    renames = _renamed(list(frame.columns), options.columns, what=path.name)
    frame = frame[list(renames)].rename(columns=renames)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    described = f"{path.name}: CSV, {len(frame):,} rows"
    crs = _parse_crs(options.crs)
    if crs is not None and not crs.is_geographic and {"lon", "lat"} <= set(frame.columns):
        frame["lon"], frame["lat"] = _to_lonlat_text(frame["lon"], frame["lat"], crs)
        described += f", coordinates in {crs.to_string()}"
    return SourceRows(frame, np.arange(len(frame)) + 2, [], described)


def _read_geojson(path: Path, options: SourceOptions) -> SourceRows:
    """The fast path for a FeatureCollection of Points; its ``crs`` member (or ``--crs``) is honoured."""
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid JSON ({exc})") from None
    if isinstance(document, list) and document and all(isinstance(i, dict) and "type" not in i for i in document):
        return _read_open311(path, document, options)
    if isinstance(document, list):  # an array of Features, as some exports write
        document = {"type": "FeatureCollection", "features": document}
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput(f"{path.name}: expected a GeoJSON FeatureCollection (or an array of Features)")
    features = document.get("features") or []
    names = sorted({str(k) for f in features[:1000] if isinstance(f, dict)
                    for k in (f.get("properties") or {})})
    renames = _renamed(names, options.columns, what=path.name)
    wanted = {ours: theirs for theirs, ours in renames.items()}
    columns: dict[str, list[str]] = {"lon": [], "lat": [], **{name: [] for name in wanted if name not in
                                                                   ("lon", "lat")}}
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
        for name in columns:
            if name not in ("lon", "lat"):
                value = properties.get(wanted[name])
                columns[name].append("" if value is None else str(value))
    frame = pd.DataFrame(columns, dtype=str)
    described = f"{path.name}: GeoJSON, {len(frame):,} features"
    crs = _parse_crs(options.crs) or _declared_crs(document, path)
    if crs is not None and not _is_wgs84_lonlat(crs):
        frame["lon"], frame["lat"] = _to_lonlat_text(frame["lon"], frame["lat"], crs)
        described += f" in {crs.to_string()}"
    return SourceRows(frame, np.arange(len(features)) + 1, bad, described)


def _read_open311(path: Path, requests: list[dict[str, object]], options: SourceOptions) -> SourceRows:
    """An Open311 GeoReport v2 ``requests.json`` dump of another system: ``long``/``lat``, ``service_code`` as
    the category (map it with a categories map), ``requested_datetime``, ``description``, ``address``, and
    ``status`` open → reported, closed → closed with ``updated_datetime`` as its closing time."""
    frame = pd.DataFrame([{str(k): "" if v is None else str(v) for k, v in item.items()
                           if not isinstance(v, dict | list)} for item in requests]).fillna("")
    mapping = {ours: theirs for ours, theirs in OPEN311_COLUMNS.items() if theirs in frame.columns}
    mapping |= options.columns
    renames = _renamed(list(frame.columns), mapping, what=path.name)
    out = frame[list(renames)].rename(columns=renames)
    out = out.loc[:, ~out.columns.duplicated()].astype(str)
    if "status" in out.columns and "status" not in options.columns:
        closed = out["status"].str.strip().str.lower() == "closed"
        out["status"] = np.where(closed, "closed", np.where(out["status"].str.strip() == "", "", "reported"))
        if "updated_datetime" in frame.columns and "closed_at" not in out.columns:
            out["closed_at"] = np.where(closed, frame["updated_datetime"].astype(str), "")
    return SourceRows(out, np.arange(len(out)) + 1, [], f"{path.name}: Open311 requests, {len(out):,}")


def _read_vector(path: Path, options: SourceOptions) -> SourceRows:
    file = read_vector(path, layer=options.layer, crs=options.crs, encoding=options.encoding)
    frame = file.frame
    names = [str(c) for c in frame.columns if c != frame.geometry.name]
    renames = _renamed(names, {k: v for k, v in options.columns.items() if k not in ("lon", "lat")},
                       what=file.source)
    attributes = pd.DataFrame({ours: _as_text(frame[theirs]) for theirs, ours in renames.items()},
                              index=range(len(frame)))
    geoms = np.asarray(frame.geometry.array, dtype=object)
    is_point = np.asarray(shapely.get_type_id(geoms) == 0)
    bad = [(int(i) + 1, f"must be a Point (got {_type_name(geoms[i])})") for i in np.flatnonzero(~is_point)]
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[is_point], y[is_point] = shapely.get_x(geoms[is_point]), shapely.get_y(geoms[is_point])
    attributes["lon"] = _float_text(x)
    attributes["lat"] = _float_text(y)
    described = f"{Path(file.source).name}: read as {file.source_crs}, {len(frame):,} features"
    return SourceRows(attributes, np.arange(len(frame)) + 1, bad, described)


def _declared_crs(document: dict[str, object], path: Path) -> CRS | None:
    """The CRS a GeoJSON declares in its (2008-style) ``crs`` member, e.g. ``urn:ogc:def:crs:EPSG::26971``."""
    declared = document.get("crs")
    if not isinstance(declared, dict):
        return None
    properties = declared.get("properties")
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str):
        return None
    try:
        return CRS.from_user_input(name)
    except CRSError:
        raise InvalidInput(f"{path.name}: declares the CRS {name!r}, which is unknown — fix: give the right one "
                           "with --crs EPSG:xxxx") from None


def _parse_crs(text: str | None) -> CRS | None:
    if text is None:
        return None
    try:
        return CRS.from_user_input(text)
    except CRSError:
        raise InvalidInput(f"--crs {text!r} is not a known CRS — fix: write it as EPSG:4546 or similar") from None


def _is_wgs84_lonlat(crs: CRS) -> bool:
    return crs.to_epsg() in (4326, 4490) or crs.equals(CRS.from_user_input("OGC:CRS84"))


def _to_lonlat_text(xs: pd.Series, ys: pd.Series, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in ``crs`` as lon/lat text; a value that is not a number stays as written (the checker
    refuses it)."""
    x = pd.to_numeric(xs, errors="coerce").to_numpy(dtype=np.float64)
    y = pd.to_numeric(ys, errors="coerce").to_numpy(dtype=np.float64)
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(x, y)
    good = np.isfinite(x) & np.isfinite(y)
    return (np.where(good, _float_text(np.asarray(lon)), xs.to_numpy(dtype=object)),
            np.where(good, _float_text(np.asarray(lat)), ys.to_numpy(dtype=object)))


def _float_text(values: np.ndarray) -> np.ndarray:
    """Floats as text with nanodegree precision; "" for NaN."""
    finite = np.isfinite(values)
    text = np.full(len(values), "", dtype=object)
    text[finite] = np.char.mod("%.9f", values[finite])
    return text


def _as_text(values: pd.Series) -> pd.Series:
    """A column of any type as text: "" for null; date-times as ISO 8601 (naive ones stay naive)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.map(lambda v: "" if pd.isna(v) else v.isoformat()).astype(str).reset_index(drop=True)
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)) \
        .astype(str).reset_index(drop=True)


def _type_name(geom: object) -> str:
    return "none" if geom is None else str(getattr(geom, "geom_type", type(geom).__name__))
