"""maps.popups: user text in popups and tooltips stays text."""

from __future__ import annotations

import folium
import pytest

from maps.assets import local_map, render
from maps.popups import FieldTable, escape_html

XSS = "<img src=x onerror=alert(1)>"


def test_escape_html_escapes_markup_and_quotes() -> None:
    assert escape_html(XSS) == "&lt;img src=x onerror=alert(1)&gt;"
    assert escape_html('a "b" & \'c\'') == "a &quot;b&quot; &amp; &#x27;c&#x27;"


def test_escape_html_turns_none_into_nothing_and_numbers_into_text() -> None:
    assert escape_html(None) == ""
    assert escape_html(42) == "42"


def _page_with(table: FieldTable, name: str = XSS) -> str:
    m = local_map(location=(28.25, 109.70), zoom_start=14)
    feature = {"type": "Feature", "properties": {"name": name, "households": 120},
               "geometry": {"type": "Point", "coordinates": [109.70, 28.25]}}
    shape = folium.GeoJson({"type": "FeatureCollection", "features": [feature]})
    table.add_to(shape)
    shape.add_to(m)
    return render(m)


def test_a_field_table_builds_text_nodes_never_inner_html() -> None:
    html = _page_with(FieldTable(["name", "households"], ["小区名称", "户数"], kind="popup"))
    assert ".bindPopup(" in html
    assert "textContent" in html
    assert "innerHTML" not in html
    assert "<img" not in html  # the feature's name reached the page as JSON with \u003c, not as markup


def test_aliases_cannot_close_the_script_they_are_written_into() -> None:
    html = _page_with(FieldTable(["name"], ["</script><script>alert(1)</script>"]))
    assert "</script><script>alert(1)" not in html
    assert ".bindTooltip(" in html


def test_a_field_table_needs_one_alias_per_field() -> None:
    with pytest.raises(ValueError, match="2 fields but 1 aliases"):
        FieldTable(["name", "households"], ["小区名称"])
