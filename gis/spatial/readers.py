"""Reading vector files (GeoJSON, GeoPackage, Shapefile plain or zipped, KML) into lon/lat GeoDataFrames.

Whatever the file holds, a reader returns 2D geometries in EPSG:4326 with the attribute columns as they
were, or raises :class:`~gis.errors.InvalidInput` naming the file and the fix. What counts as a good
feature is not decided here: see :mod:`gis.spatial.validation`.

Chinese shapefiles often carry GBK text without a ``.cpg``; GDAL then assumes ISO-8859-1 and the names
come back as mojibake. We look at the DBF ourselves: a ``.cpg`` or a code-page byte lets GDAL decide,
otherwise text that is not UTF-8 is read as GB18030 (a superset of GBK and GB2312).
"""

from __future__ import annotations

import codecs
import io
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import pyogrio
import shapely
from pyogrio.errors import DataSourceError
from pyproj import CRS
from pyproj.exceptions import CRSError

from gis.errors import InvalidInput, Problem
from gis.spatial.crs import InputDatum, convert_geometry

FORMATS = "GeoJSON (a FeatureCollection, a Feature, a geometry or an array of them), GeoPackage, Shapefile " \
    "(.shp, or zipped as .zip), KML or another vector format GDAL reads"
LONLAT = CRS.from_epsg(4326)
CGCS2000 = CRS.from_epsg(4490)
DBF_CODE_PAGE_BYTE = 29  # "language driver id"; 0 means the file does not say


@dataclass
class VectorFile:
    """What was read: features in EPSG:4326 and how the file was understood."""

    frame: gpd.GeoDataFrame
    source: str  # the path, with the layer when the file has several
    source_crs: str  # the CRS the coordinates were in, e.g. "EPSG:4546"
    encoding: str | None = None  # the DBF encoding we chose, None when GDAL knew it
    warnings: list[Problem] = field(default_factory=list)


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    datum: InputDatum = InputDatum.wgs84,
    encoding: str | None = None,
) -> VectorFile:
    """Read one layer of a vector file into EPSG:4326.

    ``layer`` is required when the file has several (a GeoPackage, a zip of shapefiles). ``crs`` (e.g.
    ``"EPSG:4546"``) is used when the file has none, and wins over the file's own when given. ``datum``
    says the lon/lat are GCJ-02 (AMap, DataV) or BD-09 (Baidu) and converts them to WGS84. ``encoding``
    overrides the DBF text encoding. Raises InvalidInput for a missing or unreadable file, an unknown
    layer, or a file without CRS when none is given.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file — fix: check the path")
    if encoding is not None:
        _check_encoding(encoding)
    collection = _json_array_as_collection(path)
    layer = _choose_layer(path, layer) if collection is None else None
    source = f"{path}:{layer}" if layer else str(path)
    encoding = encoding or _guess_dbf_encoding(path, layer)
    try:
        frame = pyogrio.read_dataframe(path if collection is None else io.BytesIO(collection), layer=layer,
                                       encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source}: its text is not {encoding} ({exc}) — fix: give the right --encoding, "
                           "e.g. GBK or UTF-8") from exc
    except (DataSourceError, LookupError) as exc:
        raise InvalidInput(f"{source}: cannot be read ({exc}) — fix: give a {FORMATS} file") from exc

    result = VectorFile(frame=frame, source=source, source_crs="", encoding=encoding)
    file_crs = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    if crs is not None:
        wanted = _parse_crs(crs)
        if file_crs is not None and not file_crs.equals(wanted):
            result.warnings.append(Problem(
                "warning", source, f"the file says {_crs_name(file_crs)}; read as {_crs_name(wanted)} as asked",
            ))
        file_crs = wanted
    if file_crs is None:
        raise InvalidInput(
            f"{source}: the file has no coordinate reference system (a shapefile without .prj?) — fix: say "
            "which it is with --crs, e.g. --crs EPSG:4490 (CGCS2000 lon/lat), EPSG:4546 (CGCS2000 GK "
            "CM 111E), EPSG:32649 (UTM 49N) or EPSG:3857 (Web Mercator)"
        )
    result.source_crs = _crs_name(file_crs)
    frame = frame.set_crs(file_crs, allow_override=True)
    frame = _to_lonlat(frame, file_crs)
    if datum is not InputDatum.wgs84:
        if not file_crs.is_geographic:
            raise InvalidInput(
                f"{source}: --datum {datum.value} applies to lon/lat coordinates, but the file is in "
                f"{result.source_crs} — fix: leave --datum out"
            )
        frame = frame.set_geometry(convert_geometry(np.asarray(frame.geometry.array), datum), crs=LONLAT)
    frame = frame.set_geometry(shapely.force_2d(frame.geometry.values), crs=LONLAT)
    result.frame = frame
    return result


def pick_column(file: VectorFile, explicit: str | None, guesses: Sequence[str], *, what: str, option: str) -> str:
    """The attribute column that holds ``what``: the one named by ``option`` or the first guess found.

    Raises InvalidInput when it is neither named nor guessed, listing the columns the file has; see
    :func:`find_column` for the rules.
    """
    found = find_column(file, explicit, guesses, option=option)
    if found is None:
        columns = [str(c) for c in file.frame.columns if c != file.frame.geometry.name]
        raise InvalidInput(
            f"{file.source}: no {what} column found (tried {', '.join(guesses)}) — fix: name it with "
            f"{option}; the file's columns are {columns}"
        )
    return found


def find_column(file: VectorFile, explicit: str | None, guesses: Sequence[str], *, option: str) -> str | None:
    """The column named ``explicit``, else the first of ``guesses`` the file has, else None.

    Names are matched exactly first, then ignoring case; a shapefile's 10-character stub of a longer
    guess counts too. Raises InvalidInput when an explicit column is absent.
    """
    columns = [str(c) for c in file.frame.columns if c != file.frame.geometry.name]
    by_lower = {c.lower(): c for c in reversed(columns)}
    if explicit is not None:
        found = explicit if explicit in columns else by_lower.get(explicit.lower())
        if found is None:
            raise InvalidInput(f"{file.source}: no column {explicit!r} ({option}) — fix: use one of {columns}")
        return found
    # Shapefiles cut field names to 10 characters: parent_code comes back as parent_cod.
    for guess in dict.fromkeys([*guesses, *(g[:10] for g in guesses if len(g) > 10)]):
        found = guess if guess in columns else by_lower.get(guess.lower())
        if found is not None:
            return found
    return None


def text_value(value: object) -> str | None:
    """A cell as trimmed text; None for null, NaN or blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def int_value(value: object) -> int | None:
    """A cell as a whole number; None for null or blank. Raises ValueError for anything else (``"12.5"``,
    ``"many"``), so that the caller can name the feature."""
    text = text_value(value)
    if text is None:
        return None
    number = float(text)
    if not number.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def _json_array_as_collection(path: Path) -> bytes | None:
    """A JSON file holding an array of GeoJSON Features or geometries (as some DataV and AMap downloads do)
    as the bytes of one FeatureCollection; None for any other file (GDAL reads those itself)."""
    if path.suffix.lower() not in (".json", ".geojson"):
        return None
    raw = path.read_bytes()
    if raw.lstrip()[:1] != b"[":
        return None
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not valid JSON ({exc}) — fix: give a GeoJSON file") from None
    features = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "type" not in item:
            raise InvalidInput(f"{path}: item {number} of the array is not a GeoJSON Feature or geometry — fix: "
                               "give a FeatureCollection, or an array of Features")
        features.append(item if item["type"] == "Feature" else {"type": "Feature", "properties": {}, "geometry": item})
    return orjson.dumps({"type": "FeatureCollection", "features": features})


