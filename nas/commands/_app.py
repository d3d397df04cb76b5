"""The Typer app every command registers on, its consoles, and the one-line errors: a
NasError raised by a command (:func:`friendly`) and a wrong option or argument that Typer
rejects before the command runs (:class:`OneLineErrors`) both become ``error: ...`` on stderr,
exit code 2. User text in them is printed as it is, never read as Rich markup."""

from __future__ import annotations

import errno
import functools
import re
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperGroup, TyperOption

try:  # Typer vendors Click since 0.2x
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover (an older Typer, on the click package)
    from click import exceptions as click_errors  # type: ignore[no-redef]

from nas.errors import Interrupted, NasError
from nas.study import PRUNERS, SAMPLERS
from nas.terminal import plain
from search_spaces import extensions


def safe(text: Any) -> str:
    """User text for a Rich markup string or a table cell: control characters escaped
    (:func:`plain`), then Rich's markup (``[red]``)."""
    return escape(plain(str(text)))


class _Console(Console):
    """A Console whose ``print`` shows the control characters of plain strings as escapes
    (our own text holds none; Rich adds its styles' codes after this)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*(plain(o) if isinstance(o, str) else o for o in objects), **kwargs)


out = _Console()
err = _Console(stderr=True)
# `nas` alone shows the help (an error only since Click 8.2)
_NO_ARGS = getattr(click_errors, "NoArgsIsHelpError", ())


def print_error(message: str) -> None:
    """``error: message`` on stderr as one line (``message`` is plain text, not markup)."""
    one_line = plain(re.sub(r"\s*[\r\n]+\s*", " ", message.strip()))
    err.print(Text.assemble(("error:", "bold red"), " ", one_line), highlight=False,
              soft_wrap=True)  # fmt: skip


class OneLineErrors(TyperGroup):
    """The ``nas`` group: a usage error (a value out of range, an unknown option or choice, a
    missing argument) is one ``error:`` line naming the option, what it allows and where the
    help is, like every other error, instead of Typer's usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as e:  # `nas` alone: the help (Typer has printed it)
            if e.format_message().strip():
                e.show()
            sys.exit(e.exit_code)
        except click_errors.ClickException as e:
            ctx = getattr(e, "ctx", None)
            help_hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            message = e.format_message().replace("Value error, ", "").rstrip(".")
            given = _given(e, message, sys.argv[1:] if args is None else list(args))
            print_error(f"{message}{given}{help_hint}{_global_option(e, ctx)}.")
            sys.exit(2)
        except typer.Abort:
            print_error("aborted.")
            sys.exit(1)
        # non-standalone, Click returns the code of an Exit (help, friendly's exit 2) or the
        # command's value (None: success)
        sys.exit(code if isinstance(code, int) else 0)


def _global_option(e: Exception, ctx: Any) -> str:
    """Where an option of ``nas`` itself goes when it was given after a command (``nas show RUN
    --extension X`` had said only "No such option: --extension": /tmp/oG5 F11)."""
    name = getattr(e, "option_name", None)
    if not isinstance(e, click_errors.NoSuchOption) or ctx is None or ctx.parent is None:
        return ""
    root = ctx.find_root().command
    if not any(name in p.opts for p in root.params):
        return ""
    return (
        f"; {name} is an option of nas itself: it goes before the command (nas {name} ... "
        f"{ctx.info_name} ...)"
    )


def _given(e: Exception, message: str, args: list[str]) -> str:
    """``; got 'VALUE'`` for a bad option value, when ``message`` does not show it."""
    param = getattr(e, "param", None)
    if not isinstance(e, click_errors.BadParameter) or not isinstance(param, TyperOption):
        return ""
    value = None
    for i, arg in enumerate(args):
        for opt in param.opts + param.secondary_opts:
            if arg == opt and i + 1 < len(args):
                value = args[i + 1]
            elif arg.startswith(f"{opt}="):
                value = arg[len(opt) + 1 :]
    return "" if value is None or repr(value) in message else f"; got {value!r}"


