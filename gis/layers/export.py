"""Planner exports: published layers written as GeoPackage, GeoJSON, Shapefile, CSV, KML or FlatGeobuf for QGIS.

Everything goes through the Layer interface (``gis.layers``), so a layer registered there is exportable
with no change here, and an export holds exactly what the map and the OGC API show: public columns only.

- GeoPackage: one file, one table per layer (table name = layer id), the layer's Chinese title as the
  table's ``identifier`` and its English title and description as ``description`` (``gpkg_contents``),
  written as GeoPackage 1.2 so that QGIS builds on GDAL < 3.7 open it without a warning; a ``layer_styles``
  table gives QGIS each layer's default style (QML and SLD from the layer's Style, density classes over the
  exported values: :mod:`gis.layers.styles`).
- GeoJSON: one file per layer (``<layer id>.geojson`` in a folder, or the given file for one layer); RFC 7946
  (lon/lat, 7 decimals) in EPSG:4326; in another CRS the file names its CRS, as GDAL writes it.
- Shapefile: one ``.shp`` set per layer with a ``.cpg`` saying UTF-8 (Chinese text survives), field names
  cut to the 10 characters dBase allows without two landing on the same name, and ``<layer id>.fields.csv``
  mapping the short names back to the full names and their titles. Dates and times, which dBase cannot
  hold with their time zone, are written as ISO 8601 text (UTC).
- CSV: one ``.csv`` per layer with the geometry as WKT in its first column (``WKT``), a ``.csvt`` giving
  each column's type (QGIS and GDAL read it) and the coordinates in the export's CRS (named in the report;
  CSV cannot say it itself).
- KML: one ``.kml`` per layer, always WGS 84 lon/lat (KML knows no other CRS), names from the layer's first
  field.
- FlatGeobuf: one ``.fgb`` per layer with its packed R-tree, so that QGIS reads a bbox without the whole file.

Coordinates are EPSG:4326 by default; ``crs=`` reprojects (e.g. 4546, CGCS2000 Gauss-Krüger in metres, for
planners who measure). Files appear whole or not at all: each is written in a scratch folder beside the
target and moved into place once complete.
"""

from __future__ import annotations

import csv
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import geopandas as gpd
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, WanggeError
from gis.layers import BBox, Layer, check_bbox, registry
from gis.layers.styles import write_layer_styles
from gis.progress import ProgressReporter, no_progress
from gis.settings import Settings
from gis.spatial.crs import normalise_epsg

ExportFormat = Literal["gpkg", "geojson", "shp", "csv", "kml", "fgb"]
FORMATS: tuple[ExportFormat, ...] = ("gpkg", "geojson", "shp", "csv", "kml", "fgb")
SUFFIX: dict[ExportFormat, str] = {"gpkg": ".gpkg", "geojson": ".geojson", "shp": ".shp", "csv": ".csv",
                                   "kml": ".kml", "fgb": ".fgb"}
DRIVER: dict[ExportFormat, str] = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile", "csv": "CSV",
                                   "kml": "KML", "fgb": "FlatGeobuf"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
CSV_PARTS = (".csv", ".csvt")
WHOLE_FILE_FORMATS = ("geojson", "csv", "kml", "fgb")  # written in one call: their drivers do not append
DBF_NAME_LENGTH = 10
CHUNK_ROWS = 20_000  # rows per write, so that the progress bar of a big layer moves

# Column names that would mean a layer leaks people's data. Layers are public by construction; this is
# the last check before a file leaves the system.
PERSONAL_MARKERS = ("phone", "mobile", "email", "reporter", "contact", "id_card", "password", "username",
                    "display_name")


class PersonalDataInLayer(WanggeError):
    """A layer names a column that holds personal data: a bug in that layer, refused before writing."""


@dataclass(frozen=True)
class ExportedLayer:
    layer_id: str
    features: int
    path: Path  # the file holding it (for GeoPackage, the shared file)
    short_names: dict[str, str] = field(default_factory=dict)  # Shapefile: full name → dBase name


