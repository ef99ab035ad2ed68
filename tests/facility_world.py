"""Units and facilities for tests, written straight into a session, inside the ``tests.factories`` world.

The world's communities are squares of 0.03° × 0.04°; ``INSIDE`` lies in 433101004001 (乾州社区) near its
grid cells, ``FAR`` in 433101005002 (光明社区), ``OUTSIDE`` in no community at all.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gis.facilities import service as facilities
from gis.facilities.service import FacilitySpec, UnitSpec
from gis.models import Facility, Unit
from tests.factories import add_world

INSIDE = (109.7015, 28.2515)  # 55 m north of the second of the world's grid cells, 74 m from the others
FAR = (109.745, 28.31)
OUTSIDE = (109.80, 28.40)
ALWAYS_OPEN = "Mo-Su 00:00-24:00"


def add_unit(session: Session, name: str = "测试单位", kind: str = "government", **options: Any) -> Unit:
    add_world(session)
    return facilities.create_unit(session, UnitSpec(name=name, kind=kind, **options))


def facility_spec(name: str = "会议室", type: str = "meeting_room", at: tuple[float, float] = INSIDE,
                  **options: Any) -> FacilitySpec:
    values: dict[str, Any] = {"capacity": 50, "opening_hours": ALWAYS_OPEN}
    values.update(options)
    return FacilitySpec(name=name, type=type, lon=at[0], lat=at[1], **values)


def add_facility(session: Session, unit: Unit | None = None, **options: Any) -> Facility:
    unit = unit or add_unit(session)
    return facilities.create_facility(session, unit=unit, spec=facility_spec(**options))


# -- files for import tests ---------------------------------------------------------------------------

UNIT_HEADER = ["name", "kind", "credit_code", "address", "lon", "lat", "contact_name", "contact_phone"]
PAIRING_HEADER = ["unit", "community_code", "since", "commitment"]
FACILITY_HEADER = ["unit", "name", "type", "lon", "lat", "capacity", "open_share", "opening_hours", "holidays",
                   "booking_required", "rules"]


def write_csv(folder: Path, name: str, header: list[str], rows: list[list[object]]) -> Path:
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def facility_row(name: str = "会议室", at: tuple[float, float] = INSIDE, **changes: object) -> list[object]:
    row = {"unit": "测试医院", "name": name, "type": "meeting_room", "lon": at[0], "lat": at[1], "capacity": 40,
           "open_share": "50%", "opening_hours": "Mo-Fr 18:30-07:30; Sa,Su 全天", "holidays": "2030-10-01..2030-10-03",
           "booking_required": "是", "rules": "禁止吸烟"}
    row.update(changes)
    return [row[h] for h in FACILITY_HEADER]


def write_import_files(session: Session, folder: Path) -> dict[str, Path]:
    """Two units, one pairing and three facilities (two near the world's cells, one far) as CSV files."""
    add_world(session)
    return {
        "units": write_csv(folder, "units.csv", UNIT_HEADER, [
            ["测试医院", "hospital", "", "", *INSIDE, "办公室", ""],
            ["测试大学", "school", "", "", *FAR, "", ""]]),
        "pairings": write_csv(folder, "pairings.csv", PAIRING_HEADER, [
            ["测试医院", "433101004001", "2023-03-01", "开放停车场"]]),
        "facilities": write_csv(folder, "facilities.csv", FACILITY_HEADER, [
            facility_row(), facility_row("停车场", type="parking_lot", capacity=300, open_share="30%"),
            facility_row("操场", at=FAR, unit="测试大学", type="sports_court", capacity=500)]),
    }
