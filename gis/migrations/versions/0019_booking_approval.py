"""Booking approval (issue 12): a facility may require its unit's approval; a booking is then ``requested``
until the unit manager approves (``active``) or declines it (``declined``, with a reason).

A request holds its slot like a confirmed booking, so the no-overlap exclusion now covers both statuses.
Existing facilities keep confirming at once (``approval_required`` false).

Revision ID: 0019
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXCLUDE = ("ALTER TABLE facility_booking ADD CONSTRAINT ex_facility_booking_no_overlap "
            "EXCLUDE USING gist (facility_id WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE ({})")


def upgrade() -> None:
    op.add_column("facility", sa.Column("approval_required", sa.Boolean(), server_default=sa.text("false"),
                                        nullable=False))
    op.add_column("facility_booking", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("facility_booking", sa.Column("decided_by", sa.Integer(), nullable=True))
    op.add_column("facility_booking", sa.Column("decision_note", sa.String(length=200), nullable=True))
    op.create_foreign_key(op.f("fk_facility_booking_decided_by_app_user"), "facility_booking", "app_user",
                          ["decided_by"], ["id"], ondelete="SET NULL")
    op.drop_constraint(op.f("ck_facility_booking_status_known"), "facility_booking", type_="check")
    op.create_check_constraint(op.f("ck_facility_booking_status_known"), "facility_booking",
                               "status IN ('requested', 'active', 'declined', 'cancelled')")
    op.execute("ALTER TABLE facility_booking DROP CONSTRAINT ex_facility_booking_no_overlap")
    op.execute(_EXCLUDE.format("status IN ('requested', 'active') AND exclusive"))


def downgrade() -> None:
    op.execute("UPDATE facility_booking SET status = 'cancelled' WHERE status IN ('requested', 'declined')")
    op.execute("ALTER TABLE facility_booking DROP CONSTRAINT ex_facility_booking_no_overlap")
    op.execute(_EXCLUDE.format("status = 'active' AND exclusive"))
    op.drop_constraint(op.f("ck_facility_booking_status_known"), "facility_booking", type_="check")
    op.create_check_constraint(op.f("ck_facility_booking_status_known"), "facility_booking",
                               "status IN ('active', 'cancelled')")
    op.drop_constraint(op.f("fk_facility_booking_decided_by_app_user"), "facility_booking", type_="foreignkey")
    op.drop_column("facility_booking", "decision_note")
    op.drop_column("facility_booking", "decided_by")
    op.drop_column("facility_booking", "decided_at")
    op.drop_column("facility", "approval_required")
