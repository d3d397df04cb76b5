"""Imports run one way: ``search_spaces`` imports nothing of the project; ``explain`` may import
``search_spaces`` but nothing of ``nas`` (DESIGN.md, "The contracts")."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LINE = re.compile(r"^\s*(?:from|import)\s+(nas|explain)\b", re.MULTILINE)
_DYNAMIC = re.compile(r"""(?:import_module|__import__)\(\s*["'](nas|explain)\b""")


def forbidden_imports(source: str, forbidden: set[str]) -> list[str]:
    """Every import of a forbidden top-level package in ``source``, by AST and by text."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in forbidden]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] in forbidden
        ):
            found.append(node.module)
    found += [m.group(0).strip() for m in _LINE.finditer(source) if m.group(1) in forbidden]
    found += [m.group(0) for m in _DYNAMIC.finditer(source) if m.group(1) in forbidden]
    return found


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_scanner_catches_violations() -> None:
    bad = "import os, nas.cost\nfrom explain.report import x\nimportlib.import_module('nas.api')\n"
    assert len(forbidden_imports(bad, {"nas", "explain"})) >= 3
    ok = "import nasty\nfrom search_spaces import spec\n# import nas in a comment is prose\n"
    assert forbidden_imports(ok, {"nas", "explain"}) == []


def test_search_spaces_sources_import_nothing_of_the_project() -> None:
    files = python_files("search_spaces")
    assert len(files) >= 10, files  # the scan really looked at the package
    bad = {
        str(f.relative_to(ROOT)): hits
        for f in files
        if (hits := forbidden_imports(f.read_text(encoding="utf-8"), {"nas", "explain"}))
    }
    assert not bad, f"search_spaces must not import nas or explain: {bad}"


def test_explain_sources_import_nothing_of_nas() -> None:
    if not (ROOT / "explain").is_dir():
        pytest.skip("explain/ does not exist yet")
    bad = {
        str(f.relative_to(ROOT)): hits
        for f in python_files("explain")
        if (hits := forbidden_imports(f.read_text(encoding="utf-8"), {"nas"}))
    }
    assert not bad, f"explain must not import nas: {bad}"


def test_importing_search_spaces_loads_no_project_module() -> None:
    code = (
        "import sys\n"
        "import search_spaces, search_spaces.build, search_spaces.spaces, search_spaces.blocks\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('nas', 'explain'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "[]"
