"""Shared facilities (场所联享) and pairing (结对共建): units, the communities they pair with, their facilities.

Services flush and never commit. Input arrives as plain specs (:class:`UnitSpec`, :class:`FacilitySpec`)
whose ``problems()`` name each bad field, so the API, the CLI and the file import check the same rules.
A facility must lie inside a current community (its ``community_code`` is derived, never typed); one
outside every community is refused with :class:`OutsideEveryCommunity`.

Who may change what: ``admin`` anything; a ``unit_manager`` the units listed for them in ``unit_manager``
(:func:`require_manages`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InvalidInput, NotFound
from gis.facilities import opening_hours
from gis.models import (
    SRID,
    AdminArea,
    AdminLevel,
    CapacityUnit,
    Facility,
    FacilityType,
    Role,
    Unit,
    UnitKind,
    UnitManager,
    UnitPairing,
    User,
)
from gis.people.permissions import Action, require

# GB 32100-2015: 18 characters from this alphabet, the last a check character (weights 3^i mod 31).
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
MAX_CAPACITY = 100_000
MAX_PHOTOS = 20


class OutsideEveryCommunity(InvalidInput):
    """A location that no current community boundary covers."""


# -- checks shared by every way in -------------------------------------------------------------------

def credit_code_problem(code: str) -> str | None:
    """Why ``code`` is not a unified social credit code (统一社会信用代码), or None when it is one."""
    if len(code) != 18 or any(c not in CREDIT_ALPHABET for c in code):
        return (f"'{code}' is not 18 characters of 0–9 and A–Y without I, O, S, V, Z "
                "(统一社会信用代码, GB 32100-2015)")
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(code[:17], _CREDIT_WEIGHTS, strict=True))
    expected = CREDIT_ALPHABET[(31 - total % 31) % 31]
    if code[17] != expected:
        return f"'{code}' fails its check character (ends in {code[17]}, the first 17 give {expected}); a typo?"
    return None


def with_check_character(first17: str) -> str:
    """Complete 17 characters to a unified social credit code (for fixtures and synthetic samples)."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return first17 + CREDIT_ALPHABET[(31 - total % 31) % 31]


def _lonlat_problem(lon: float | None, lat: float | None, *, required: bool) -> str | None:
    if lon is None or lat is None:
        return "lon/lat: required (WGS84 degrees)" if required else None
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"lon/lat: ({lon}, {lat}) is not a WGS84 longitude/latitude"
    if 3 <= lon <= 55 and 72 <= lat <= 136:
        return f"lon/lat: ({lon}, {lat}) looks swapped; give longitude first"
    return None


@dataclass
class UnitSpec:
    """What a unit is, as a person or a file gives it. Coordinates are WGS84."""

    name: str
    kind: str
    credit_code: str | None = None
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    contact_name: str | None = None
    contact_phone: str | None = None

    def problems(self) -> list[str]:
        """Every bad field, each as ``field: what is wrong``; empty when the spec can be stored."""
        found: list[str] = []
        if not self.name or not self.name.strip():
            found.append("name: must not be empty")
        if self.kind not in set(UnitKind):
            found.append(f"kind: '{self.kind}' is not one of {', '.join(UnitKind)}")
        if self.credit_code and (why := credit_code_problem(self.credit_code)):
            found.append(f"credit_code: {why}")
        if (why := _lonlat_problem(self.lon, self.lat, required=False)):
            found.append(why)
        return found


