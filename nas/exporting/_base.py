"""An export format: a tiny strategy that writes an Exportable to a file and loads the file
back as a runner of the format's own runtime, plus the helpers the formats share."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas.errors import NasError
from nas.exporting._target import Exportable

INSTALL = "pip install 'nas[export]'"

# Runs the exported file on named inputs; returns its one output.
Runner = Callable[[Mapping[str, torch.Tensor]], np.ndarray]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Format(ABC):
    """One export format, registered in :data:`nas.exporting.FORMATS` by ``name``."""

    name: str  # as typed after --format
    title: str  # as written in messages
    suffix: str  # of the default file name, model<suffix>
    suffixes: tuple[str, ...]  # the endings an -o file name may have
    runtime: str  # what runs the exported file
    packages: tuple[str, ...] = ()  # optional packages it needs (the "export" extra)

    def require(self) -> None:
        """Raise NasError naming the missing packages and their install command, if any."""
        missing = []
        for package in self.packages:
            try:
                importlib.import_module(package)
            except ImportError:
                missing.append(package)
        if missing:
            raise NasError(f"{self.title} export needs {', '.join(missing)}, not installed; "
                           f"install the export extra: {INSTALL}")  # fmt: skip

    def runtime_version(self) -> str:
        return self.runtime

    @abstractmethod
    def write(self, target: Exportable, path: Path) -> dict[str, Any]:
        """Write ``target`` to ``path``; return what to record of how (opset, exporter)."""

    @abstractmethod
    def load(self, path: Path, threads: int) -> Runner:
        """The file at ``path`` as a runner on ``threads`` threads."""


def example_args(target: Exportable) -> tuple[torch.Tensor, ...]:
    """Two rows of each input: torch.export specializes a dimension whose example size is 0 or
    1, so a one-row example would fix the batch size instead of leaving it free."""
    return tuple(v[torch.arange(2) % len(v)] for v in target.inputs.values())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporters' logging, warnings and prints (graph dumps, deprecations, the
    torchvision notes): the user sees one result line, or one error line."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    sink = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def why(e: BaseException, limit: int = 200) -> str:
    """An exporter's failure on one line: the underlying exception's type and first line
    (torch.onnx wraps it in pages of advice)."""
    text = _ANSI.sub("", str(e))
    summary = text.partition("## Exception summary")[2].strip()
    root = e.__cause__ if e.__cause__ is not None and not summary else None
    if root is not None:
        text, name = _ANSI.sub("", str(root)), type(root).__name__
    else:
        name = type(e).__name__
    line = next((ln.strip() for ln in (summary or text).splitlines() if ln.strip()), name)
    if not line.startswith("<class"):
        line = f"{name}: {line}"
    line = re.sub(r"^<class '(?:[\w]+\.)*(\w+)'>", r"\1", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


__all__ = ["INSTALL", "Format", "Runner", "example_args", "quiet", "why"]
