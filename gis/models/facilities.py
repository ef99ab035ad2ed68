"""Shared facilities (场所联享) and unit–community pairing (结对共建).

Units (州市直单位, schools, hospitals, companies) open facilities to nearby communities and pair with
communities to serve them. A facility's ``capacity`` counts people (rooms, courts) or spaces (parking);
``open_share`` is the part of it opened to the public, so ``open_capacity`` is what bookings may use.

Bookings come in two kinds, fixed by the facility's capacity unit and copied onto the booking so that the
database can enforce them:

* **exclusive** (people): one booking holds the whole room for its time range; the partial exclusion
  constraint ``ex_facility_booking_no_overlap`` makes two holding (requested or active) overlapping exclusive
  bookings of one facility impossible, whatever code writes them;
* **pooled** (spaces): bookings share the open spaces; their sum at any moment may not exceed
  ``open_capacity``. A sum is not something a constraint can check, so ``gis.facilities.bookings`` serialises the
  bookings of one facility with a row lock (``SELECT … FOR UPDATE`` on the facility).

Contact names and phones are personal data: they never leave through layers or exports.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import Base
from gis.models.areas import AREA_CODE_LENGTH, SRID


class UnitKind(enum.StrEnum):
    government = "government"  # 州市直单位 / 机关
    school = "school"  # 学校
    hospital = "hospital"  # 医院
    enterprise = "enterprise"  # 企业
    social_org = "social_org"  # 社会组织

    @property
    def label_zh(self) -> str:
        return {"government": "机关单位", "school": "学校", "hospital": "医院", "enterprise": "企业",
                "social_org": "社会组织"}[self.value]


class FacilityType(enum.StrEnum):
    meeting_room = "meeting_room"  # 会议室
    culture_room = "culture_room"  # 文化活动室
    sports_court = "sports_court"  # 运动场地
    education_room = "education_room"  # 教育培训室
    parking_lot = "parking_lot"  # 停车场
    canteen = "canteen"  # 食堂
    other = "other"

    @property
    def label_zh(self) -> str:
        return {"meeting_room": "会议室", "culture_room": "文化活动室", "sports_court": "运动场地",
                "education_room": "教育培训室", "parking_lot": "停车场", "canteen": "食堂",
                "other": "其他"}[self.value]

    @property
    def capacity_unit(self) -> CapacityUnit:
        return CapacityUnit.spaces if self is FacilityType.parking_lot else CapacityUnit.people


class CapacityUnit(enum.StrEnum):
    people = "people"  # booked exclusively: one booking holds the facility
    spaces = "spaces"  # pooled: bookings share the open spaces


class BookingStatus(enum.StrEnum):
    """``requested`` waits for the facility's unit to approve (facilities with ``approval_required``);
    ``active`` is confirmed (approved, or booked where no approval is needed). Both hold their slot."""

    requested = "requested"
    active = "active"
    declined = "declined"
    cancelled = "cancelled"

    @property
    def label_zh(self) -> str:
        return {"requested": "待审批", "active": "已确认", "declined": "未通过", "cancelled": "已取消"}[self.value]


# A request waiting for approval holds its slot as a confirmed booking does: first come, first held, and the
# unit's manager decides one request at a time rather than arbitrating between overlapping ones.
HOLDING_STATUSES = (BookingStatus.requested.value, BookingStatus.active.value)


def _known(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Unit(Base):
    """A unit that shares facilities or pairs with communities (共建单位)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)  # 统一社会信用代码
    address: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[WKBElement | None] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True))
    contact_name: Mapped[str | None] = mapped_column(String(100))  # personal data: never published
    contact_phone: Mapped[str | None] = mapped_column(String(32))  # personal data: never published
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    facilities: Mapped[list[Facility]] = relationship(back_populates="unit")
    pairings: Mapped[list[UnitPairing]] = relationship(back_populates="unit", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint(_known("kind", UnitKind), name="kind_known"),
        CheckConstraint("credit_code IS NULL OR credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="credit_code_form"),
    )


class UnitPairing(Base):
    """A unit paired with a community (结对共建): since when, and what the unit committed to do."""

    __tablename__ = "unit_pairing"

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), primary_key=True, index=True)
    since: Mapped[date | None] = mapped_column(Date)
    commitment: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit] = relationship(back_populates="pairings")


class UnitManager(Base):
    """Which users (role unit_manager) manage which unit's facilities and bookings."""

    __tablename__ = "unit_manager"

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)


class Facility(Base):
    """A facility a unit opens to communities, inside one community (by the current boundary)."""

    __tablename__ = "facility"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True))
    footprint: Mapped[WKBElement | None] = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False))
    capacity: Mapped[int] = mapped_column(Integer)
    capacity_unit: Mapped[str] = mapped_column(String(8))
    open_share: Mapped[float] = mapped_column(Numeric(4, 3, asdecimal=False), default=1.0)
    open_capacity: Mapped[int] = mapped_column(
        Integer, Computed("floor(capacity * open_share)::integer", persisted=True))
    opening_hours: Mapped[str] = mapped_column(Text)  # canonical text, see gis.facilities.opening_hours
    open_hours_week: Mapped[float] = mapped_column(Float)  # derived from opening_hours when written
    holidays: Mapped[list[date]] = mapped_column(ARRAY(Date), default=list)  # closed all day
    booking_required: Mapped[bool] = mapped_column(default=True)
    # Bookings wait for the unit manager's approval (requested → active / declined); off: confirmed at once.
    approval_required: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    rules: Mapped[str | None] = mapped_column(Text)
    photos: Mapped[list[str]] = mapped_column(JSONB, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    unit: Mapped[Unit] = relationship(back_populates="facilities")

    __table_args__ = (
        CheckConstraint(_known("type", FacilityType), name="type_known"),
        CheckConstraint(_known("capacity_unit", CapacityUnit), name="capacity_unit_known"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("open_share > 0 AND open_share <= 1", name="open_share_fraction"),
        CheckConstraint("open_hours_week >= 0 AND open_hours_week <= 168", name="open_hours_in_week"),
        Index("uq_facility_unit_name", "unit_id", "name", unique=True),
        # Reach is measured in metres on the sphere: the geography index serves ST_DWithin(geography).
        Index("ix_facility_geog", text("(geom::geography)"), postgresql_using="gist"),
    )


class Booking(Base):
    """A community (or one of its resident groups) holding a facility, or some of its spaces, for a time."""

    __tablename__ = "facility_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int] = mapped_column(ForeignKey("facility.id", ondelete="CASCADE"), index=True)
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH), index=True)
    group_name: Mapped[str | None] = mapped_column(String(100))  # a resident group of the community
    purpose: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    quantity: Mapped[int] = mapped_column(Integer, default=1)  # people, or parking spaces
    exclusive: Mapped[bool] = mapped_column()  # copied from the facility: see the module docstring
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.active.value)
    booked_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # approved or declined
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(String(200))  # why declined (shown to the community)

    facility: Mapped[Facility] = relationship()

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="range_ordered"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_known("status", BookingStatus), name="status_known"),
        ExcludeConstraint(
            ("facility_id", "="),
            (func.tstzrange(text("starts_at"), text("ends_at")), "&&"),
            name="ex_facility_booking_no_overlap",
            using="gist",
            where=text("status IN ('requested', 'active') AND exclusive"),
        ),
        Index("ix_facility_booking_period", "facility_id", "starts_at", "ends_at"),
    )
