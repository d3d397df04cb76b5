"""explain reads what blocks can do through their declared capabilities, never by their class:
no module of the explain package imports a concrete block class from search_spaces.blocks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What explain may take from search_spaces.blocks: the capability API, and the registry
# accessor whose kinds carry their own capabilities.
CAPABILITY_API = {"Capabilities", "capabilities_of", "get_block", "UNKNOWN"}
ALLOWED_MODULES = {"search_spaces.blocks", "search_spaces.blocks.capabilities"}


def block_imports(source: str) -> list[str]:
    """Imports in ``source`` of anything from search_spaces.blocks but the capability API."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad += [
                a.name
                for a in node.names
                if a.name.startswith("search_spaces.blocks.") and a.name not in ALLOWED_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            if module == "search_spaces":
                bad += [f"search_spaces.{a.name}" for a in node.names if a.name == "blocks"]
            elif module == "search_spaces.blocks" or module.startswith("search_spaces.blocks."):
                bad += [
                    f"{module}.{a.name}"
                    for a in node.names
                    if module not in ALLOWED_MODULES or a.name not in CAPABILITY_API
                ]
    return bad


def test_the_scanner_catches_block_classes() -> None:
    bad = (
        "from search_spaces.blocks.attention import SeqPool\n"
        "from search_spaces.blocks import GlobalPool, capabilities_of\n"
        "import search_spaces.blocks.conv\n"
        "from search_spaces import blocks\n"
        "def f():\n    from search_spaces.blocks.adapters import Transpose\n"
    )
    assert block_imports(bad) == [
        "search_spaces.blocks.attention.SeqPool",
        "search_spaces.blocks.GlobalPool",
        "search_spaces.blocks.conv",
        "search_spaces.blocks",
        "search_spaces.blocks.adapters.Transpose",
    ]
    ok = (
        "from search_spaces.blocks import Capabilities, capabilities_of, get_block\n"
        "from search_spaces.blocks.capabilities import UNKNOWN\n"
        "from search_spaces.spec import ArchSpec\n"
    )
    assert block_imports(ok) == []


def test_explain_imports_no_concrete_block_class() -> None:
    files = sorted((ROOT / "explain").rglob("*.py"))
    assert len(files) >= 10, files  # the scan really looked at the package
    bad = {
        str(f.relative_to(ROOT)): hits
        for f in files
        if (hits := block_imports(f.read_text(encoding="utf-8")))
    }
    assert not bad, f"explain must read block capabilities, not import block classes: {bad}"
