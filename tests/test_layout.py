"""The code keeps its shape: packages import one way (sample_library <- project_ingest <-
template_engine), no module over 400 lines, no function over 60."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sample_library", "project_ingest", "template_engine")
MAY_IMPORT = {"sample_library": set(), "project_ingest": {"sample_library"},
              "template_engine": {"sample_library", "project_ingest"}}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _imported_packages(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
    return names & set(PACKAGES)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_packages_below_it(path):
    own = path.relative_to(ROOT).parts[0]
    assert _imported_packages(ast.parse(path.read_text())) - {own} <= MAY_IMPORT[own]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_functions_are_short(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long


def test_the_layout_check_sees_an_upward_import(tmp_path):
    tree = ast.parse("from template_engine.render.mix import mix_song\n")
    assert _imported_packages(tree) - {"sample_library"} > MAY_IMPORT["sample_library"]
