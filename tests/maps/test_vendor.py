"""maps.vendor: every declared browser file is vendored, and none makes the browser ask another host.

"Asks another host at load" is checked by what makes a browser fetch, not by every ``http`` in the text: the
bundles are full of URLs that are never fetched (SVG/XML namespaces, licence and documentation links in
comments and error messages, ``<a href>`` attribution links), and forbidding those would mean editing files
that must stay as the registry shipped them. What is checked:

- CSS: every ``url(…)`` is a ``data:`` URI or a relative path to a file that is vendored beside it, and there
  is no ``@import`` at all (a style sheet that imports would need one more file to be declared).
- JS: no absolute or protocol-relative URL literal given to what loads a resource — an element's ``src``/
  ``srcset``/``poster`` (as attribute or property), ``import()``, ``importScripts``, ``fetch``, a
  ``Worker``, ``EventSource``, ``WebSocket`` or ``sendBeacon`` — and none inside ``url(``/``@import`` of
  CSS that a script injects. The one known exception is listed in ``KNOWN_EXTERNAL`` with why it is safe.

``sourceMappingURL`` comments name relative files (not kept): browsers fetch them only with developer tools
open, and a missing map is harmless.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from maps.assets import Asset
from maps.vendor import ALL, REDOC_JS, VECTORGRID

STATIC_DIR = Path(__file__).resolve().parents[2] / "api" / "static"

_ABSOLUTE = r"""["'`]\s*(?:https?:)?//[^"'`\s]+"""
_JS_LOAD = re.compile(
    r"""(?:\b(?:src|srcset|poster)\s*[:=]\s*"""
    r"""|\b(?:import|importScripts|fetch|Worker|SharedWorker|EventSource|WebSocket|sendBeacon)\s*\(\s*)"""
    + _ABSOLUTE,
    re.IGNORECASE,
)
# Lower case only: CSS in scripts is written so, and ``new URL("https://"+host)`` (parsing, not loading) is not.
_CSS_IN_JS_LOAD = re.compile(r"""(?<![\w.])(?:url\(\s*["']?|@import\s+["']?)\s*(?:https?:)?//""")
_CSS_URL = re.compile(r"""url\(\s*(?P<q>["']?)(?P<target>.*?)(?P=q)\s*\)""", re.IGNORECASE | re.DOTALL)

# (asset, URL): why the browser still does not ask for it.
KNOWN_EXTERNAL = {
    (REDOC_JS, "https://cdn.redoc.ly/redoc/logo-mini.svg"): (
        "an <img> in Redoc's menu footer; api.routes.docs sends img-src 'self' data: blob: in its "
        "Content-Security-Policy, so the browser never asks, and Redoc's onError hides the image"
    ),
}


def _file(asset: Asset) -> Path:
    return STATIC_DIR / asset.path


def _text(asset: Asset) -> str:
    return _file(asset).read_text(encoding="utf-8")


def _ids(assets: tuple[Asset, ...]) -> list[str]:
    return [a.path for a in assets]


SCRIPTS = tuple(a for a in ALL if a.path.endswith(".js"))
STYLES = tuple(a for a in ALL if a.path.endswith(".css"))


def test_every_asset_is_a_script_a_style_sheet_or_an_image() -> None:
    assert set(ALL) == set(SCRIPTS) | set(STYLES) | {a for a in ALL if a.path.endswith(".png")}
    assert len({a.path for a in ALL}) == len(ALL)
    assert len({a.name for a in ALL}) == len(ALL)


@pytest.mark.parametrize("asset", ALL, ids=_ids(ALL))
def test_each_declared_asset_is_vendored_and_not_empty(asset: Asset) -> None:
    path = _file(asset)
    assert path.is_file(), f"{asset.path} is declared in maps.vendor but not vendored"
    assert path.stat().st_size > 0


# Each package's licence file, under the name its tarball gives it (the files are kept unrenamed).
LICENCE_FILES = ("LICENSE", "LICENSE.md", "LICENCE", "MIT-LICENCE.txt")


def has_licence(folder: Path) -> bool:
    """Whether a vendored package's folder keeps its licence (also used by tests/api/test_pages.py)."""
    if folder.name == VECTORGRID.folder.removeprefix("vendor/"):
        # leaflet.vectorgrid ships no licence file: its package.json, which states it, is kept instead.
        return bool(json.loads((folder / "package.json").read_text(encoding="utf-8"))["license"] == "Beerware")
    return any((folder / name).is_file() for name in LICENCE_FILES)


@pytest.mark.parametrize("asset", ALL, ids=_ids(ALL))
def test_each_vendored_folder_keeps_its_licence(asset: Asset) -> None:
    assert has_licence(_file(asset).parent)


def test_every_vendored_folder_holds_a_declared_asset() -> None:
    folders = {p for p in (STATIC_DIR / "vendor").iterdir() if p.is_dir()}
    assert folders == {_file(a).parent for a in ALL}


@pytest.mark.parametrize("asset", SCRIPTS, ids=_ids(SCRIPTS))
def test_no_script_loads_from_another_host(asset: Asset) -> None:
    text = _text(asset)
    found = {m.group(0) for m in _JS_LOAD.finditer(text)} | {m.group(0) for m in _CSS_IN_JS_LOAD.finditer(text)}
    known = [url for (a, url) in KNOWN_EXTERNAL if a == asset]
    unexplained = sorted(f for f in found if not any(url in f for url in known))
    assert unexplained == []


@pytest.mark.parametrize(("asset", "url"), list(KNOWN_EXTERNAL), ids=[a.path for a, _ in KNOWN_EXTERNAL])
def test_each_known_exception_is_still_there(asset: Asset, url: str) -> None:
    # When an upgrade drops it, drop it from KNOWN_EXTERNAL (and the docs' policy may be able to tighten).
    assert url in _text(asset)


@pytest.mark.parametrize("asset", STYLES, ids=_ids(STYLES))
def test_style_sheets_load_only_data_uris_and_vendored_files(asset: Asset) -> None:
    text = _text(asset)
    assert "@import" not in text
    for m in _CSS_URL.finditer(text):
        target = m.group("target").strip()
        if target.lower().startswith("data:") or target.startswith("#"):
            continue  # a data URI, or a fragment of the document itself (leaflet.css's IE-only VML behaviour)
        assert not re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", target, re.IGNORECASE), f"{asset.path} loads {target}"
        assert (_file(asset).parent / target.split("#")[0].split("?")[0]).is_file(), f"{target} is not vendored"


def test_the_checks_catch_what_they_are_meant_to() -> None:
    # Guards against a pattern that silently matches nothing.
    assert _JS_LOAD.search('e.src="https://cdn.example.org/x.js"')
    assert _JS_LOAD.search("fetch('//tiles.example.org/1/2/3.pbf')")
    assert _JS_LOAD.search('createElement("img",{src:"https://cdn.example.org/logo.svg"})')
    assert not _JS_LOAD.search('createElementNS("http://www.w3.org/2000/svg","svg")')
    assert not _JS_LOAD.search('a.href="https://leafletjs.com"')
    assert _CSS_IN_JS_LOAD.search('"@import url(https://fonts.example.org/css)"')
    assert _CSS_IN_JS_LOAD.search('css`background: url("https://cdn.example.org/a.png")`')
    assert not _CSS_IN_JS_LOAD.search('r.parsed=new URL("https://"+n+e)')
    assert _CSS_URL.search("background:url(images/layers.png)").group("target") == "images/layers.png"  # type: ignore[union-attr]
