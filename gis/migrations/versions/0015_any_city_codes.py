"""Any city's codes: area and cell codes beyond 12 and 15 digits (issue 15).

The ``adcode`` and ``cn`` schemes keep their digits; ``any`` allows any id (letters, digits, ``_ . -``) and
long cell sequences add digits (see ``gis/areas/schemes.py``). Which codes are good is the code scheme's rule,
checked on import; the database keeps the rules that hold in every scheme: a code is a token, and a cell's
code starts with its community's. Widening a varchar rewrites nothing and keeps the indexes.

Revision ID: 0015
Revises: 0002, 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = ("0002", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AREA_CODE = 40  # gis.areas.schemes.MAX_CODE_LENGTH
CELL_CODE = 48  # an area code, a separator and up to seven digits
TOKEN = "'^[0-9A-Za-z][0-9A-Za-z_.-]*$'"

AREA_COLUMNS = [
    ("admin_area", "code", False), ("admin_area", "parent_code", True), ("compound", "community_code", False),
    ("grid_cell", "community_code", False), ("unit_pairing", "community_code", False),
    ("facility", "community_code", False), ("facility_booking", "community_code", False),
    ("team_jurisdiction", "area_code", False), ("app_user", "community_code", True),
    ("incident", "community_code", False), ("incident", "subdistrict_code", True),
]
CELL_COLUMNS = [("grid_cell", "code", False), ("grid_cell_worker", "cell_code", False), ("incident", "cell_code", True)]


def upgrade() -> None:
    for table, column, nullable in AREA_COLUMNS:
        op.alter_column(table, column, type_=sa.String(AREA_CODE), existing_type=sa.String(12),
                        existing_nullable=nullable)
    for table, column, nullable in CELL_COLUMNS:
        op.alter_column(table, column, type_=sa.String(CELL_CODE), existing_type=sa.String(15),
                        existing_nullable=nullable)
    op.drop_constraint(op.f("ck_admin_area_code_12_digits"), "admin_area", type_="check")
    op.create_check_constraint(op.f("ck_admin_area_code_token"), "admin_area", f"code ~ {TOKEN}")
    op.drop_constraint(op.f("ck_grid_cell_code_15_digits"), "grid_cell", type_="check")
    op.drop_constraint(op.f("ck_grid_cell_code_in_community"), "grid_cell", type_="check")
    op.create_check_constraint(op.f("ck_grid_cell_code_token"), "grid_cell", f"code ~ {TOKEN}")
    op.create_check_constraint(op.f("ck_grid_cell_code_in_community"), "grid_cell",
        "left(code, char_length(community_code)) = community_code AND char_length(code) > char_length(community_code)",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_grid_cell_code_in_community"), "grid_cell", type_="check")
    op.drop_constraint(op.f("ck_grid_cell_code_token"), "grid_cell", type_="check")
    op.create_check_constraint(op.f("ck_grid_cell_code_in_community"), "grid_cell", "substr(code, 1, 12) = community_code")
    op.create_check_constraint(op.f("ck_grid_cell_code_15_digits"), "grid_cell", "code ~ '^[0-9]{15}$'")
    op.drop_constraint(op.f("ck_admin_area_code_token"), "admin_area", type_="check")
    op.create_check_constraint(op.f("ck_admin_area_code_12_digits"), "admin_area", "code ~ '^[0-9]{12}$'")
    for table, column, nullable in CELL_COLUMNS:
        op.alter_column(table, column, type_=sa.String(15), existing_type=sa.String(CELL_CODE),
                        existing_nullable=nullable)
    for table, column, nullable in AREA_COLUMNS:
        op.alter_column(table, column, type_=sa.String(12), existing_type=sa.String(AREA_CODE),
                        existing_nullable=nullable)