@dataclass
class FacilitySpec:
    """What a facility is, as a person or a file gives it. Coordinates are WGS84; the footprint too."""

    name: str
    type: str
    lon: float
    lat: float
    capacity: int
    opening_hours: str | list[Any]
    open_share: float = 1.0
    holidays: list[date] = field(default_factory=list)
    booking_required: bool = True
    approval_required: bool = False  # bookings wait for the unit manager's approval (gis.facilities.bookings)
    rules: str | None = None
    photos: list[str] = field(default_factory=list)
    footprint: BaseGeometry | None = None
    address: str | None = None
    is_active: bool = True

    def problems(self) -> list[str]:
        """Every bad field, each as ``field: what is wrong``; empty when the spec can be stored."""
        found: list[str] = []
        if not self.name or not self.name.strip():
            found.append("name: must not be empty")
        if self.type not in set(FacilityType):
            found.append(f"type: '{self.type}' is not one of {', '.join(FacilityType)}")
        if (why := _lonlat_problem(self.lon, self.lat, required=True)):
            found.append(why)
        if not isinstance(self.capacity, int) or not 0 < self.capacity <= MAX_CAPACITY:
            found.append(f"capacity: {self.capacity!r} must be a whole number of people or spaces, 1–{MAX_CAPACITY}")
        if not 0 < self.open_share <= 1:
            found.append(f"open_share: {self.open_share} must be a fraction in (0, 1], e.g. 0.3 for 30%")
        try:
            opening_hours.parse(self.opening_hours)
        except InvalidInput as exc:
            found.append(str(exc))
        if len(self.photos) > MAX_PHOTOS or any(not isinstance(p, str) or not p or ".." in p or len(p) > 500
                                                for p in self.photos):
            found.append(f"photos: at most {MAX_PHOTOS} URLs or photo paths, each 1–500 characters, no '..'")
        if self.footprint is not None:
            found += self._footprint_problems()
        return found

    def _footprint_problems(self) -> list[str]:
        shape = self.footprint
        if not isinstance(shape, Polygon | MultiPolygon) or shape.is_empty:
            return [f"footprint: must be a Polygon or MultiPolygon, not {getattr(shape, 'geom_type', shape)!r}"]
        if not shape.is_valid:
            return ["footprint: is not a valid polygon (self-intersecting?); redraw it"]
        if math.isfinite(self.lon) and not shape.covers(Point(self.lon, self.lat)):
            return ["footprint: does not cover the facility's point (lon/lat); put the point inside it, "
                    "e.g. at the entrance"]
        return []

    @property
    def capacity_unit(self) -> CapacityUnit:
        return FacilityType(self.type).capacity_unit


def _raise_if(problems: list[str], what: str) -> None:
    if problems:
        raise InvalidInput(f"{what}: " + "; ".join(problems))


# -- look-ups ----------------------------------------------------------------------------------------

def community_at(session: Session, lon: float, lat: float) -> str | None:
    """Code of the current community whose boundary covers the WGS84 point, or None."""
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID)
    return session.execute(
        select(AdminArea.code)
        .where(AdminArea.level == AdminLevel.community.value, AdminArea.valid_to.is_(None),
               func.ST_Covers(AdminArea.geom, point))
        .order_by(AdminArea.code)
        .limit(1)
    ).scalar_one_or_none()


def require_community(session: Session, code: str, field_name: str = "community_code") -> str:
    """``code`` if it names a current community; InvalidInput naming the field otherwise."""
    found = session.execute(
        select(AdminArea.code).where(AdminArea.code == code, AdminArea.valid_to.is_(None),
                                     AdminArea.level == AdminLevel.community.value)
    ).scalar_one_or_none()
    if found is None:
        raise InvalidInput(f"{field_name}: {code!r} is not a current community code")
    return found


def get_unit_or_raise(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"no unit {unit_id}")
    return unit


def get_facility_or_raise(session: Session, facility_id: int) -> Facility:
    facility = session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(f"no facility {facility_id}")
    return facility


def managed_unit_ids(session: Session, user: User) -> set[int]:
    return set(session.execute(select(UnitManager.unit_id).where(UnitManager.user_id == user.id)).scalars())


def require_manages(session: Session, user: User, unit_id: int) -> None:
    """Raise Forbidden unless ``user`` may manage the unit's facilities and their bookings."""
    require(user, Action.facility_manage)
    if user.role == Role.admin.value or unit_id in managed_unit_ids(session, user):
        return
    raise Forbidden(f"user {user.username} does not manage unit {unit_id}")


