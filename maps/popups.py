"""Popups and tooltips that show user text as text, never as HTML.

Descriptions, compound names and addresses are typed by people; a ``<img src=x onerror=…>`` in one of them
must reach the screen as those characters. Folium's ``GeoJsonTooltip``/``GeoJsonPopup`` build their
table as a string and assign it to ``innerHTML``, which would run it, so the map builders here use
``FieldTable`` instead: the same "fields and aliases" idea, but built from DOM nodes with
``textContent``. Where Python itself must put text into HTML, ``escape_html`` is the one place that does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

from branca.element import MacroElement
from jinja2 import Template


def escape_html(value: Any) -> str:
    """``value`` as text that HTML shows literally (``&<>"'`` escaped); ``None`` becomes an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


class FieldTable(MacroElement):
    """Bind a popup or tooltip to a ``folium.GeoJson`` showing ``fields`` of each feature as a table of
    text nodes. Values are shown with ``toLocaleString('zh-CN')`` for numbers and as given otherwise;
    missing values show as ``—``.

    ``kind`` is ``"tooltip"`` (hover, desktop) or ``"popup"`` (tap, phones).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bind{{ 'Tooltip' if this.kind == 'tooltip' else 'Popup' }}(
            function (layer) {
                var fields = {{ this.fields | tojson }};
                var aliases = {{ this.aliases | tojson }};
                var props = (layer.feature && layer.feature.properties) || {};
                var table = L.DomUtil.create("table", "wangge-fields");
                fields.forEach(function (name, i) {
                    var row = L.DomUtil.create("tr", "", table);
                    L.DomUtil.create("th", "", row).textContent = aliases[i];
                    var value = props[name];
                    var text = value === null || value === undefined || value === "" ? "—"
                        : typeof value === "number" ? value.toLocaleString("zh-CN")
                        : typeof value === "object" ? JSON.stringify(value) : String(value);
                    L.DomUtil.create("td", "", row).textContent = text;
                });
                return table;
            },
            {{ this.options | tojson }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        fields: Sequence[str],
        aliases: Sequence[str] | None = None,
        *,
        kind: Literal["tooltip", "popup"] = "tooltip",
        sticky: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # branca's elements are untyped
        self._name = "FieldTable"
        if aliases is not None and len(aliases) != len(fields):
            raise ValueError(f"FieldTable: {len(fields)} fields but {len(aliases)} aliases; give one alias per field")
        self.fields = list(fields)
        self.aliases = list(aliases) if aliases is not None else list(fields)
        self.kind = kind
        self.options: dict[str, Any] = {"sticky": sticky} if kind == "tooltip" else {"maxWidth": 280}
