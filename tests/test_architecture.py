"""The shape of the house, checked: imports run api → maps → gis, gis never imports FastAPI or Folium, no
import loops between modules, no module over the size that asks to be split, a small ``gis/`` top level."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gis.settings import PROJECT_ROOT

PACKAGES = ("gis", "maps", "api")
# A layer may import from its own and the layers after it: api → maps → gis.
ALLOWED = {"gis": {"gis"}, "maps": {"maps", "gis"}, "api": {"api", "maps", "gis"}}
FRAMEWORKS = {"gis": {"fastapi", "starlette", "folium", "branca", "uvicorn", "typer"}, "maps": {"fastapi", "starlette"}}
MAX_LINES = 420  # "a module over ~400 lines is asking to be split" (STYLE.md); migrations excepted


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path, name: str) -> set[str]:
    """Modules imported at module level or in functions; not under ``if TYPE_CHECKING:``, which never runs
    (models name each other there for their relationships' annotations)."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_imports_run_api_to_maps_to_gis_and_gis_uses_no_web_framework() -> None:
    wrong = []
    for name, path in MODULES.items():
        top = name.split(".")[0]
        for imported in _imports(path, name):
            head = imported.split(".")[0]
            if head in PACKAGES and head not in ALLOWED[top]:
                wrong.append(f"{name} imports {imported}")
            if head in FRAMEWORKS.get(top, set()):
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_no_import_loop_between_modules() -> None:
    graph = {name: {i for i in _imports(path, name) if i in MODULES and i != name} for name, path in MODULES.items()}
    # A package's __init__ re-exporting its modules is not a loop of meaning: drop edges module → own package.
    for name, edges in graph.items():
        edges -= {p for p in edges if name.startswith(p + ".")}
    state: dict[str, int] = {}
    loops: list[str] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                loops.append(" → ".join([*trail[trail.index(nxt):], nxt]) if nxt in trail else f"{node} → {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not loops, "\n".join(loops)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_the_size_that_asks_to_be_split(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(PROJECT_ROOT)} has {lines} lines: split it by meaning"


def test_gis_top_level_holds_few_modules_besides_its_packages() -> None:
    modules = sorted(p.name for p in (PROJECT_ROOT / "gis").glob("*.py") if p.name != "__init__.py")
    assert len(modules) <= 12, modules
    for package in (p for p in (PROJECT_ROOT / "gis").iterdir() if (p / "__init__.py").exists()):
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc, f"gis/{package.name}/__init__.py says nothing of what the package owns"