# -- units and pairing -------------------------------------------------------------------------------

def create_unit(session: Session, spec: UnitSpec) -> Unit:
    """Add a unit. InvalidInput names each bad field; Conflict when the name or credit code is taken."""
    _raise_if(spec.problems(), "unit")
    _require_unique_unit(session, spec, unit_id=None)
    unit = Unit()
    _apply_unit(unit, spec)
    session.add(unit)
    session.flush()
    return unit


def update_unit(session: Session, unit: Unit, spec: UnitSpec) -> Unit:
    _raise_if(spec.problems(), "unit")
    _require_unique_unit(session, spec, unit_id=unit.id)
    _apply_unit(unit, spec)
    session.flush()
    return unit


def unit_spec(unit: Unit) -> UnitSpec:
    """The spec a stored unit would be written from (for partial updates: ``replace(unit_spec(u), …)``)."""
    point = to_shape(unit.geom) if unit.geom is not None else None
    return UnitSpec(name=unit.name, kind=unit.kind, credit_code=unit.credit_code, address=unit.address,
                    lon=point.x if point else None, lat=point.y if point else None,
                    contact_name=unit.contact_name, contact_phone=unit.contact_phone)


def _require_unique_unit(session: Session, spec: UnitSpec, unit_id: int | None) -> None:
    clash = session.execute(select(Unit.id).where(Unit.name == spec.name.strip(), Unit.id != (unit_id or -1)))
    if clash.first():
        raise Conflict(f"name: a unit named {spec.name!r} exists already")
    if spec.credit_code:
        clash = session.execute(select(Unit.name).where(Unit.credit_code == spec.credit_code,
                                                        Unit.id != (unit_id or -1)))
        if (other := clash.scalar_one_or_none()) is not None:
            raise Conflict(f"credit_code: {spec.credit_code} belongs to {other}")


def _apply_unit(unit: Unit, spec: UnitSpec) -> None:
    unit.name = spec.name.strip()
    unit.kind = spec.kind
    unit.credit_code = spec.credit_code or None
    unit.address = spec.address
    unit.geom = from_shape(Point(spec.lon, spec.lat), SRID) if spec.lon is not None and spec.lat is not None \
        else None
    unit.contact_name = spec.contact_name
    unit.contact_phone = spec.contact_phone


def pair(session: Session, *, unit: Unit, community_code: str, since: date | None = None,
         commitment: str | None = None) -> UnitPairing:
    """Pair ``unit`` with a current community (结对共建), or update the pairing's date and commitment."""
    require_community(session, community_code)
    pairing = session.get(UnitPairing, (unit.id, community_code))
    if pairing is None:
        pairing = UnitPairing(unit_id=unit.id, community_code=community_code)
        session.add(pairing)
    pairing.since = since
    pairing.commitment = commitment
    session.flush()
    return pairing


def unpair(session: Session, *, unit: Unit, community_code: str) -> None:
    pairing = session.get(UnitPairing, (unit.id, community_code))
    if pairing is None:
        raise NotFound(f"unit {unit.name} is not paired with community {community_code}")
    session.delete(pairing)
    session.flush()


def add_manager(session: Session, *, unit: Unit, user: User) -> None:
    """Let ``user`` (role unit_manager) manage ``unit``; doing it twice changes nothing."""
    if user.role != Role.unit_manager.value:
        raise InvalidInput(f"user: {user.username} has role {user.role}; only a unit_manager manages a unit")
    if session.get(UnitManager, (unit.id, user.id)) is None:
        session.add(UnitManager(unit_id=unit.id, user_id=user.id))
        session.flush()


# -- facilities --------------------------------------------------------------------------------------

