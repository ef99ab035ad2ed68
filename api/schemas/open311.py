"""Open311 GeoReport v2 documents (http://wiki.open311.org/GeoReport_v2), as the spec names their fields.

Each model renders to JSON as is and to XML through ``api.routes.open311`` (lists become repeated child
elements: ``<services><service>…</service></services>``). Dates are W3C date-times with an offset.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"


class Endpoint(BaseModel):
    specification: str = SPECIFICATION
    url: str
    changeset: str
    type: Literal["production", "test"] = "production"
    formats: list[str] = ["text/xml", "application/json"]


class Discovery(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    service_code: str = Field(description="The category's national (GB/T 47678.5) code")
    service_name: str
    description: str
    metadata: bool = False  # no extra attributes to ask for
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    keywords: str = ""
    group: str


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict[str, str]] = []


class ServiceRequest(BaseModel):
    """A case as GeoReport shows it; personal fields are empty in the public view."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float
    long: float
    media_url: str | None


class RequestCreated(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None = None


class Error(BaseModel):
    code: int
    description: str


_FILING_FIELDS: dict[str, Any] = {
    "service_code": {"type": "string", "description": "The category code (GET services.{fmt} lists them)"},
    "lat": {"type": "string", "description": "WGS84 latitude (with long: required unless a photo carries GPS)"},
    "long": {"type": "string", "description": "WGS84 longitude"},
    "description": {"type": "string"},
    "address_string": {"type": "string"},
    "api_key": {"type": "string", "description": "The filer's API key, unless sent as X-API-Key"},
}
FILING_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": _FILING_FIELDS, "required": ["service_code"]}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["service_code"], "properties": {
            **_FILING_FIELDS, "media": {"type": "array", "items": {"type": "string", "format": "binary"},
                                        "description": "Photos (at most six)"}}}},
        "application/json": {"schema": {"type": "object", "required": ["service_code"], "properties": {
            name: {"type": ["string", "number"], **{k: v for k, v in spec.items() if k != "type"}}
            for name, spec in _FILING_FIELDS.items()}}},
    },
}
"""The body of ``POST /open311/v2/requests.{fmt}``, read by ``api.routes.open311.filing`` (not by FastAPI)."""
