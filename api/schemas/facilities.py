"""Request and response models of the shared-facility API (``/api/v1/units``, ``/facilities``, ``/bookings``).

Coordinates are WGS84 longitude/latitude. Times are ISO 8601; a time without offset is local time
(Asia/Shanghai). Unit contacts (names, phones) are personal data and never appear in responses.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.deps import IdField
from api.schemas.common import Count, Finite, Moment, Text
from gis.models import FacilityType, UnitKind


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class UnitCreate(Body):
    name: Text = Field(min_length=1, max_length=200)
    kind: UnitKind
    credit_code: Text | None = Field(default=None, description="统一社会信用代码, 18 characters")
    address: Text | None = Field(default=None, max_length=200)
    lon: Finite | None = None
    lat: Finite | None = None
    contact_name: Text | None = Field(default=None, max_length=100)
    contact_phone: Text | None = Field(default=None, max_length=32)


class PairingWrite(Body):
    since: date | None = None
    commitment: Text | None = Field(default=None, max_length=2000)


class PairingRead(BaseModel):
    community_code: str
    since: date | None
    commitment: str | None


class UnitRead(BaseModel):
    id: int
    name: str
    kind: str
    credit_code: str | None
    address: str | None
    lon: float | None
    lat: float | None
    pairings: list[PairingRead]


class ManagerAdd(Body):
    user_id: IdField


class FacilityCreate(Body):
    name: Text = Field(min_length=1, max_length=200)
    type: FacilityType
    lon: Finite
    lat: Finite
    capacity: Count = Field(description="people (rooms, courts) or parking spaces")
    open_share: Finite = Field(default=1.0, description="share of the capacity opened, e.g. 0.3")
    opening_hours: Text | list[dict[str, Any]] = Field(
        description="e.g. 'Mo-Fr 18:30-07:30; Sa,Su 00:00-24:00', or [{days, open, close}, …]")
    holidays: list[date] = Field(default_factory=list, description="dates closed all day")
    booking_required: bool = True
    approval_required: bool = Field(default=False, description="bookings wait for the unit manager's approval")
    rules: Text | None = Field(default=None, max_length=2000)
    photos: list[Text] = Field(default_factory=list)
    footprint: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon")
    address: Text | None = Field(default=None, max_length=200)


class FacilityUpdate(Body):
    """Only the fields given change."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    type: FacilityType | None = None
    lon: Finite | None = None
    lat: Finite | None = None
    capacity: Count | None = None
    open_share: Finite | None = None
    opening_hours: Text | list[dict[str, Any]] | None = None
    holidays: list[date] | None = None
    booking_required: bool | None = None
    approval_required: bool | None = None
    rules: Text | None = None
    photos: list[Text] | None = None
    footprint: dict[str, Any] | None = None
    address: Text | None = None
    is_active: bool | None = None


class FacilityRead(BaseModel):
    id: int
    unit_id: int
    unit_name: str
    name: str
    type: str
    community_code: str
    address: str | None
    lon: float
    lat: float
    footprint: dict[str, Any] | None
    capacity: int
    capacity_unit: str
    open_share: float
    open_capacity: int
    opening_hours: str
    open_hours_week: float
    holidays: list[date]
    booking_required: bool
    approval_required: bool
    rules: str | None
    photos: list[str]
    is_active: bool


class BookingCreate(Body):
    community_code: Text | None = Field(default=None, max_length=12,
                                        description="the booking community; default: the caller's")
    starts_at: Moment
    ends_at: Moment
    quantity: Count = Field(default=1, description="people, or parking spaces")
    group_name: Text | None = Field(default=None, max_length=100, description="a resident group of the community")
    purpose: Text | None = Field(default=None, max_length=200)


class BookingDecline(Body):
    note: Text = Field(min_length=1, max_length=200, description="why the request is declined")


class BookingRead(BaseModel):
    id: int
    facility_id: int
    community_code: str
    group_name: str | None
    purpose: str | None
    starts_at: datetime
    ends_at: datetime
    quantity: int
    status: str = Field(description="requested (waiting for approval), active, declined or cancelled")
    created_at: datetime | None
    cancelled_at: datetime | None
    decided_at: datetime | None = None
    decision_note: str | None = Field(default=None, description="why a request was declined")


class SlotRead(BaseModel):
    start: datetime
    end: datetime


class CalendarBooking(BaseModel):
    booking_id: int
    community_code: str
    group_name: str | None
    starts_at: datetime
    ends_at: datetime
    quantity: int
    status: str = Field(description="requested (holds the slot while it waits for approval) or active")


class CalendarRead(BaseModel):
    facility_id: int
    start: datetime
    end: datetime
    open_capacity: int
    capacity_unit: str
    exclusive: bool = Field(description="true: one booking holds the whole facility; false: spaces are pooled")
    open: list[SlotRead]
    bookings: list[CalendarBooking]