def create_facility(session: Session, *, unit: Unit, spec: FacilitySpec) -> Facility:
    """Add a facility of ``unit``. InvalidInput names each bad field; OutsideEveryCommunity when no current
    community covers its point; Conflict when the unit has a facility of that name already."""
    facility = Facility(unit_id=unit.id)
    _write_facility(session, facility, spec)
    session.add(facility)
    session.flush()
    session.refresh(facility, ["open_capacity"])
    return facility


def update_facility(session: Session, facility: Facility, spec: FacilitySpec) -> Facility:
    """Rewrite a facility from ``spec`` (build one with ``replace(facility_spec(f), …)`` for a partial edit)."""
    _write_facility(session, facility, spec)
    session.flush()
    session.refresh(facility, ["open_capacity"])
    return facility


def facility_spec(facility: Facility) -> FacilitySpec:
    point = to_shape(facility.geom)
    return FacilitySpec(
        name=facility.name, type=facility.type, lon=point.x, lat=point.y, capacity=facility.capacity,
        opening_hours=facility.opening_hours, open_share=float(facility.open_share),
        holidays=list(facility.holidays or []), booking_required=facility.booking_required,
        approval_required=facility.approval_required, rules=facility.rules, photos=list(facility.photos or []),
        footprint=to_shape(facility.footprint) if facility.footprint is not None else None,
        address=facility.address, is_active=facility.is_active,
    )


def changed_fields(facility: Facility, spec: FacilitySpec) -> list[str]:
    """Names of the fields where ``spec`` differs from the stored facility (for idempotent imports)."""
    current = facility_spec(facility)
    differ = []
    for f in fields(FacilitySpec):
        old, new = getattr(current, f.name), getattr(spec, f.name)
        if f.name == "opening_hours":
            old, new = opening_hours.parse(old), opening_hours.parse(new)
        elif f.name == "footprint":
            old = old.wkb if old is not None else None
            new = MultiPolygon([new]).wkb if isinstance(new, Polygon) else (new.wkb if new is not None else None)
        elif f.name in {"lon", "lat", "open_share"}:
            old, new = round(float(old), 7), round(float(new), 7)
        elif f.name == "holidays":
            old, new = sorted(old), sorted(new)
        if old != new:
            differ.append(f.name)
    return differ


def _write_facility(session: Session, facility: Facility, spec: FacilitySpec) -> None:
    _raise_if(spec.problems(), f"facility {spec.name!r}")
    community = community_at(session, spec.lon, spec.lat)
    if community is None:
        raise OutsideEveryCommunity(
            f"lon/lat: ({spec.lon:.6f}, {spec.lat:.6f}) of facility {spec.name!r} is outside every community; "
            "check the coordinates (WGS84, lon first; GCJ-02 from AMap must be converted) or load the boundary")
    clash = session.execute(select(Facility.id).where(
        Facility.unit_id == facility.unit_id, Facility.name == spec.name.strip(), Facility.id != (facility.id or -1)))
    if clash.first():
        raise Conflict(f"name: the unit has a facility named {spec.name!r} already")
    schedule = opening_hours.parse(spec.opening_hours)
    footprint = spec.footprint
    facility.name = spec.name.strip()
    facility.type = spec.type
    facility.community_code = community
    facility.address = spec.address
    facility.geom = from_shape(Point(spec.lon, spec.lat), SRID)
    facility.footprint = from_shape(MultiPolygon([footprint]) if isinstance(footprint, Polygon) else footprint,
                                    SRID) if footprint is not None else None
    facility.capacity = spec.capacity
    facility.capacity_unit = spec.capacity_unit.value
    facility.open_share = spec.open_share
    facility.opening_hours = schedule.to_text()
    facility.open_hours_week = round(schedule.hours_per_week(), 2)
    facility.holidays = sorted(set(spec.holidays))
    facility.booking_required = spec.booking_required
    facility.approval_required = spec.approval_required
    facility.rules = spec.rules
    facility.photos = list(spec.photos)
    facility.is_active = spec.is_active


def schedule_of(facility: Facility) -> opening_hours.WeeklySchedule:
    return opening_hours.parse(facility.opening_hours)

