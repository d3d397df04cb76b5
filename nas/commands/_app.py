"""The Typer app every command registers on, its consoles, and the one-line error wrapper."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

import typer
from rich.console import Console

from nas.errors import NasError
from nas.study import PRUNERS, SAMPLERS

app = typer.Typer(
    name="nas",
    help="Neural architecture search under accuracy and compute budgets, explained.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])
SamplerName = Enum("SamplerName", {s: s for s in SAMPLERS}, type=str)  # type: ignore[misc]
PrunerName = Enum("PrunerName", {p: p for p in PRUNERS}, type=str)  # type: ignore[misc]


def friendly(fn: F) -> F:
    """Turn NasError into one stderr line + exit 2, and Ctrl-C into a clean exit 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NasError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print(
                "interrupted: completed trials are kept in the study; run the same "
                "command again to continue.",
                soft_wrap=True,  # one line, however narrow the terminal (or a pipe: 80)
            )
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
