"""GET /api/v1/evaluation and `wangge evaluation`: the same figures as JSON, CSV, XLSX and a terminal table,
within the caller's rights, and a 4xx naming the field for bad input."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from gis.models import Role, User
from tests.factories import add_user
from tests.gis.conftest import COMMUNITY_A, COMMUNITY_B
from tests.gis.evaluation.conftest import EvaluationWorld, build_evaluation_world

Headers = dict[str, str]
WINDOW = {"from": "2026-03-30", "to": "2026-04-13"}
URL = "/api/v1/evaluation"


@pytest.fixture
def world(db: Session, tmp_path: Path) -> EvaluationWorld:
    return build_evaluation_world(db, tmp_path / "photos")


def _get(client: TestClient, headers: Headers, **params: str) -> dict:
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_json_rows_are_the_communities_with_the_documented_fields(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld
) -> None:
    body = _get(client, auth_headers(world.street.supervisor), by="community", **WINDOW)
    assert (body["by"], body["from"], body["to"], body["truncated"]) == ("community", "2026-03-30", "2026-04-13", False)
    a, b = body["rows"]
    assert (a["code"], a["name"], b["code"]) == (COMMUNITY_A, "乾州社区", COMMUNITY_B)
    assert (a["reported"], a["registered"], a["closed"], a["closed_on_time"]) == (8, 6, 3, 2)
    assert (a["closure_rate"], a["on_time_rate"], a["rework_rate"], a["extension_rate"]) == (0.75, 0.5, 0.3333, 0.2)
    assert body["total"]["reported"] == 9 and body["total"]["code"] is None


def test_csv_and_xlsx_hold_the_same_rows_as_json(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld
) -> None:
    headers = auth_headers(world.street.supervisor)
    body = _get(client, headers, by="team", **WINDOW)
    expected = [*body["rows"], body["total"]]

    response = client.get(URL, params={"by": "team", "format": "csv", **WINDOW}, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == [r["code"] or "" for r in expected]
    assert [int(r["closed"]) for r in rows] == [r["closed"] for r in expected]
    assert [r["on_time_rate"] for r in rows] == ["" if r["on_time_rate"] is None else str(r["on_time_rate"])
                                                 for r in expected]

    response = client.get(URL, params={"by": "team", "format": "xlsx", **WINDOW}, headers=headers)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content))["考核评价"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("代码", "名称", "上报数")
    names = list(values[1])
    read = [dict(zip(names, row, strict=True)) for row in values[2:]]
    assert read == [{name: row[name] for name in names} for row in expected]


def test_a_named_period_is_the_same_as_its_dates(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld
) -> None:
    headers = auth_headers(world.street.supervisor)
    by_name = _get(client, headers, by="category", period="2026-W14")  # Monday 30 March – Sunday 5 April
    by_dates = _get(client, headers, by="category", **{"from": "2026-03-30", "to": "2026-04-06"})
    assert by_name["rows"] == by_dates["rows"] and by_name["total"]["reported"] == 4  # C1 C2 C3 C10
    assert by_name["rows"][0]["major_name"] == "街面秩序类"


@pytest.mark.parametrize(("params", "field"), [
    ({"by": "street", **WINDOW}, "by:"),
    ({"by": "community", "to": "2026-04-13"}, "from:"),
    ({"by": "community", "from": "2026-13-01", "to": "2026-04-13"}, "from:"),
    ({"by": "community", "from": "2026-04-13", "to": "2026-03-30"}, "to:"),
    ({"by": "community", "period": "2026-W99"}, "period:"),
    ({"by": "community", "period": "2026-W14", **WINDOW}, "period:"),
])
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld, params: dict, field: str
) -> None:
    response = client.get(URL, params=params, headers=auth_headers(world.street.supervisor))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "InvalidInput" and response.json()["detail"].startswith(field)


def test_unknown_parameters_and_formats_are_refused(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld
) -> None:
    headers = auth_headers(world.street.supervisor)
    assert client.get(URL, params={"by": "team", "form": "csv", **WINDOW}, headers=headers).status_code == 422
    response = client.get(URL, params={"by": "team", "format": "pdf", **WINDOW}, headers=headers)
    assert response.status_code == 422 and "format" in response.text


def test_rights_come_first_and_scope_the_rows(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld, db: Session
) -> None:
    assert client.get(URL, params={"by": "street"}).status_code == 401
    unit_manager = add_user(db, Role.unit_manager)
    response = client.get(URL, params={"by": "street"}, headers=auth_headers(unit_manager))
    assert response.status_code == 403  # before the bad grouping is looked at
    officer = _get(client, auth_headers(world.street.officer_b), by="community", **WINDOW)
    assert [r["code"] for r in officer["rows"]] == [COMMUNITY_B] and officer["total"]["reported"] == 1
    planner = _get(client, auth_headers(world.street.planner), by="worker", **WINDOW)
    assert [(r["code"], r["name"]) for r in planner["rows"]] == [(None, "网格员 1")]
    assert "测试grid1" not in str(planner)


def test_the_cli_prints_a_table_and_writes_the_same_workbook(
    cli, world: EvaluationWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "260")  # a desk terminal: the table's sixteen columns uncut
    result = cli("evaluation", "--by", "community", "--from", "2026-03-30", "--to", "2026-04-13")
    assert result.exit_code == 0, result.output
    assert "乾州社区" in result.output and "75.0%" in result.output and "合计" in result.output
    out = tmp_path / "e.xlsx"
    result = cli("evaluation", "--by", "community", "--period", "2026-W15", "--format", "xlsx", "--out", out)
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out)["考核评价"].iter_rows(min_row=3, values_only=True))
    assert [row[0] for row in rows] == [COMMUNITY_A, COMMUNITY_B, None]
    result = cli("evaluation", "--by", "worker", "--format", "csv", "--from", "2026-03-30", "--to", "2026-04-13",
                 "--as", world.street.planner.username)
    assert result.exit_code == 0 and "测试grid1" not in result.output and "网格员 1" in result.output


def test_the_cli_names_the_bad_option(cli, world: EvaluationWorld) -> None:
    result = cli("evaluation", "--by", "street", "--period", "2026")
    assert result.exit_code == 1 and "by:" in result.output
    assert cli("evaluation", "--from", "2026-01-01", "--to", "2026-02-01").exit_code == 2
    result = cli("evaluation", "--by", "team", "--period", "2026", "--format", "xlsx")
    assert result.exit_code == 2 and "--out" in result.output


@pytest.mark.slow
def test_the_years_clean_up_table_comes_out_of_one_command(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date, timedelta

    from tests.api.test_cli_sample import PRESS_FLOOR

    assert cli("sample", "load").exit_code == 0
    today = date.today()
    result = cli("evaluation", "--by", "category", "--from", str(today - timedelta(days=366)),
                 "--to", str(today + timedelta(days=1)), "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(result.output))}
    for code, floor in PRESS_FLOOR.items():
        assert int(rows[code]["reported"]) >= floor, code
    assert rows["09005"]["name"] == "店外经营" and rows["06001"]["major_name"] == "市容环境类"
    total = rows[""]
    assert int(total["closed"]) > 0 and int(total["rework"]) > 0 and int(total["extended"]) > 0
    assert 0 < float(total["closure_rate"]) <= 1


def test_the_cli_refreshes_the_hotspot_layer(cli, world: EvaluationWorld, db: Session) -> None:
    result = cli("evaluation", "hotspots", "--weeks", "60")
    assert result.exit_code == 0, result.output
    assert "不显著" in result.output and "6 个网格" in result.output
    from gis.models import IncidentHotspot

    assert db.query(IncidentHotspot).count() == 6


def test_the_trend_endpoint_gives_weekly_series_and_changes(
    client: TestClient, auth_headers: Callable[[User], Headers], world: EvaluationWorld
) -> None:
    body = client.get(f"{URL}/trend", params={"by": "community", **WINDOW},
                      headers=auth_headers(world.street.supervisor)).json()
    assert body["weeks"] == ["2026-03-30", "2026-04-06"] and body["previous"] == {"from": "2026-03-16",
                                                                                    "to": "2026-03-30"}
    a = body["series"][0]
    assert (a["code"], a["weekly"], a["current"], a["previous"], a["change"]) == (COMMUNITY_A, [3, 3], 6, 1, 5.0)
    bad = client.get(f"{URL}/trend", params={"by": "community", "period": "2026-W60"},
                     headers=auth_headers(world.street.supervisor))
    assert bad.status_code == 422 and bad.json()["detail"].startswith("period:")
    officer = client.get(f"{URL}/trend", params={"by": "community", **WINDOW},
                         headers=auth_headers(world.street.officer_b)).json()
    assert [s["code"] for s in officer["series"]] == [COMMUNITY_B]


def test_the_cli_rebuilds_the_facts_the_write_paths_keep(cli, world: EvaluationWorld, db: Session) -> None:
    from sqlalchemy import text

    kept = db.execute(text("SELECT incident_id, version, status, last_event_at FROM incident_fact ORDER BY 1")).all()
    db.execute(text("UPDATE incident_fact SET status = 'void'"))
    db.commit()
    result = cli("evaluation", "rebuild-facts")
    assert result.exit_code == 0, result.output
    assert f"{len(kept)} cases' facts rebuilt" in result.output
    db.expire_all()
    assert db.execute(text("SELECT incident_id, version, status, last_event_at FROM incident_fact ORDER BY 1")).all() \
        == kept
