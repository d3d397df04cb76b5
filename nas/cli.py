"""The ``nas`` command: thin — parse, check, call the public API, render with Rich.

Every error nas raises on purpose (:class:`nas.errors.NasError`) becomes one line on stderr and
exit code 2, with no traceback. The commands live in :mod:`nas.commands`, one module per group.
"""

from __future__ import annotations

import codecs
from typing import Any

from nas.commands import explain, export, info, predict, search, worker  # noqa: F401 (register the commands)
from nas.commands._app import app, err, friendly, out


def main() -> None:
    """Console-script entry point (``nas`` in messages, however it was started)."""
    from nas import deadline

    # this process is the command: its --timeout counts from the process's start (imports
    # included); an app called in-process (tests, notebooks) counts from the command instead
    deadline.COMMAND_STARTED = deadline.process_started()
    stop_on_sigterm()
    plain_where_not_unicode()
    quiet_when_the_reader_goes()
    try:
        app(prog_name="nas")
    except SystemExit as e:
        # output that could not be written (a full disk) fails a command that otherwise did
        # its work: what it printed is lost, so exit 0 would say too much
        if _Tolerant.lost and e.code in (0, None):
            raise SystemExit(2) from None
        raise


class _Tolerant:
    """A standard stream whose reader may go away (``nas show | head -3``, a search piped to a
    pager that was closed): the first write that finds the pipe closed points the stream's file
    descriptor at /dev/null, so the command finishes its work (a search, its retrain and its
    files) instead of ending in a BrokenPipeError at its next line (/tmp/oD4 F10).

    A stream that cannot be written for another reason (``> /dev/full``, a full disk, an I/O
    error) is said once on the other stream, in one line, and then dropped the same way: the
    command goes on with its work and exits 2 at the end (:func:`main`), where it had ended in
    an OSError traceback at its first line of output."""

    #: The first write error other than a closed pipe, for :func:`main`'s exit code.
    lost: str | None = None

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_null()
        except OSError as e:
            self._lost(e)
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_null()
        except OSError as e:
            self._lost(e)

    def _lost(self, error: OSError) -> None:
        import sys

        name = "standard output" if self._stream is sys.__stdout__ else "standard error"
        self._to_null()  # what is still buffered goes there too, not retried at exit
        if _Tolerant.lost is None:
            _Tolerant.lost = name
            other = sys.__stderr__ if name == "standard output" else None
            if other is not None:
                try:
                    other.write(
                        f"error: {name} could not be written ({error.strerror}): what "
                        "nas printed there is lost; the command goes on with its work "
                        "and its files, and exits 2.\n"
                    )
                    other.flush()
                except OSError:
                    pass

    def _to_null(self) -> None:
        import os

        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self._stream.fileno())
        os.close(null)

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, reconfigure, ...
        return getattr(self._stream, name)


def quiet_when_the_reader_goes() -> None:
    """Standard output and error as :class:`_Tolerant` streams (the console script only: an
    app called in-process keeps its streams)."""
    import sys

    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _Tolerant) and hasattr(stream, "fileno"):
            setattr(sys, name, _Tolerant(stream))


#: What nas prints beyond ASCII, as ASCII, for a terminal or log that cannot encode it.
ASCII_FOR = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2026": "...", "\u2192": "->",
             "\u2190": "<-", "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u00d7": "x",
             "\u00b1": "+/-", "\u2248": "~", "\u2605": "*", "\u2713": "ok", "\u00b2": "^2",
             "\u03c1": "rho", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
             "\u2022": "*", "\u00b7": "."}  # fmt: skip


def _as_ascii(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: each character the stream cannot encode as its ASCII stand-in
    (ASCII_FOR), else '?'."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    return "".join(ASCII_FOR.get(c, "?") for c in text), error.end


codecs.register_error("nas-ascii", _as_ascii)


def plain_where_not_unicode() -> None:
    """Standard output and error that cannot encode Unicode (PYTHONIOENCODING=ascii, a
    latin-1 locale, some CI log collectors) write what they cannot encode as ASCII: the
    summary's "baseline − winner" had ended `nas search` in a UnicodeEncodeError traceback,
    exit 1, after its files were written, and `nas show` could not show the run (/tmp/oD4 F1)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        try:
            unicode = codecs.lookup(encoding).name.startswith("utf") if encoding else True
        except LookupError:
            unicode = False
        if not unicode and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="nas-ascii")


def stop_on_sigterm() -> None:
    """SIGTERM (``timeout``, ``docker stop``, systemd, a batch scheduler) takes Ctrl-C's path:
    the running trials end as failed "interrupted (SIGTERM)" and run again on a re-run, workers
    are stopped, one line says how to go on, and the exit code is 143. It had ended the process
    at once, leaving its trials RUNNING until their heartbeat ran out. A second SIGTERM during
    that cleanup is ignored (SIGKILL still ends it)."""
    import signal

    import nas.train.loop
    import nas.trial

    def on_term(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        nas.trial.STOPPED_BY = "SIGTERM"
        nas.train.loop.stop_pending = True  # raised again by training if this one is lost
        _quiet_database_cleanup()
        raise KeyboardInterrupt

    def on_int(signum: int, frame: Any) -> None:  # Python's own, and the same quiet
        _quiet_database_cleanup()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, on_int)


def _quiet_database_cleanup() -> None:
    """Once the command is stopping: SQLAlchemy logs "Error closing cursor" with a traceback
    when the interrupt lands inside a read of the study and the connection is gone before the
    cursor (a stopped search's stderr had held it above its one line). The exceptions that
    matter are still raised; only that logger's cleanup noise goes."""
    import logging

    logging.getLogger("sqlalchemy").setLevel(logging.CRITICAL)


if __name__ == "__main__":
    main()

__all__ = [
    "app",
    "err",
    "friendly",
    "main",
    "out",
    "plain_where_not_unicode",
    "quiet_when_the_reader_goes",
]
