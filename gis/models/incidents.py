"""Incidents (事部件案件): the taxonomy, the cases, their history, their photos, and replayed creates.

An incident is stored with its place already resolved (cell, community, subdistrict, responsible team) so
that lists filter on plain indexed codes. Every change of an incident is an ``IncidentEvent`` and bumps
``version`` (SQLAlchemy's version counter: an UPDATE from a stale copy matches no row and fails), so two
people acting on one case cannot silently overwrite each other.

The reporter is personal data: it never leaves through public layers or planner exports.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.db import Base
from gis.models.areas import AREA_CODE_LENGTH, CELL_CODE_LENGTH, SRID

MAX_DESCRIPTION = 4000


class Status(enum.StrEnum):
    """Where a case stands in the handling cycle (see ``gis.incidents.workflow`` for the moves between them)."""

    reported = "reported"  # 上报
    registered = "registered"  # 立案
    rejected = "rejected"  # 不予立案
    dispatched = "dispatched"  # 派遣
    in_progress = "in_progress"  # 处置中
    handled = "handled"  # 已处置
    verified = "verified"  # 核查通过
    closed = "closed"  # 结案
    shelved = "shelved"  # 挂账
    void = "void"  # 作废
    duplicate = "duplicate"  # 重复（并入另一案件）

    @property
    def label_zh(self) -> str:
        return _STATUS_ZH[self]

    @property
    def is_final(self) -> bool:
        """No work is expected any more (the deadline no longer runs)."""
        return self in FINAL_STATUSES


_STATUS_ZH = {
    Status.reported: "上报", Status.registered: "立案", Status.rejected: "不予立案", Status.dispatched: "派遣",
    Status.in_progress: "处置中", Status.handled: "已处置", Status.verified: "核查通过", Status.closed: "结案",
    Status.shelved: "挂账", Status.void: "作废", Status.duplicate: "重复",
}
FINAL_STATUSES = frozenset({Status.closed, Status.rejected, Status.void, Status.duplicate})
# Shelved cases are parked on purpose: their clock stops too, but they are not final (they may be reopened).
# Handled and verified cases wait on the supervision centre, not on the team: a team that handled a case in
# time is not late while it waits for the check, and a verified case is not drawn red as overdue. Sent back
# for rework (handled → in_progress), the case's own deadline runs again.
CLOCK_STOPPED = FINAL_STATUSES | {Status.shelved, Status.handled, Status.verified}


class Source(enum.StrEnum):
    patrol = "patrol"  # 巡查上报 (grid worker, officer)
    hotline_12345 = "hotline_12345"  # 12345 热线
    resident = "resident"  # 市民上报 (app, Open311)
    transfer = "transfer"  # 转办 (from another department)
    import_ = "import"  # bulk import of historic cases


class PhotoKind(enum.StrEnum):
    before = "before"  # 处置前 (what was reported)
    after = "after"  # 处置后 (the proof of handling)


def _in(values: Iterable[enum.StrEnum]) -> str:
    """An SQL list of enum values for CHECK constraints and index predicates (our constants, not user input)."""
    return ", ".join(f"'{v.value}'" for v in sorted(values))


class Category(Base):
    """A matter type (管理事项) of GB/T 47678.5-2026 with the city's handling rules, from data/categories.csv.

    Codes are never deleted (incidents refer to them); a code dropped from the file is made inactive."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    local_code: Mapped[str | None] = mapped_column(String(32))
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(String(50))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    deadline_hours: Mapped[float] = mapped_column(Float)
    after_photo_required: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")

    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{5}$'", name="code_5_digits"),
        CheckConstraint("deadline_hours > 0", name="deadline_positive"),
    )


