"""What the benchmark scripts share to read their command lines (imported as ``_cli``: a
script's own folder is first on ``sys.path``)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """An integer of at least 1 (an argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parser(doc: str | None, result: str) -> argparse.ArgumentParser:
    """A script's parser: its docstring's first paragraph, and the results file it writes."""
    return argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        epilog=f"Writes benchmarks/results/{result} (see the module docstring).",
    )
