"""GET /dashboard: a zh-CN page that links only vendored files Wangge serves, and carries no figures."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi.testclient import TestClient

from api.routes.dashboard import render_dashboard
from gis.incidents.work_calendar import SHANGHAI


def test_the_dashboard_is_chinese_and_links_only_served_files(client: TestClient) -> None:
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="zh-CN">' in html and "考核评价" in html
    links = re.findall(r'(?:src|href)="([^"#]+)"', html)
    assert links and not [link for link in links if "//" in link]
    for link in links:
        assert client.get(link).status_code == 200, link
    assert "echarts-6.1.0/echarts.min.js" in html


def test_the_default_period_is_last_week() -> None:
    html = render_dashboard("吉首网格", "吉首市", datetime(2026, 12, 3, 10, tzinfo=SHANGHAI))  # a Thursday
    assert 'name="from" value="2026-11-23"' in html and 'name="to" value="2026-11-30"' in html


def test_user_text_in_settings_is_escaped() -> None:
    html = render_dashboard("<script>x</script>", "吉首市", datetime(2026, 12, 3, tzinfo=SHANGHAI))
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
