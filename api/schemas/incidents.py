"""Request and response models of ``/api/v1/incidents`` and ``/api/v1/categories``.

Coordinates in responses are WGS84 longitude/latitude (EPSG:4326) whatever datum the report came in.
Personal data (the reporter) appears only for callers allowed to see it; the planners' view also drops
free text, addresses and photos, which can hold names, phone numbers and faces (see ``api.routes.incidents``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

from api.deps import IdField
from api.schemas.common import Finite, Text, ZonedMoment
from gis.models.incidents import MAX_DESCRIPTION
from gis.models.limits import INT4_MAX

MAX_NOTE = 4000
MAX_ADDRESS = 200
MAX_PHOTOS = 6

Datum = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
"""How a client's lon/lat are meant. CGCS2000 is stored as WGS84 unchanged (they differ by centimetres)."""

ReportSource = Literal["patrol", "hotline_12345", "resident", "transfer"]
"""Where a report comes from; ``import`` is reserved for bulk imports of historic cases."""


Version = Annotated[int | None, Field(ge=1, le=INT4_MAX, description="The version you read (or send If-Match)")]


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# -- create -----------------------------------------------------------------------------------------------
class IncidentCreate(Body):
    """A new report. Without ``lon``/``lat`` the position comes from the first photo's EXIF GPS (multipart
    only). Longitude and latitude are checked by the server (range, swapped pair, inside a community), so a
    mistake comes back as one message naming the fix."""

    category_code: Annotated[
        Text,
        Field(min_length=1, max_length=16, validation_alias=AliasChoices("category_code", "category"),
              description="5-digit GB/T 47678.5 matter code (also accepted as 'category')", examples=["09006"]),
    ]
    lon: Annotated[Finite | None, Field(description="Longitude (degrees east)", examples=[109.7165])] = None
    lat: Annotated[Finite | None, Field(description="Latitude (degrees north)", examples=[28.2651])] = None
    datum: Annotated[
        Datum, Field(description="Datum of lon/lat: wgs84 = cgcs2000 (GPS, 天地图), gcj02 (高德, 腾讯), bd09 (百度)")
    ] = "wgs84"
    description: Annotated[Text, Field(max_length=MAX_DESCRIPTION, description="Plain text; never interpreted")] = ""
    address: Annotated[Text | None, Field(max_length=MAX_ADDRESS)] = None
    source: Annotated[ReportSource, Field(description="patrol, hotline_12345, resident or transfer")] = "patrol"
    reported_at: Annotated[
        AwareDatetime | None, Field(description="When the problem was reported (default: now), with a time zone")
    ] = None

    @property
    def wgs_datum(self) -> str:
        return "wgs84" if self.datum == "cgcs2000" else self.datum


# -- read -------------------------------------------------------------------------------------------------
class ReporterRead(BaseModel):
    id: int
    username: str
    display_name: str
    phone: str | None


class PhotoRead(BaseModel):
    id: int
    kind: str  # before | after
    content_type: str
    bytes: int
    created_at: datetime
    url: str


class IncidentRead(BaseModel):
    """One case as the caller may see it. ``version`` is what an update must quote (or the ETag)."""

    id: int
    public_id: str
    version: int
    category_code: str
    category_name: str
    category_name_en: str
    status: str
    status_label: str
    overdue: bool
    lon: float
    lat: float
    description: str | None = Field(description="Absent in the planners' de-personalised view")
    address: str | None
    source: str
    reporter: ReporterRead | None = Field(description="Only for the supervision centre and the reporter")
    cell_code: str | None
    community_code: str
    subdistrict_code: str | None
    team_id: int | None
    duplicate_of: str | None = Field(description="Public id of the case this one was merged into")
    reported_at: datetime
    updated_at: datetime
    dispatched_at: datetime | None
    deadline_at: datetime | None
    escalated_at: datetime | None
    closed_at: datetime | None
    photos: list[PhotoRead]
    moves: list[str] = Field(description="Moves the caller's role may make from the current status")


class IncidentSummary(BaseModel):
    """A case in a list of candidates (possible duplicates)."""

    id: int
    public_id: str
    category_code: str
    status: str
    lon: float
    lat: float
    distance_m: float | None = None
    reported_at: datetime


class IncidentCreated(IncidentRead):
    """The new case, with the open cases of its category nearby that it may repeat."""

    possible_duplicates: list[IncidentSummary]
    replayed: bool = Field(description="True when the Idempotency-Key was seen before: this is the first result")


class IncidentList(BaseModel):
    items: list[IncidentRead]
    limit: int
    offset: int
    returned: int
    matched: int | None = None
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next page")


# -- change -----------------------------------------------------------------------------------------------
class IncidentTransition(Body):
    """One move of the handling cycle. The version read must come along, here or as ``If-Match``."""

    to: Annotated[
        str,
        Field(min_length=1, max_length=32, description="A move (register, dispatch, take, handle, verify, rework, "
              "close, extend, shelve, reopen, void, reject) or a target status", examples=["register"]),
    ]
    version: Version = None
    note: Annotated[Text | None, Field(max_length=MAX_NOTE)] = None
    team_id: Annotated[IdField | None, Field(description="dispatch: the team (default: the responsible one)")] = None
    deadline_at: Annotated[ZonedMoment | None, Field(description="extend: the new deadline")] = None
    hours: Annotated[Finite | None, Field(gt=0, le=10_000, description="extend: working hours to add")] = None
    photo_ids: Annotated[
        list[IdField],
        Field(max_length=MAX_PHOTOS, description="Photos of this case (uploaded first) the step documents"),
    ] = []

    def data(self) -> dict[str, Any]:
        """What ``gis.incidents.workflow.transition`` reads from ``data`` for this move."""
        values = {"team_id": self.team_id, "deadline_at": self.deadline_at, "hours": self.hours}
        return {key: value for key, value in values.items() if value is not None}


class MarkDuplicate(Body):
    original: Annotated[
        Text, Field(min_length=1, max_length=24, description="Id or public id of the case this one repeats")
    ]
    version: Version = None
    note: Annotated[Text | None, Field(max_length=MAX_NOTE)] = None


class EventRead(BaseModel):
    id: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str | None = Field(description="Username; absent in the planners' view")
    note: str | None
    data: dict[str, Any] | None
    photo_ids: list[int]


class DuplicatesRead(BaseModel):
    possible: list[IncidentSummary] = Field(description="The nearest open cases of the same category (at most 10)")
    merged: list[IncidentSummary] = Field(description="Cases already merged into this one, newest first (at most 100)")
    merged_total: int = Field(description="How many cases were merged into this one in all")


# -- import -----------------------------------------------------------------------------------------------
class RefusedRow(BaseModel):
    row: int = Field(description="CSV: the line in the file (header = 1); GeoJSON: the feature's number from 1")
    field: str
    reason: str


class ImportReport(BaseModel):
    total: int
    imported: int = Field(description="0 when all_or_nothing met a refused row: nothing was written")
    refused: list[RefusedRow]
    all_or_nothing: bool
    seconds: float


# -- categories -------------------------------------------------------------------------------------------
class CategoryRead(BaseModel):
    code: str
    major_code: str
    major_name: str
    name_zh: str
    name_en: str
    deadline_hours: float
    after_photo_required: bool
    active: bool
