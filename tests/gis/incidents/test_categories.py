import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.errors import InvalidInput, ValidationFailed
from gis.incidents.categories import CATEGORIES_FILE, COLUMNS, load_categories, read_categories, usable_category
from gis.models import Category

NAMED_IN_THE_ISSUE = {
    "06001": "私搭乱建", "06034": "废弃车辆", "09006": "占道经营", "09005": "店外经营", "06036": "乱堆杂物",
    "06030": "乱倒乱排污水、废水", "06010": "暴露垃圾", "06011": "积存垃圾渣土", "07003": "违规户外广告",
    "07001": "非法小广告", "09001": "无照经营游商",
}


def _rows() -> list[dict[str, str]]:
    with CATEGORIES_FILE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_shipped_file_holds_all_250_matters_with_the_issues_categories() -> None:
    rows = read_categories(CATEGORIES_FILE)
    assert len(rows) == 250
    names = {r["code"]: r["name_zh"] for r in rows}
    assert {code: names[code] for code in NAMED_IN_THE_ISSUE} == NAMED_IN_THE_ISSUE
    street_order = [r for r in rows if r["major_code"] in {"06", "07", "08", "09", "10"}]
    assert all(r["name_en"] and r["name_en"] != r["major_name"] for r in street_order)
    assert len({r["name_en"] for r in street_order}) == len(street_order)  # each its own English name


def test_the_migration_seeded_the_category_table(db: Session) -> None:
    assert db.scalar(select(func.count()).select_from(Category)) == 250
    vendor = db.get(Category, "09001")
    assert vendor is not None and vendor.name_en == "Unlicensed street vending" and vendor.deadline_hours > 0


def test_reloading_the_unchanged_file_changes_nothing(db: Session) -> None:
    summary = load_categories(db)
    assert (summary.added, summary.changed, summary.deactivated, summary.unchanged) == ([], {}, [], 250)


def test_reloading_an_edited_file_upserts_by_code_and_reports_the_changes(db: Session, tmp_path: Path) -> None:
    rows = [r for r in _rows() if r["code"] != "10002"]
    for row in rows:
        if row["code"] == "09006":
            row["deadline_hours"], row["local_code"] = "1.5", "JS-0906"
    rows.append({**rows[0], "code": "10003", "major_code": "10", "name_zh": "本地新增事项", "name_en": "Local matter"})
    summary = load_categories(db, _write(tmp_path / "edited.csv", rows))
    assert summary.added == ["10003"]
    assert summary.changed == {"09006": ["local_code", "deadline_hours"]}
    assert summary.deactivated == ["10002"]
    assert summary.unchanged == 248
    assert str(summary) == "1 added, 1 changed, 1 deactivated, 248 unchanged"
    assert db.get(Category, "09006").deadline_hours == 1.5  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="no longer in use"):
        usable_category(db, "10002")
    again = load_categories(db)  # the shipped file brings 10002 back
    assert again.changed["10002"] == ["active"] and "10003" in again.deactivated


def test_a_bad_file_is_refused_whole_naming_each_bad_line(db: Session, tmp_path: Path) -> None:
    rows = _rows()
    rows[0]["deadline_hours"] = "soon"
    rows[1]["code"] = "1002"
    rows[2]["after_photo_required"] = "maybe"
    rows[3]["code"] = rows[4]["code"]
    rows[5]["name_zh"] = "changed but never written"
    with pytest.raises(ValidationFailed) as caught:
        load_categories(db, _write(tmp_path / "bad.csv", rows))
    message = str(caught.value)
    for expected in ("line 2: deadline_hours", "line 3: code", "line 4: after_photo_required", "appears twice"):
        assert expected in message
    assert db.get(Category, rows[5]["code"]).name_zh != "changed but never written"  # type: ignore[union-attr]


def test_a_file_missing_a_column_is_refused(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("code,name_zh\n09006,占道经营\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="missing column"):
        load_categories(db, path)
