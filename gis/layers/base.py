"""The Layer interface: a named, documented spatial dataset that every consumer reads the same way.

The Folium maps, the planner exports (GPKG/GeoJSON/SHP), the OGC API collections and the map page all go
through a Layer, so a layer added once in ``gis/layers/`` appears everywhere. A layer is public by
construction: its ``select()`` never names personal columns (names, phones, reporters).

A subclass supplies metadata and ``select()``: a SQLAlchemy ``Select`` with one geometry column labelled
``geom`` (EPSG:4326) and one column per ``Field``. The base class adds the bbox filter, paging, GeoJSON
built by PostgreSQL (fast: no per-feature Python), and GeoDataFrames for file exports. A layer whose rows
are costly to compute (aggregates per cell) may also override ``select_for(bbox)`` to compute only what a
map view needs; the base's bbox filter still applies on top, so the features are the same either way.

Every feature carries a GeoJSON ``id``: the value of ``id_field`` (default: the first field), so that OGC API
clients can fetch one feature by id. Choose an ``id_field`` whose values are unique in the layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

import geopandas as gpd
import orjson
from sqlalchemy import Select, Text, cast, func, literal, literal_column, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.spatial.bbox import BBox as BBox
from gis.spatial.bbox import check_bbox as check_bbox
from gis.timespan import Timespan

if TYPE_CHECKING:
    from gis.incidents.query import IncidentFilter

# Rows of any width: a layer's select has a geometry column and one column per field.
Rows: TypeAlias = Select[*tuple[Any, ...]]
FieldType = Literal["string", "integer", "number", "boolean", "datetime", "date"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    title_zh: str
    title_en: str


@dataclass(frozen=True)
class Style:
    """Default Leaflet style; ``choropleth`` names a numeric field the map colours by."""

    color: str = "#3366cc"
    weight: float = 1.0
    fill_color: str = "#3366cc"
    fill_opacity: float = 0.15
    choropleth: str | None = None
    palette: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")


@dataclass(frozen=True)
class FeaturePage:
    """One page of a layer as GeoJSON text, with the numbers an API needs for paging."""

    geojson: bytes  # a FeatureCollection, RFC 7946
    returned: int
    matched: int | None


_COLLECTION_HEAD = b'{"type":"FeatureCollection","features":['
_COLLECTION_TAIL = b"]}"


def _as_key(key: Field, raw: str) -> str | int | float | None:
    """``raw`` (from a URL) as a value of the key field's type, or None when it cannot be one."""
    try:
        if key.type == "integer":
            return int(raw)
        if key.type == "number":
            return float(raw)
    except ValueError:
        return None
    return raw


