"""The weekly report: one self-contained page with the week's figures against the week before, the tables,
the trend and the two map pictures, and nothing a careless report would leak."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from gis.errors import InvalidInput
from gis.evaluation.periods import named
from gis.evaluation.report import build, svg_map
from tests.gis.evaluation.conftest import EvaluationWorld, at

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def test_the_report_of_a_week_holds_its_figures_tables_and_maps(db: Session, evaluation_world: EvaluationWorld) -> None:
    html = build(db, period=named("2026-W15"), city="吉首市", now=at(20, 9))
    assert "吉首市网格化管理周报" in html and "2026-04-06 至 2026-04-13" in html
    # The week 6–12 April: C4 C5 C6 C7 C8 reported (5), against C1 C2 C3 C10 the week before (4).
    assert re.search(r"<td>上报数</td><td>5</td><td>4</td><td>\+1（\+25.0%）</td>", html)
    assert "乾州社区" in html and "万溶江社区" in html and "乾州街道执法中队" in html and "占道经营" in html
    assert html.count("<svg") == 3 and html.count("<path") == 12  # six cells in each of the two maps
    assert "测试grid1" not in html and "000-0000-0001" not in html  # no worker names or phones
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-2026-W15.html").write_text(html, encoding="utf-8")  # for a person to look at


def test_a_report_longer_than_a_quarter_is_refused(db: Session, evaluation_world: EvaluationWorld) -> None:
    with pytest.raises(InvalidInput, match=r"^period:"):
        build(db, period=named("2026"), city="吉首市", now=at(20, 9))


def test_a_map_without_cells_is_empty() -> None:
    assert svg_map([], {}) == ""


def test_the_cli_writes_the_report(cli, evaluation_world: EvaluationWorld, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = cli("report", "--period", "2026-W15", "--out", out)
    assert result.exit_code == 0, result.output
    assert "周报" in out.read_text(encoding="utf-8")
    bad = cli("report", "--period", "2026-W99", "--out", out)
    assert bad.exit_code == 1 and "period:" in bad.output


def test_the_cli_prints_the_report_to_pdf(cli, evaluation_world: EvaluationWorld, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    result = cli("report", "--period", "2026-W15", "--out", out)
    assert result.exit_code == 0, result.output
    pdf = PdfReader(out)
    # CJK fonts map some characters to Kangxi radicals (⾸ for 首) in the text layer: NFKC folds them back.
    text = unicodedata.normalize("NFKC", "".join(page.extract_text() for page in pdf.pages))
    assert len(pdf.pages) >= 1 and "吉首市网格化管理周报" in text and "占道经营" in text
    shutil.copy(out, ARTIFACTS / "report-2026-W15.pdf")  # for a person to look at


def test_a_pdf_without_a_browser_is_a_clear_cli_error(cli, evaluation_world: EvaluationWorld, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = cli("report", "--period", "2026-W15", "--out", tmp_path / "report.pdf")
    assert result.exit_code == 1 and "Chromium" in result.output and not (tmp_path / "report.pdf").exists()