@dataclass(frozen=True)
class ExportReport:
    fmt: ExportFormat
    crs: int
    layers: tuple[ExportedLayer, ...]

    @property
    def files(self) -> list[Path]:
        """Every file written, sidecars included, without repeats."""
        out: dict[Path, None] = {}
        for item in self.layers:
            if self.fmt == "shp":
                for suffix in SHAPEFILE_PARTS:
                    out[item.path.with_suffix(suffix)] = None
                out[fields_csv(item.path)] = None
            elif self.fmt == "csv":
                for suffix in CSV_PARTS:
                    out[item.path.with_suffix(suffix)] = None
            else:
                out[item.path] = None
        return list(out)

    def __str__(self) -> str:
        total = sum(item.features for item in self.layers)
        where = sorted({str(item.path if self.fmt != "shp" else item.path.parent) for item in self.layers})
        return (f"exported {len(self.layers)} layer(s), {total:,} features, as {self.fmt} in EPSG:{self.crs} "
                f"to {', '.join(where)}")


def fields_csv(shp: Path) -> Path:
    """The sidecar that maps a Shapefile's short field names to the layer's full names."""
    return shp.with_name(f"{shp.stem}.fields.csv")


def resolve_layers(layer_ids: Sequence[str], *, settings: Settings,
                   layers: Mapping[str, Layer] | None = None) -> list[Layer]:
    """The registered layers named (all of them, in registry order, when none is named); ``layers``: the
    registry the caller already holds (the app's), else one built from ``settings``."""
    layers = registry(settings) if layers is None else layers
    unknown = [name for name in layer_ids if name not in layers]
    if unknown:
        raise InvalidInput(f"unknown layer(s) {', '.join(unknown)}; known: {', '.join(layers)}")
    chosen = [layers[name] for name in dict.fromkeys(layer_ids)] if layer_ids else list(layers.values())
    for layer in chosen:
        check_public(layer)
    return chosen


def check_public(layer: Layer) -> None:
    """Raise PersonalDataInLayer if a column of the layer looks like personal data."""
    names = {f.name for f in layer.fields} | set(layer.select().selected_columns.keys())
    leaks = sorted(n for n in names if any(marker in n.lower() for marker in PERSONAL_MARKERS))
    if leaks:
        raise PersonalDataInLayer(f"layer {layer.id} has personal columns {', '.join(leaks)}; nothing was written")


def parse_crs(value: str | int | None, *, settings: Settings) -> int:
    """An EPSG code from ``4546``, ``"EPSG:4546"`` or ``"metric"`` (the settings' metric CRS); None: 4326."""
    if value is None:
        return 4326
    if isinstance(value, str) and value.strip().lower() == "metric":
        return settings.metric_crs
    try:
        crs = CRS.from_user_input(int(value) if str(value).isdigit() else value)
    except (CRSError, ValueError):
        raise InvalidInput(f"crs: {value!r} is not a known CRS; give an EPSG code such as 4326 or 4546") from None
    epsg = crs.to_epsg()
    if epsg is None:
        raise InvalidInput(f"crs: {value!r} has no EPSG code; give one such as 4326 or 4546")
    return normalise_epsg(epsg)


def short_field_names(names: Sequence[str], length: int = DBF_NAME_LENGTH) -> dict[str, str]:
    """Full name → a dBase field name of at most ``length`` characters, unique ignoring case.

    Names that fit are kept; longer ones are cut, and a cut that collides with a name already taken gets
    ``_1``, ``_2``… in place of its last characters (``facilities_inside`` → ``facilities``,
    ``facilities_in_reach`` → ``faciliti_1``)."""
    fitting = [n for n in names if len(n) <= length]
    out = {name: name for name in fitting}  # names that fit keep their name, whatever comes later
    taken = {name.upper() for name in fitting}
    for name in names:
        if name in out:
            continue
        candidate, n = name[:length], 0
        while candidate.upper() in taken:
            n += 1
            suffix = f"_{n}"
            candidate = name[: length - len(suffix)] + suffix
        taken.add(candidate.upper())
        out[name] = candidate
    return {name: out[name] for name in names}


