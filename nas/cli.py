"""The ``nas`` command: thin — parse, check, call the public API, render with Rich.

Every error nas raises on purpose (:class:`nas.errors.NasError`) becomes one line on stderr and
exit code 2, with no traceback. The commands live in :mod:`nas.commands`, one module per group.
"""

from __future__ import annotations

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
    app(prog_name="nas")


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
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


if __name__ == "__main__":
    main()

__all__ = ["app", "err", "friendly", "main", "out"]
