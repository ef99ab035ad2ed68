"""The incident taxonomy: GB/T 47678.5-2026 matter types with the city's deadlines, from a CSV it can edit.

``data/categories.csv`` (see data/README.md for where it comes from) has one row per matter type::

    code,local_code,major_code,major_name,name_zh,name_en,deadline_hours,after_photo_required
    09006,,09,街面秩序类,占道经营,Trading on the road or pavement,2,true

``deadline_hours`` counts working hours (``gis.incidents.work_calendar``). Reloading upserts by code and reports what
changed; a code that disappeared from the file is made inactive, never deleted (incidents refer to it).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, NotFound, Problem, ValidationFailed
from gis.models import Category
from gis.settings import PROJECT_ROOT

CATEGORIES_FILE = PROJECT_ROOT / "data" / "categories.csv"
COLUMNS = ("code", "local_code", "major_code", "major_name", "name_zh", "name_en", "deadline_hours",
           "after_photo_required")
_FIELDS = COLUMNS[1:]
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否"}


@dataclass
class ReloadSummary:
    """What a reload did, by code."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # code → names of the changed fields
    deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0

    def __str__(self) -> str:
        return (f"{len(self.added)} added, {len(self.changed)} changed, {len(self.deactivated)} deactivated, "
                f"{self.unchanged} unchanged")


def read_categories(path: Path) -> list[dict[str, object]]:
    """Rows of a categories CSV as column → value, every row checked.

    Raises ValidationFailed listing every bad row (line number, column, reason) and nothing is read."""
    problems: list[Problem] = []
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(f"{path.name}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
        for line, raw in enumerate(reader, start=2):
            row, row_problems = _parse_row(raw, f"line {line}")
            code = str(row.get("code", ""))
            if code in seen:
                row_problems.append(Problem("error", f"line {line}", f"code {code} appears twice"))
            seen.add(code)
            problems += row_problems
            rows.append(row)
    if problems:
        raise ValidationFailed(problems, what=path.name)
    return rows


def load_categories(session: Session, path: Path | None = None) -> ReloadSummary:
    """Upsert the categories of ``path`` (default ``data/categories.csv``) by code; flush, never commit.

    Codes missing from the file become inactive (new reports may not use them). Raises ValidationFailed
    when any row is bad, before anything is written."""
    rows = read_categories(path or CATEGORIES_FILE)
    existing = {c.code: c for c in session.scalars(select(Category))}
    summary = ReloadSummary()
    for row in rows:
        code = str(row["code"])
        category = existing.pop(code, None)
        if category is None:
            session.add(Category(**row, active=True))
            summary.added.append(code)
            continue
        changed = [name for name in _FIELDS if getattr(category, name) != row[name]]
        if not category.active:
            changed.append("active")
        if changed:
            for name in _FIELDS:
                setattr(category, name, row[name])
            category.active = True
            summary.changed[code] = changed
        else:
            summary.unchanged += 1
    for code, category in sorted(existing.items()):
        if category.active:
            category.active = False
            summary.deactivated.append(code)
    session.flush()
    return summary


def get_category(session: Session, code: str) -> Category:
    """The category ``code``; NotFound when there is none."""
    category = session.get(Category, code.strip() if isinstance(code, str) else code)
    if category is None:
        raise NotFound(f"no incident category {code!r}")
    return category


def usable_category(session: Session, code: str | None) -> Category:
    """The active category ``code`` for a new report; InvalidInput (field ``category``) otherwise."""
    if code is None or not str(code).strip():
        raise InvalidInput("category: required (a 5-digit GB/T 47678.5 matter code, e.g. 09006 占道经营)")
    category = session.get(Category, str(code).strip())
    if category is None:
        raise InvalidInput(f"category: unknown code {code!r}; see `GET /api/v1/categories` or data/categories.csv")
    if not category.active:
        raise InvalidInput(f"category: {code} ({category.name_zh}) is no longer in use")
    return category


def list_categories(session: Session, *, include_inactive: bool = False) -> list[Category]:
    query = select(Category).order_by(Category.code)
    if not include_inactive:
        query = query.where(Category.active.is_(True))
    return list(session.scalars(query))


def _parse_row(raw: dict[str, str | None], where: str) -> tuple[dict[str, object], list[Problem]]:
    problems: list[Problem] = []

    def bad(column: str, message: str) -> None:
        problems.append(Problem("error", where, f"{column}: {message}"))

    text = {c: (raw.get(c) or "").strip() for c in COLUMNS}
    code = text["code"]
    if not (len(code) == 5 and code.isdigit()):
        bad("code", f"must be 5 digits (got {code!r}); keep leading zeros, e.g. 06001")
    if text["major_code"] != code[:2]:
        bad("major_code", f"must be the first two digits of the code ({code[:2]!r}), got {text['major_code']!r}")
    for column in ("major_name", "name_zh", "name_en"):
        if not text[column]:
            bad(column, "must not be empty")
    try:
        hours = float(text["deadline_hours"])
        if not (math.isfinite(hours) and hours > 0):
            raise ValueError
    except ValueError:
        bad("deadline_hours", f"must be a positive number of working hours (got {text['deadline_hours']!r})")
        hours = math.nan
    flag = text["after_photo_required"].lower()
    if flag not in _TRUE | _FALSE:
        bad("after_photo_required", f"must be true or false (got {text['after_photo_required']!r})")
    row: dict[str, object] = {
        "code": code,
        "local_code": text["local_code"] or None,
        "major_code": text["major_code"],
        "major_name": text["major_name"],
        "name_zh": text["name_zh"],
        "name_en": text["name_en"],
        "deadline_hours": hours,
        "after_photo_required": flag in _TRUE,
    }
    return row, problems
