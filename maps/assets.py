"""Page assets served by Wangge itself: Folium's CDN links replaced by the vendored copies.

The servers Wangge runs on reach no host beyond the package registries, and the phones of grid workers
may be on a government intranet, so a map page must load every script and style sheet from Wangge
(``/static/vendor/…``, see ``api/static/vendor/README.md``) and must not ask for web tiles. Folium's
``Map`` links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default; the pages here need
Leaflet only, so ``use_local_assets`` replaces the whole list on the map *instance* (the class lists are
shared module state: changing them would change every map in the process).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
from branca.element import Element, Figure
from jinja2 import Template

LEAFLET_VERSION = "1.9.4"
VENDOR_DIR = f"vendor/leaflet-{LEAFLET_VERSION}"
DEFAULT_STATIC_URL = "/static"

# The background a map shows where there are no tiles: light, so boundaries and cells stand out.
BACKGROUND = "#eef1ec"
# Chinese UI text: name CJK fonts first so that Han characters get Simplified Chinese glyph shapes.
FONT_STACK = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC", sans-serif'

_URL = re.compile(r"""https?://[^\s"'<>)]+""", re.IGNORECASE)


@dataclass(frozen=True)
class Asset:
    """One vendored file: Folium's link name and the path under the static URL."""

    name: str
    path: str

    def url(self, static_url: str = DEFAULT_STATIC_URL) -> str:
        return f"{static_url.rstrip('/')}/{self.path}"


LEAFLET_JS = Asset("leaflet", f"{VENDOR_DIR}/leaflet.js")
LEAFLET_CSS = Asset("leaflet_css", f"{VENDOR_DIR}/leaflet.css")


class Page(Figure):
    """A branca Figure that declares its language (so phones pick Chinese fonts and do not offer to
    translate the page) and carries a title."""

    _template = Template(
        "<!DOCTYPE html>\n"
        '<html lang="{{ this.lang }}">\n'
        "<head>\n"
        "{% if this.title %}<title>{{ this.title | e }}</title>{% endif %}"
        "    {{ this.header.render(**kwargs) }}\n"
        "</head>\n"
        "<body>\n"
        "    {{ this.html.render(**kwargs) }}\n"
        "</body>\n"
        "<script>\n"
        "    {{ this.script.render(**kwargs) }}\n"
        "</script>\n"
        "</html>\n"
    )

    def __init__(self, *, title: str | None = None, lang: str = "zh-CN") -> None:
        super().__init__(title=title)
        self.lang = lang


def local_map(
    *,
    location: Sequence[float],
    zoom_start: int,
    title: str | None = None,
    static_url: str = DEFAULT_STATIC_URL,
    min_zoom: int = 9,
    max_zoom: int = 20,
    control_scale: bool = True,
    **kwargs: Any,
) -> folium.Map:
    """A Folium map on its own page, with no web tiles, that loads Leaflet from Wangge's static files.

    ``location`` is ``(lat, lon)`` in WGS84, as Folium wants it. Extra keyword arguments go to
    ``folium.Map``; ``tiles`` is always ``None`` (there is no tile server to ask), so the map shows a
    plain background under whatever layers are added.
    """
    m = folium.Map(
        location=list(location),
        zoom_start=zoom_start,
        tiles=None,
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        control_scale=control_scale,
        **kwargs,
    )
    page = Page(title=title)
    m.add_to(page)
    use_local_assets(m, static_url=static_url)
    # More specific than leaflet.css's `.leaflet-container`, which the page links after this rule.
    style = (
        f"<style>div.folium-map.leaflet-container {{ background: {BACKGROUND}; font-family: {FONT_STACK}; }}"
        f"</style>"
    )
    page.header.add_child(Element(style), name="wangge_background")
    return m


def use_local_assets(m: folium.Map, *, static_url: str = DEFAULT_STATIC_URL) -> folium.Map:
    """Make ``m`` link the vendored Leaflet instead of Folium's CDN list (jQuery, Bootstrap and Font Awesome
    are dropped: nothing Wangge draws uses them). Returns ``m`` for chaining."""
    m.default_js = [(LEAFLET_JS.name, LEAFLET_JS.url(static_url))]
    m.default_css = [(LEAFLET_CSS.name, LEAFLET_CSS.url(static_url))]
    return m


def render(m: folium.Map) -> str:
    """The whole HTML page of ``m``."""
    return m.get_root().render()


def external_urls(html: str) -> list[str]:
    """Every absolute http(s) URL in a rendered page.

    Stricter than "URLs the browser would fetch": a page of Wangge has no reason to name another host at
    all, and a URL in inline script (a tile template, a ``fetch``) breaks offline as surely as a
    ``<script src>``. An empty list means the page needs nothing but Wangge.
    """
    return _URL.findall(html)