def export_layers(
    session: Session,
    layer_ids: Sequence[str],
    path: Path,
    *,
    fmt: ExportFormat,
    settings: Settings,
    crs: str | int | None = None,
    bbox: BBox | None = None,
    progress: ProgressReporter | None = None,
    layers: Mapping[str, Layer] | None = None,
) -> ExportReport:
    """Write the named layers (every registered layer when ``layer_ids`` is empty) to ``path``.

    ``path`` is, for ``gpkg``, the file (a folder gets ``wangge.gpkg`` inside); for ``geojson`` and ``shp``,
    a folder receiving one file (set) per layer, or the file itself when one layer is exported and ``path``
    ends in ``.geojson``/``.json``/``.shp``. ``bbox`` (lon/lat) keeps the features that intersect it.

    Raises InvalidInput (unknown layer, format or CRS; a file path for several layers) and
    PersonalDataInLayer, before anything is written."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    report = progress or no_progress
    chosen = resolve_layers(layer_ids, settings=settings, layers=layers)
    epsg = parse_crs(crs, settings=settings)
    if fmt == "kml" and epsg != 4326:
        raise InvalidInput(f"crs: KML is always WGS 84 lon/lat (EPSG:4326), not EPSG:{epsg} — fix: leave --crs "
                           "out, or choose gpkg, fgb or csv for a metric CRS")
    check_bbox(bbox)
    targets = _targets(path, fmt, [layer.id for layer in chosen])
    for target in set(targets.values()):
        target.parent.mkdir(parents=True, exist_ok=True)

    exported: list[ExportedLayer] = []
    styled: list[tuple[Layer, pd.Series | None]] = []
    scratch = Path(tempfile.mkdtemp(prefix=".wangge-export-", dir=next(iter(targets.values())).parent))
    try:
        for n, layer in enumerate(chosen):
            report("layers", n, len(chosen))
            stage = f"{layer.id} {layer.title_zh}"
            report(stage, 0, None)
            gdf = layer.to_geodataframe(session, bbox=bbox)
            if epsg != 4326:
                gdf = gdf.to_crs(epsg)
            gdf = _typed(gdf, layer, text_times=fmt == "shp")
            written = scratch / targets[layer.id].name
            short = _write(gdf, layer, written, fmt, epsg, functools.partial(report, stage))
            exported.append(ExportedLayer(layer.id, len(gdf), targets[layer.id], short))
            choropleth = layer.style.choropleth
            styled.append((layer, gdf[choropleth] if choropleth and choropleth in gdf.columns else None))
        report("layers", len(chosen), len(chosen))
        if fmt == "gpkg":
            gpkg = scratch / next(iter(targets.values())).name
            write_layer_styles(gpkg, [(layer, values, str(pyogrio.read_info(gpkg, layer=layer.id)["geometry_name"]))
                                      for layer, values in styled])
        for target in dict.fromkeys(targets.values()):
            _move_into_place(scratch / target.name, target, fmt)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportReport(fmt=fmt, crs=epsg, layers=tuple(exported))


def _targets(path: Path, fmt: ExportFormat, layer_ids: list[str]) -> dict[str, Path]:
    """Where each layer goes."""
    if fmt == "gpkg":
        file = path / "wangge.gpkg" if path.is_dir() else path
        if file.suffix.lower() != ".gpkg":
            file = file.with_name(file.name + ".gpkg")
        return {layer_id: file for layer_id in layer_ids}
    single_suffixes = {".geojson", ".json"} if fmt == "geojson" else {SUFFIX[fmt]}
    if path.suffix.lower() in single_suffixes and not path.is_dir():
        if len(layer_ids) != 1:
            raise InvalidInput(f"{path} names one file but {len(layer_ids)} layers were asked for; "
                               f"give a folder, or export one layer")
        return {layer_ids[0]: path}
    return {layer_id: path / f"{layer_id}{SUFFIX[fmt]}" for layer_id in layer_ids}


def _typed(gdf: gpd.GeoDataFrame, layer: Layer, *, text_times: bool) -> gpd.GeoDataFrame:
    """Columns in the types the layer declares, so the file's schema does not depend on the rows: an
    integer column with a gap would otherwise be written as real, an all-empty column as text."""
    out = gdf.copy()
    for f in layer.fields:
        column = out[f.name]
        if f.type == "integer":
            out[f.name] = pd.to_numeric(column).astype("Int64")
        elif f.type == "number":
            out[f.name] = pd.to_numeric(column).astype("float64")
        elif f.type == "boolean":
            out[f.name] = column.astype("boolean")
        elif f.type == "date":
            out[f.name] = column.map(lambda d: d.isoformat() if pd.notna(d) else None).astype(object)
        elif f.type == "datetime":
            stamps = pd.to_datetime(column, utc=True)
            if text_times:
                out[f.name] = stamps.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ") if pd.notna(t) else None)
            else:
                out[f.name] = stamps
        else:
            out[f.name] = column.astype(object).where(column.notna(), None)
    return out


def _write(gdf: gpd.GeoDataFrame, layer: Layer, file: Path, fmt: ExportFormat, epsg: int,
           report: Callable[[int, int], None]) -> dict[str, str]:
    """Write one layer into ``file`` (appending a table to a GeoPackage); returns the Shapefile renames."""
    total = len(gdf)
    options: dict[str, str] = {}
    dataset_options: dict[str, str] = {}
    metadata: dict[str, str] | None = None
    short: dict[str, str] = {}
    if fmt == "gpkg":
        options = {"IDENTIFIER": layer.title_zh, "DESCRIPTION": f"{layer.title_en}: {layer.description}"}
        dataset_options = {"VERSION": "1.2"}
        metadata = {"title_zh": layer.title_zh, "title_en": layer.title_en, "description": layer.description}
    elif fmt == "geojson":
        options = {"DESCRIPTION": f"{layer.title_zh} {layer.title_en}: {layer.description}"}
        if epsg == 4326:
            options |= {"RFC7946": "YES", "COORDINATE_PRECISION": "7"}
    elif fmt == "csv":
        options = {"GEOMETRY": "AS_WKT", "CREATE_CSVT": "YES"}
    elif fmt == "kml":
        dataset_options = {"NameField": layer.fields[0].name} if layer.fields else {}
    elif fmt == "fgb":
        options = {"SPATIAL_INDEX": "YES", "TITLE": layer.title_zh,
                   "DESCRIPTION": f"{layer.title_en}: {layer.description}"}
    else:
        short = short_field_names([f.name for f in layer.fields])
        gdf = gdf.rename(columns=short)
        _write_fields_csv(layer, short, fields_csv(file))
    chunks = [gdf] if fmt in WHOLE_FILE_FORMATS or total <= CHUNK_ROWS else [
        gdf.iloc[start:start + CHUNK_ROWS] for start in range(0, total, CHUNK_ROWS)
    ]
    done = 0
    report(done, total)
    for i, chunk in enumerate(chunks):
        first = i == 0
        pyogrio.write_dataframe(
            chunk, file, layer=layer.id if fmt not in ("shp", "csv") else file.stem, driver=DRIVER[fmt],
            geometry_type=layer.geometry_type, encoding="UTF-8" if fmt == "shp" else None,
            append=not first, promote_to_multi=layer.geometry_type.startswith("Multi"),
            layer_options=options if first else None,
            dataset_options=dataset_options if first and not file.exists() else None,
            layer_metadata=metadata if first else None,
        )
        done += len(chunk)
        report(done, total)
    return short


def _write_fields_csv(layer: Layer, short: dict[str, str], path: Path) -> None:
    # UTF-8 with a byte-order mark: Excel (how these often get opened) then shows the Chinese titles.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["shp_field", "name", "type", "title_zh", "title_en"])
        for f in layer.fields:
            writer.writerow([short[f.name], f.name, f.type, f.title_zh, f.title_en])


def _move_into_place(written: Path, target: Path, fmt: ExportFormat) -> None:
    if fmt == "csv":
        for suffix in CSV_PARTS:
            if written.with_suffix(suffix).exists():
                os.replace(written.with_suffix(suffix), target.with_suffix(suffix))
        return
    if fmt != "shp":
        os.replace(written, target)
        return
    for suffix in SHAPEFILE_PARTS:
        part = written.with_suffix(suffix)
        if part.exists():
            os.replace(part, target.with_suffix(suffix))
    os.replace(fields_csv(written), fields_csv(target))
