"""The store's models, one module per subject; importing this package registers every table.

Geometry is stored in EPSG:4326 (CGCS2000, EPSG:4490, is treated as the same datum: they differ by
centimetres). Areas and distances are computed in the configured metric CRS, never in degrees.
"""

from gis.models.areas import SRID, AdminArea, AdminLevel, Compound, GridCell
from gis.models.evaluation import IncidentFact, IncidentHotspot
from gis.models.facilities import (
    Booking,
    BookingStatus,
    CapacityUnit,
    Facility,
    FacilityType,
    Unit,
    UnitKind,
    UnitManager,
    UnitPairing,
)
from gis.models.incidents import (
    Category,
    IdempotencyKey,
    Incident,
    IncidentEvent,
    IncidentPhoto,
    PhotoKind,
    Source,
    Status,
)
from gis.models.patrols import Patrol, PatrolPoint
from gis.models.people import ApiKey, GridCellWorker, Role, Team, TeamJurisdiction, User

__all__ = [
    "SRID",
    "AdminArea",
    "AdminLevel",
    "ApiKey",
    "Booking",
    "BookingStatus",
    "CapacityUnit",
    "Category",
    "Compound",
    "Facility",
    "FacilityType",
    "GridCell",
    "GridCellWorker",
    "IdempotencyKey",
    "Incident",
    "IncidentEvent",
    "IncidentFact",
    "IncidentHotspot",
    "IncidentPhoto",
    "Patrol",
    "PatrolPoint",
    "PhotoKind",
    "Role",
    "Source",
    "Status",
    "Team",
    "TeamJurisdiction",
    "Unit",
    "UnitKind",
    "UnitManager",
    "UnitPairing",
    "User",
]
