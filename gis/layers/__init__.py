"""Published map layers, one module per subject, registered by id in a plain dict.

``registry(settings)`` builds the layers a deployment publishes (some need the metric CRS). Add a layer
here once and the map page, exports and OGC API collections all offer it.
"""

from __future__ import annotations

from gis.layers.areas import CompoundLayer, GridCellLayer
from gis.layers.base import BBox, FeaturePage, Field, Layer, Style, check_bbox
from gis.layers.boundaries import CommunityLayer, SubdistrictLayer
from gis.layers.density import IncidentDensityLayer
from gis.layers.evaluation import CommunityIndicatorLayer, IncidentHotspotLayer
from gis.layers.facilities import FacilityLayer, FacilitySharingLayer
from gis.layers.incidents import IncidentLayer
from gis.settings import Settings


def registry(settings: Settings) -> dict[str, Layer]:
    layers: list[Layer] = [
        SubdistrictLayer(metric_crs=settings.metric_crs),
        CommunityLayer(metric_crs=settings.metric_crs),
        CompoundLayer(),
        GridCellLayer(),
        FacilityLayer(),
        FacilitySharingLayer(metric_crs=settings.metric_crs, radius_m=settings.sharing_radius_m),
        IncidentLayer(),
        IncidentDensityLayer(metric_crs=settings.metric_crs),
        IncidentHotspotLayer(),
        CommunityIndicatorLayer(),
    ]
    return {layer.id: layer for layer in layers}


__all__ = ["BBox", "FeaturePage", "Field", "Layer", "Style", "check_bbox", "registry"]