app = typer.Typer(
    name="nas",
    help="Neural architecture search under accuracy and compute budgets, explained.",
    cls=OneLineErrors,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

F = TypeVar("F", bound=Callable[..., Any])
SamplerName = Enum("SamplerName", {s: s for s in SAMPLERS}, type=str)  # type: ignore[misc]
PrunerName = Enum("PrunerName", {p: p for p in PRUNERS}, type=str)  # type: ignore[misc]


def friendly(fn: F) -> F:
    """Turn NasError into one stderr line + exit 2, and Ctrl-C into a clean exit 130 with one
    line saying how to go on (an :class:`Interrupted`'s own words where it has them)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **{k: _home(v) for k, v in kwargs.items()})
        except NasError as e:
            print_error(str(e))
            raise typer.Exit(2) from None
        except OSError as e:  # a path the checks above did not meet: one line, as theirs
            if e.errno != errno.ENAMETOOLONG:
                raise
            print_error(f"A file or folder name in {e.filename!r} is longer than the file "
                        f"system allows ({e.strerror}); give a shorter one.")  # fmt: skip
            raise typer.Exit(2) from None
        except (typer.Exit, click_errors.ClickException):
            raise
        except Exception as e:  # noqa: BLE001 -- only the user's own code's is turned to words
            line = users_error(e)
            if line is None:
                raise  # nas's own: a bug to see whole
            print_error(line)
            raise typer.Exit(2) from None
        except KeyboardInterrupt as e:
            import nas.trial

            said = str(e) if isinstance(e, Interrupted) else ""
            searching = fn.__name__ in ("search", "worker")  # `nas spaces` has no study to keep
            text = said or ("interrupted: completed trials are kept in the study; run the "
                            "same command again to continue." if searching
                            else f"interrupted: `nas {fn.__name__}` stopped before it "
                                 "finished.")  # fmt: skip
            term = nas.trial.STOPPED_BY == "SIGTERM"  # nas.cli.stop_on_sigterm
            if term and text.startswith("interrupted"):
                text = "terminated (SIGTERM)" + text.removeprefix("interrupted")
            # one line, however narrow the terminal (or a pipe: 80)
            err.print(Text(text), soft_wrap=True)
            raise typer.Exit(143 if term else 130) from None

    return wrapper  # type: ignore[return-value]


def users_error(error: BaseException) -> str | None:
    """One line for an exception raised in the user's own code (an extension's block, space or
    dataset: its forward, while `nas spaces --sample` counts FLOPs or `nas predict` runs the
    winner), naming the type, the place and the message; None for an exception of nas or of a
    library, which stays a traceback. It had been a traceback, exit 1, where the same error in
    a search's trial is one reason (/tmp/oF6 F4)."""
    from search_spaces.tracing import where_raised

    where = where_raised(error)
    if where is None:
        return None
    first = next((ln for ln in str(error).splitlines() if ln.strip()), "")
    return (f"{type(error).__name__} at {where}: {first[:300]}; that is code outside nas (an "
            "extension's block, space or dataset, or a script): fix it there.")  # fmt: skip


def _home(value: Any) -> Any:
    """A path option or argument (a Path, or a list of them) with ``~`` expanded, the same for
    every command: the shell leaves a quoted one (``--out '~/x'``, ``--data=~/a.csv``) as it is,
    and nas had made a folder named ``~`` (/tmp/oD4 F12)."""
    from pathlib import Path

    from nas.reading import home

    if isinstance(value, Path):
        return home(value)
    if isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
        return [home(v) for v in value]
    return value


@app.callback()
@friendly
def _load_extensions(
    extension: Annotated[
        list[str] | None,
        typer.Option(
            "--extension",
            "-x",
            metavar="MODULE",
            help="Load an extension before the command: a module name or a .py file that "
            "registers blocks, spaces or search kinds (repeat for more; also "
            f"{extensions.ENV}=a,b and installed '{extensions.GROUP}' entry points).",
        ),
    ] = None,
) -> None:
    extensions.load_extensions(*(extension or ()))