@dataclass(frozen=True)
class Layer:
    """Base of every published layer. Subclasses are frozen dataclass singletons in their own modules."""

    id: ClassVar[str]
    title_zh: ClassVar[str]
    title_en: ClassVar[str]
    description: ClassVar[str]
    geometry_type: ClassVar[Literal["Point", "MultiPolygon", "Polygon"]]
    fields: ClassVar[Sequence[Field]]
    style: ClassVar[Style] = Style()
    id_field: ClassVar[str | None] = None  # the field emitted as the GeoJSON feature ``id``; None: the first
    # Rows that are incidents or counts of them: such a layer takes an incident filter (``filtered``), and every
    # read of it is scoped to what the caller may see (``gis.incidents.visibility``).
    counts_incidents: ClassVar[bool] = False
    # Vector tiles below this zoom are empty: the features would be too many and too small to read.
    tile_min_zoom: ClassVar[int] = 0
    # The field holding each feature's time, for ``during`` (OGC API ``datetime``); None: not temporal, so
    # every feature matches any span.
    time_field: ClassVar[str | None] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def select(self) -> Rows:
        """Rows of the layer: a ``geom`` column (EPSG:4326) and one column per field."""
        raise NotImplementedError

    def select_for(self, bbox: BBox | None, feature_id: str | int | float | None = None) -> Rows:
        """Rows for a request limited to ``bbox`` (lon/lat, already checked) and/or to the feature whose
        ``key`` is ``feature_id``: at least every such row of ``select()``, with the same values; more rows
        are allowed, since the caller filters by both afterwards. The default is ``select()``: filtering is
        left to the caller.

        Override it when the limits can cut work that happens before the final filter, e.g. aggregates
        computed for every cell of the city when a view shows a few hundred, or a client asks for one."""
        return self.select()

    def filtered(self, filters: IncidentFilter) -> Layer:
        """This layer limited to the incidents ``filters`` selects (only layers that ``counts_incidents``)."""
        raise InvalidInput(f"layer {self.id!r} takes no incident filter")

    def tile_rows(self, bbox: BBox, z: int) -> Rows:
        """Rows for one vector tile at zoom ``z`` whose (buffered) lon/lat box is ``bbox``: by default the rows
        of :meth:`select_for` in ``bbox``. A layer may draw something coarser at small scales (the density
        layer draws communities there), with the same fields."""
        return self._filtered(bbox)

    @property
    def key(self) -> Field:
        """The field whose value is each feature's id (``id_field``, else the first field)."""
        name = self.id_field or self.fields[0].name
        return next(f for f in self.fields if f.name == name)

    # -- shared machinery ------------------------------------------------------------------------
    def _filtered(self, bbox: BBox | None, feature_id: str | int | float | None = None,
                  during: Timespan | None = None) -> Select[Any]:
        # Every consumer (query, count, GeoDataFrames, features by id) comes through here: the one place
        # where a layer's own push-down meets the filters that keep every layer's semantics the same.
        stmt = self.select_for(check_bbox(bbox), feature_id)
        if bbox is not None:
            geom = stmt.selected_columns["geom"]
            stmt = stmt.where(func.ST_Intersects(geom, func.ST_MakeEnvelope(*bbox, 4326)))
        if feature_id is not None:
            stmt = stmt.where(stmt.selected_columns[self.key.name] == feature_id)
        if during is not None and self.time_field is not None:
            moment = stmt.selected_columns[self.time_field]
            if during.start is not None:
                stmt = stmt.where(moment >= during.start)
            if during.end is not None:
                stmt = stmt.where(moment <= during.end)
        return stmt

    def count(self, session: Session, *, bbox: BBox | None = None, during: Timespan | None = None) -> int:
        sub = self._filtered(bbox, during=during).subquery()
        return int(session.execute(select(func.count()).select_from(sub)).scalar_one())

    def query(
        self,
        session: Session,
        *,
        bbox: BBox | None = None,
        limit: int | None = None,
        offset: int = 0,
        with_count: bool = False,
        decimals: int = 7,
        feature_id: str | int | float | None = None,
        during: Timespan | None = None,
    ) -> FeaturePage:
        """A page of features as GeoJSON built by PostgreSQL (ST_AsGeoJSON of each row); ``feature_id``
        keeps only the features whose ``key`` field equals it; ``during`` those whose time lies in the span
        (layers with a ``time_field``)."""
        stmt = self._filtered(bbox, feature_id, during)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        rows = stmt.subquery("t")
        # ST_AsGeoJSON takes an id column only from PostGIS 3.5; we run 3.3, so splice '"id":…,' in after
        # the opening brace (concat skips the NULL of a feature without id: no '"id":null').
        feature = func.concat(
            "{",
            literal('"id":') + cast(func.to_json(rows.c[self.key.name]), Text) + ",",
            func.substr(func.ST_AsGeoJSON(literal_column("t.*"), "geom", decimals), 2),
        )
        agg = select(
            func.coalesce(func.string_agg(feature, literal_column("','")), ""),
            func.count(),
        ).select_from(rows)
        body, returned = session.execute(agg).one()
        geojson = _COLLECTION_HEAD + body.encode() + _COLLECTION_TAIL
        matched = self.count(session, bbox=bbox, during=during) if with_count else None
        return FeaturePage(geojson=geojson, returned=int(returned), matched=matched)

    def features(self, session: Session, **kwargs: Any) -> dict[str, Any]:
        """The same page parsed into a dict (for Folium and tests)."""
        parsed: dict[str, Any] = orjson.loads(self.query(session, **kwargs).geojson)
        return parsed

    def feature(self, session: Session, feature_id: str, *, decimals: int = 7) -> bytes | None:
        """One feature as GeoJSON text, found by its id (compared as the ``key`` field's type), or None.

        Ids that cannot be of that type (``"abc"`` for an integer key) find nothing rather than fail."""
        value = _as_key(self.key, feature_id)
        if value is None:
            return None
        page = self.query(session, feature_id=value, limit=1, decimals=decimals)
        if not page.returned:
            return None
        return page.geojson[len(_COLLECTION_HEAD):-len(_COLLECTION_TAIL)]

    def extent(self, session: Session) -> BBox | None:
        """The lon/lat box of every feature (EPSG:4326), or None for an empty layer."""
        geom = self.select().subquery("t").c.geom
        box = func.ST_Extent(geom)
        row = session.execute(
            select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
        ).one()
        return None if row[0] is None else BBox(float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    def to_geodataframe(self, session: Session, *, bbox: BBox | None = None,
                        during: Timespan | None = None) -> gpd.GeoDataFrame:
        """The layer as a GeoDataFrame in EPSG:4326, columns in the order of ``fields``."""
        stmt = self._filtered(bbox, during=during)
        gdf = gpd.read_postgis(stmt, session.connection(), geom_col="geom", crs=4326)
        return gdf[[f.name for f in self.fields] + ["geom"]]

    def describe(self) -> dict[str, Any]:
        """Metadata for catalogues (OGC API collections, the map page's layer list)."""
        return {
            "id": self.id,
            "title": self.title_zh,
            "title_en": self.title_en,
            "description": self.description,
            "geometry_type": self.geometry_type,
            "fields": [vars(f) for f in self.fields],
            "style": vars(self.style),
            "time_field": self.time_field,
        }
