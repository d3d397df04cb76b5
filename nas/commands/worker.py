"""``nas worker``: one more process on a running study, on this or another machine."""

from __future__ import annotations

from typing import Annotated

import typer

from nas.commands._app import app, err, friendly


@app.command()
@friendly
def worker(
    study: Annotated[str, typer.Option(help="The study name given to `nas search`.")],
    storage: Annotated[
        str | None,
        typer.Option(
            envvar="NAS_STORAGE_URL",
            help="The study's storage URL (e.g. postgresql://…); from $NAS_STORAGE_URL when not "
            "given, which keeps its password off the command line (ps).",
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Stop when the study has this many trials.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(min=1, help="Stop after this many s.")] = None,
    threads: Annotated[int, typer.Option(min=1, help="torch threads of this worker.")] = 1,
    index: Annotated[
        int, typer.Option(min=1, help="This worker's number (seeds its sampler).")
    ] = 1,
    heartbeat: Annotated[int, typer.Option(min=0, help="Heartbeat seconds; 0 = off.")] = 10,
) -> None:
    """Join a running study as one more worker (this or another machine).

    Start the study with `nas search ... --storage URL --study NAME` on one machine (it retrains
    and reports once at the end); run `nas worker --storage URL --study NAME` on the others.
    """
    import os

    from nas.deadline import check_limits
    from nas.worker import QUIET_ENV, interrupt_once, work

    check_limits(timeout, heartbeat=heartbeat)

    with interrupt_once():  # Ctrl-C reaches it from the terminal and from a leader here
        n = work(storage, study, n_trials=trials, timeout=timeout, threads=threads,
                 index=index, heartbeat=heartbeat or None)  # fmt: skip
    if not os.environ.get(QUIET_ENV):  # a worker of a quiet nas.search(progress=False)
        err.print(f"worker {index}: ran {n} trial(s) of study {study!r}.", markup=False)
