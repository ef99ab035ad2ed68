"""An evaluation as a table: the columns in order with their Chinese headers, as CSV or as an XLSX workbook.

The API, the CLI and the weekly report print the same columns from here. CSV is UTF-8 with a BOM so that
Excel on a Chinese Windows opens it right; the XLSX (openpyxl) has one sheet of rows with the total last,
rates as percentages, and a second sheet saying what the period and the formulas are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from gis.evaluation.indicators import Evaluation


@dataclass(frozen=True)
class Column:
    name: str
    title_zh: str
    kind: str = "count"  # count | rate | hours | text | score


COLUMNS: tuple[Column, ...] = (
    Column("code", "代码", "text"),
    Column("name", "名称", "text"),
    Column("reported", "上报数"),
    Column("valid", "有效上报数"),
    Column("valid_rate", "有效上报率", "rate"),
    Column("registered", "立案数"),
    Column("registration_rate", "立案率", "rate"),
    Column("dispatched", "派遣数"),
    Column("due", "应结案数"),
    Column("closed", "结案数"),
    Column("closure_rate", "结案率", "rate"),
    Column("closed_on_time", "按期结案数"),
    Column("on_time_rate", "按期结案率", "rate"),
    Column("overdue", "超期数"),
    Column("handled", "处置数"),
    Column("rework", "返工数"),
    Column("rework_rate", "返工率", "rate"),
    Column("extended", "延期数"),
    Column("extension_rate", "延期率", "rate"),
    Column("shelved", "挂账数"),
    Column("checks_due", "应核查数"),
    Column("checks_on_time", "按时核查数"),
    Column("check_rate", "核查及时率", "rate"),
    Column("handling_hours_mean", "平均处置用时(工作小时)", "hours"),
    Column("handling_hours_p90", "处置用时P90(工作小时)", "hours"),
    Column("score", "综合指标值", "score"),
)
CATEGORY_COLUMNS = (Column("major_code", "大类代码", "text"), Column("major_name", "大类", "text"))


def columns_for(evaluation: Evaluation) -> tuple[Column, ...]:
    if evaluation.rows and "major_code" in evaluation.rows[0].extra:
        return COLUMNS[:2] + CATEGORY_COLUMNS + COLUMNS[2:]
    return COLUMNS


def records(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The rows then the total, as dicts of the table's columns."""
    names = [c.name for c in columns_for(evaluation)]
    rows = [row.as_dict() for row in evaluation.rows] + [evaluation.total.as_dict()]
    return [{name: row.get(name) for name in names} for row in rows]


def to_csv(evaluation: Evaluation) -> str:
    """CSV whose header is the field names (what programs read; the XLSX carries the Chinese titles)."""
    columns = columns_for(evaluation)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in columns])
    for record in records(evaluation):
        writer.writerow(["" if record[c.name] is None else record[c.name] for c in columns])
    return "\ufeff" + buffer.getvalue()


def to_xlsx(evaluation: Evaluation) -> bytes:
    columns = columns_for(evaluation)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "考核评价"
    sheet.append([c.title_zh for c in columns])
    sheet.append([c.name for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for record in records(evaluation):
        sheet.append([record[c.name] for c in columns])
    for index, column in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = max(10, 2 * len(column.title_zh) + 2)
        fmt = {"rate": "0.00%", "hours": "0.00", "score": "0.00"}.get(column.kind)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
                cell.number_format = fmt
    sheet.freeze_panes = "C3"
    about = book.create_sheet("说明")
    about.append(["统计周期", f"{evaluation.period.start} 至 {evaluation.period.end}（不含）"])
    about.append(["分组", evaluation.by.label_zh])
    about.append(["统计截至", evaluation.as_of.isoformat()])
    about.append(["口径", "上报于周期内的案件；状态以统计截至时刻为准；比率分母为 0 时为空。"])
    about.append(["公式", "见 README「Evaluation (考核评价)」"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