class Incident(Base):
    """One case. ``public_id`` (JS-2026-000123) is what people quote on the phone; ``id`` stays internal."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    category_code: Mapped[str] = mapped_column(String(5), ForeignKey("category.code", onupdate="CASCADE"))
    description: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True))
    address: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    cell_code: Mapped[str | None] = mapped_column(String(CELL_CODE_LENGTH))
    community_code: Mapped[str] = mapped_column(String(AREA_CODE_LENGTH))
    subdistrict_code: Mapped[str | None] = mapped_column(String(AREA_CODE_LENGTH))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=Status.reported.value)
    version: Mapped[int] = mapped_column(Integer, default=1)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    category: Mapped[Category] = relationship(lazy="joined", innerjoin=True)
    original: Mapped[Incident | None] = relationship(remote_side=[id], back_populates="duplicates")
    duplicates: Mapped[list[Incident]] = relationship(back_populates="original", order_by="Incident.id")
    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id", cascade="all, delete-orphan", passive_deletes=True
    )
    photos: Mapped[list[IncidentPhoto]] = relationship(
        back_populates="incident", order_by="IncidentPhoto.id", cascade="all, delete-orphan", passive_deletes=True
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy's declarative protocol)

    __table_args__ = (
        CheckConstraint(f"char_length(description) <= {MAX_DESCRIPTION}", name="description_length"),
        CheckConstraint(f"status IN ({_in(Status)})", name="status_known"),
        CheckConstraint(f"source IN ({_in(Source)})", name="source_known"),
        CheckConstraint("closed_at IS NULL OR closed_at >= reported_at", name="closed_after_reported"),
        CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        # Lists filter on the statuses of work in hand; closed history (most rows) stays out of this index.
        Index("ix_incident_open_status", "status", postgresql_where=f"status NOT IN ({_in(FINAL_STATUSES)})"),
        Index("ix_incident_category_code", "category_code"),
        Index("ix_incident_community_code", "community_code"),
        Index("ix_incident_subdistrict_code", "subdistrict_code"),
        Index("ix_incident_cell_code", "cell_code"),
        Index("ix_incident_team_id", "team_id"),
        Index("ix_incident_reported_at_id", "reported_at", "id"),
        Index("ix_incident_updated_at_id", "updated_at", "id"),
        Index("ix_incident_duplicate_of", "duplicate_of", postgresql_where="duplicate_of IS NOT NULL"),
        # Possible duplicates: the nearest open cases of one category (btree_gist; migration 0014).
        Index("ix_incident_open_category_location", "category_code", "location", postgresql_using="gist",
              postgresql_where=f"status NOT IN ({_in(FINAL_STATUSES)})"),
        # Density tiles count per area, category and time window, open and overdue: index-only (migration 0011).
        Index("ix_incident_cell_density", "cell_code", "category_code", "reported_at",
              postgresql_include=["status", "deadline_at"]),
        # A cell tile counts its cells' communities' cases by this index, kept per cell by the cell code
        # included (migration 0017).
        Index("ix_incident_community_density", "community_code", "category_code", "reported_at",
              postgresql_include=["status", "deadline_at", "cell_code"]),
        Index("ix_incident_subdistrict_density", "subdistrict_code", "category_code", "reported_at",
              postgresql_include=["status", "deadline_at"]),
        # Overdue and escalation scans look only at cases whose clock is running.
        Index(
            "ix_incident_open_deadline",
            "deadline_at",
            postgresql_where=f"deadline_at IS NOT NULL AND status NOT IN ({_in(CLOCK_STOPPED)})",
        ),
    )

    @property
    def status_enum(self) -> Status:
        return Status(self.status)

    @property
    def canonical(self) -> Incident:
        """The case this one was merged into (following chains), or itself: where later updates go."""
        incident, seen = self, {self.id}
        while incident.original is not None and incident.original.id not in seen:
            incident = incident.original
            seen.add(incident.id)
        return incident

    def is_overdue(self, now: datetime) -> bool:
        """Overdue (超期): past its deadline while its clock still runs (its status not in ``CLOCK_STOPPED``).

        The one definition of overdue, in its two forms side by side: this one for a loaded case, and
        :meth:`overdue_clause` for SQL (lists, layers, tiles, escalation, evaluation);
        ``tests/gis/models/test_incidents.py`` holds them to the same answer for every status."""
        return (
            self.deadline_at is not None and now > self.deadline_at and Status(self.status) not in CLOCK_STOPPED
        )

    @classmethod
    def overdue_clause(cls, now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
        """SQL: :meth:`is_overdue` at ``now`` (a datetime, or a SQL expression such as ``func.now()``)."""
        return and_(
            cls.deadline_at.is_not(None),
            cls.deadline_at < now,
            cls.status.not_in([s.value for s in CLOCK_STOPPED]),
        )


class IncidentEvent(Base):
    """One step in a case's history: who did what when, from which status to which, with a note.

    ``action`` names the step (report, register, dispatch, extend, escalate, import…); ``from_status`` equals
    ``to_status`` for steps that keep the status (an extension, an escalation). ``data`` holds what the step
    decided: the team, the new deadline and reason, the approver, the original of a duplicate."""

    __tablename__ = "incident_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    incident: Mapped[Incident] = relationship(back_populates="events")
    photos: Mapped[list[IncidentPhoto]] = relationship(back_populates="event", order_by="IncidentPhoto.id")

    __table_args__ = (
        CheckConstraint(f"to_status IN ({_in(Status)})", name="to_status_known"),
        Index("ix_incident_event_incident_id", "incident_id", "id"),
    )


class IncidentPhoto(Base):
    """A photo of a case, stored on disk under a content-hash name; ``event_id`` is the step it documents."""

    __tablename__ = "incident_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_event.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))  # relative to settings.photo_dir
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    incident: Mapped[Incident] = relationship(back_populates="photos")
    event: Mapped[IncidentEvent | None] = relationship(back_populates="photos")

    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(PhotoKind)})", name="kind_known"),
        CheckConstraint("bytes > 0", name="bytes_positive"),
        UniqueConstraint("incident_id", "sha256", name="uq_incident_photo_incident_sha256"),
        Index("ix_incident_photo_incident_id", "incident_id"),
    )


class IdempotencyKey(Base):
    """A create already done: the same user sending the same Idempotency-Key gets the first incident back."""

    __tablename__ = "idempotency_key"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # SHA-256 of the request it answered (gis.incidents.service.request_fingerprint); None for older keys.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
