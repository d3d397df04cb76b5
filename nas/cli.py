"""The ``nas`` command: thin — parse, check, call the public API, render with Rich.

Every error nas raises on purpose (:class:`nas.errors.NasError`) becomes one line on stderr and
exit code 2, with no traceback. The commands live in :mod:`nas.commands`, one module per group.
"""

from __future__ import annotations

from nas.commands import explain, export, info, predict, search, worker  # noqa: F401 (register the commands)
from nas.commands._app import app, err, friendly, out


def main() -> None:
    """Console-script entry point (``nas`` in messages, however it was started)."""
    from nas import deadline

    # this process is the command: its --timeout counts from the process's start (imports
    # included); an app called in-process (tests, notebooks) counts from the command instead
    deadline.COMMAND_STARTED = deadline.process_started()
    app(prog_name="nas")


if __name__ == "__main__":
    main()

__all__ = ["app", "err", "friendly", "main", "out"]