def _choose_layer(path: Path, layer: str | None) -> str | None:
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except DataSourceError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc}) — fix: give a {FORMATS} file") from exc
    if layer is not None:
        if layer not in layers:
            raise InvalidInput(f"{path}: no layer {layer!r} — fix: choose one of {layers} with --layer")
        return layer
    if len(layers) > 1:
        raise InvalidInput(f"{path}: holds {len(layers)} layers {layers} — fix: choose one with --layer")
    if not layers:
        raise InvalidInput(f"{path}: holds no layer — fix: give a {FORMATS} file with features")
    return None


def _guess_dbf_encoding(path: Path, layer: str | None) -> str | None:
    """The encoding to read a shapefile's DBF with, or None to let GDAL decide (.cpg, code page, not a
    shapefile)."""
    dbf, cpg_present = _dbf_bytes(path, layer)
    if dbf is None or cpg_present or len(dbf) < 32 or dbf[DBF_CODE_PAGE_BYTE] != 0:
        return None
    header_length = int.from_bytes(dbf[8:10], "little")
    try:
        dbf[header_length:].decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def _dbf_bytes(path: Path, layer: str | None) -> tuple[bytes | None, bool]:
    """The DBF of a .shp or of the chosen shapefile in a .zip, and whether a .cpg goes with it."""
    suffix = path.suffix.lower()
    if suffix == ".shp":
        dbf = _sibling(path, ".dbf")
        return (dbf.read_bytes() if dbf else None), _sibling(path, ".cpg") is not None
    if suffix != ".zip" or not zipfile.is_zipfile(path):
        return None, False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        dbfs = [n for n in names if n.lower().endswith(".dbf") and (layer is None or Path(n).stem == layer)]
        if len(dbfs) != 1:
            return None, False
        stem = dbfs[0][:-4]
        return archive.read(dbfs[0]), any(n.lower() == f"{stem}.cpg".lower() for n in names)


def _sibling(path: Path, suffix: str) -> Path | None:
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    return None


def _check_encoding(name: str) -> None:
    try:
        codecs.lookup(name)
    except LookupError:
        raise InvalidInput(f"--encoding {name!r} is not a known encoding — fix: use e.g. GBK, GB18030 or "
                           "UTF-8") from None


def _parse_crs(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise InvalidInput(f"--crs {text!r} is not a known CRS — fix: write it as EPSG:4546 or similar") from exc


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _to_lonlat(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    # CGCS2000 and WGS84 differ by centimetres; we store one as the other (see gis.models.areas).
    if crs.equals(LONLAT) or crs.equals(CGCS2000) or crs.to_epsg() in (4326, 4490):
        return frame.set_crs(LONLAT, allow_override=True)
    return frame.to_crs(LONLAT)
