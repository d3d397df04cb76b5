"""The ``nas`` command end to end: artifacts, help, listings, and one-line errors (exit 2)."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer.main
from typer.testing import Result

from nas import run as rundir
from nas.cli import app
from nas.cost import count_params
from nas.data import BUILTIN_DATASETS
from nas.errors import StorageError
from search_spaces import SPACES, ArchSpec, build_model, get_space
from tests.conftest import FinishedRun, copy_finished_run

pytestmark = pytest.mark.usefixtures("restore_global_state")

Cli = Callable[..., Result]
LEAN = ("--threads", "1")
ARTIFACTS = ("run.json", "study.db", "leaderboard.csv", "best/spec.json", "best/model.pt",
             "best/metrics.json", "summary.json")  # fmt: skip
# The columns DESIGN.md promises for leaderboard.csv.
DOCUMENTED_COLUMNS = ("number", "state", "family", "params", "flops", "latency_ms", "metric",
                      "seconds", "reason")  # fmt: skip


def read_board(run_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(run_dir / "leaderboard.csv", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def assert_one_line_error(result: Result, *words: str) -> str:
    """Exit 2, no traceback, stdout empty, stderr one line naming the problem (``words``)."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: ")
    for word in words:
        assert word in line, (word, line)
    return line


def error_line(result: Result) -> str:
    """The one ``error:`` line of a run whose progress view also wrote to stderr."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


# ---------------------------------------------------------------- a full search


def test_search_writes_every_artifact(finished_run) -> None:
    result, run_dir = finished_run.result, finished_run.run_dir
    assert result.exit_code == 0, (result.output, result.exception)
    for name in ARTIFACTS:
        assert (run_dir / name).is_file(), name
        assert (run_dir / name).stat().st_size > 0, name
    assert not (run_dir / "top").exists()  # --top 1 keeps best/ only
    assert not list(run_dir.rglob(".*.tmp")) and not list(run_dir.rglob(".write-test-*"))

    header, rows = read_board(run_dir)
    assert header == list(rundir.LEADERBOARD_COLUMNS)
    assert set(DOCUMENTED_COLUMNS) <= set(header)
    assert [int(r["number"]) for r in rows] == [0, 1, 2]  # one row per trial, in order
    assert {r["state"] for r in rows} <= {"complete", "pruned"}
    assert all(r["family"] == "fnn" and int(r["params"]) > 0 for r in rows)
    assert all(0.0 <= float(r["metric"]) <= 1.0 for r in rows)

    record = json.loads((run_dir / "run.json").read_text())
    assert (record["study"], record["dataset"], record["seed"]) == ("iris-tiny", "iris", 3)
    assert record["objectives"] == ["accuracy"] and record["n_trials"] == 3
    assert record["storage"] == f"sqlite:///{(run_dir / 'study.db').resolve()}"

    metrics = json.loads((run_dir / "best" / "metrics.json").read_text())
    spec = ArchSpec.from_json((run_dir / "best" / "spec.json").read_text())
    winner = next(r for r in rows if int(r["number"]) == metrics["trial"])
    assert winner["state"] == "complete"
    assert metrics["cost"]["params"] == int(winner["params"]) == count_params(build_model(spec))
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0

    summary = json.loads((run_dir / "summary.json").read_text())
    assert sum(summary["counts"].values()) == 3
    assert summary["best"] == metrics["test"] and summary["top"] == [metrics["trial"]]

    assert f"winner (trial {metrics['trial']})" in result.stdout
    assert "leaderboard.csv" in result.stdout
    assert "Traceback" not in result.output


def test_optuna_cli_opens_the_study(finished_run) -> None:
    optuna_bin = Path(sys.executable).with_name("optuna")
    if not optuna_bin.exists():
        pytest.skip("the optuna console script is not installed beside this python")
    url = f"sqlite:///{finished_run.run_dir / 'study.db'}"
    done = subprocess.run(
        [str(optuna_bin), "trials", "--storage", url, "--study-name", finished_run.study,
         "-f", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    trials = json.loads(done.stdout)
    assert [t["number"] for t in trials] == [0, 1, 2]
    assert {t["state"] for t in trials} <= {"COMPLETE", "PRUNED"}
    assert all(t["user_attrs"]["family"] == "fnn" for t in trials)


def test_show_prints_the_summary(cli: Cli, finished_run) -> None:
    metrics = json.loads((finished_run.run_dir / "best" / "metrics.json").read_text())
    result = cli("show", finished_run.run_dir)
    assert result.exit_code == 0, result.output
    assert "iris-tiny" in result.stdout and "iris" in result.stdout
    assert "trials:" in result.stdout
    assert f"winner (trial {metrics['trial']})" in result.stdout
    assert f"accuracy {metrics['test']['accuracy']:.4f}" in result.stdout
    # what the search printed at its end: the top trials and the winner's cost
    assert "top trials (validation)" in result.stdout
    assert f"cost: {metrics['cost']['params']:,} params" in result.stdout
    record = json.loads((finished_run.run_dir / "run.json").read_text())["budget"]
    limits = {k: v for k, v in record.items() if v is not None}
    expected = ", ".join(f"{k[4:]} <= {v:,g}" for k, v in limits.items()) or "none"
    assert f"budget: {expected}  objectives:" in result.stdout  # not a dict of Nones
    assert "None" not in result.stdout.splitlines()[1]


def test_show_of_a_folder_without_a_run_is_one_line(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("show", tmp_path), "run.json", "does not exist")


def test_resume_with_other_settings_is_refused(
    cli: Cli, finished_run, tmp_path: Path, make_space
) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(finished_run.run_dir, run_dir)
    before = (run_dir / "run.json").read_text()

    def again(**change: str) -> Result:
        args = list(finished_run.args)
        args[args.index("--out") + 1] = str(run_dir)
        for flag, value in change.items():
            args[args.index(f"--{flag}") + 1] = value
        return cli(*args)

    line = assert_one_line_error(again(seed="4"), "seed=3, not 4", "--out")
    assert str(run_dir) in line
    assert_one_line_error(again(dataset="wine"), "dataset='iris', not 'wine'")
    other = make_space(
        (Path(finished_run.args[finished_run.args.index("--space") + 1])).read_text()
        .replace("[8, 16]", "[8, 32]"),
        name="other.toml",
    )  # fmt: skip
    assert_one_line_error(again(space=str(other)), "fnn.units")
    assert (run_dir / "run.json").read_text() == before  # nothing recorded of a refused run


# ---------------------------------------------------------------- the other commands


def test_search_help_lists_every_option(cli: Cli) -> None:
    result = cli("search", "--help")
    assert result.exit_code == 0
    command = typer.main.get_command(app).commands["search"]
    flags = [opt for p in command.params for opt in [*p.opts, *p.secondary_opts]]
    assert len(flags) > 20
    missing = [f for f in flags if f not in result.stdout]
    assert not missing, missing
    for choice in ("tpe", "random", "nsga2", "hyperband", "median"):
        assert choice in result.stdout


def test_datasets_lists_the_builtins(cli: Cli) -> None:
    table = cli("datasets")
    assert table.exit_code == 0
    for name in BUILTIN_DATASETS:
        assert name in table.stdout
    lines = cli("datasets", "--json").stdout.splitlines()
    infos = [json.loads(line) for line in lines]
    assert [i["name"] for i in infos] == list(BUILTIN_DATASETS)
    digits = infos[list(BUILTIN_DATASETS).index("digits")]
    assert (digits["task"], digits["input_shape"], digits["output_size"]) == (
        "classification", [1, 8, 8], 10,
    )  # fmt: skip


def test_spaces_samples_architectures_as_json(cli: Cli) -> None:
    result = cli("spaces", "fnn", "--dataset", "digits", "--sample", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert {"family", "params", "flops", "latency_ms", "spec"} <= set(row)
        assert row["family"] == "fnn"
        spec = ArchSpec.from_dict(row["spec"])
        assert tuple(spec.input_shape) == (1, 8, 8) and spec.output_size == 10
        assert row["params"] == count_params(build_model(spec)) > 0
        assert row["flops"] > 0 and row["latency_ms"] > 0
    assert len({json.dumps(r["spec"], sort_keys=True) for r in rows}) > 1


def test_spaces_lists_and_shows_dimensions(cli: Cli) -> None:
    listing = cli("spaces")
    assert listing.exit_code == 0
    for name in SPACES:
        assert name in listing.stdout
    dims = json.loads(cli("spaces", "cnn", "--json").stdout)
    assert dims["space"] == "cnn" and "cnn.n_blocks" in dims["dims"]
    # the dimensions cnn reads: its own, training and head; not another family's (every
    # space's had been listed under each name)
    sections = {k.split(".")[0] for k in dims["dims"]}
    assert sections == {"cnn", "train", "head"}, sections
    assert set(get_space("cnn").config) - set(dims["dims"]) >= {"fnn.units", "rnn.cell"}
    hybrid = json.loads(cli("spaces", "cnn_rnn", "--json").stdout)["dims"]
    assert {"cnn.channels", "rnn.cell", "hybrid.stem_blocks"} <= set(hybrid)
    assert not any(k.startswith(("fnn.", "transformer.")) for k in hybrid)
    shown = cli("spaces", "fnn")
    assert (
        f"the {len(json.loads(cli('spaces', 'fnn', '--json').stdout)['dims'])} dimensions"
        in shown.stdout
        and "cnn.channels" not in shown.stdout
    )
    # a space that reads a copy of its config (the GAN's discriminator) lists all of them
    assert set(json.loads(cli("spaces", "gan", "--json").stdout)["dims"]) == set(
        get_space("gan").config
    )


def test_spaces_sample_without_data_is_one_line(cli: Cli) -> None:
    assert_one_line_error(cli("spaces", "fnn", "--sample", "2"), "--dataset")


def test_unknown_space_is_one_line(cli: Cli, tmp_path: Path) -> None:
    result = cli("search", "--dataset", "iris", "--space", "fnnn", "--out", tmp_path / "r")
    assert_one_line_error(result, "Unknown space 'fnnn'", "'fnn'")
    result = cli("search", "--dataset", "iris", "--space", "CNN", "--out", tmp_path / "r")
    assert_one_line_error(result, "Unknown space 'CNN'. Did you mean 'cnn'?")  # /tmp/oD4 F15


# ---------------------------------------------------------------- one-line errors, exit 2


def test_a_name_longer_than_the_file_system_takes_is_one_line(cli: Cli, tmp_path: Path) -> None:
    """/tmp/oD4 F11: a 300-character name (ENAMETOOLONG from Path.exists / is_dir) had been a
    traceback for --out, --data and a run directory, where --study already got one line."""
    long = "L" * 300
    ok = _csv(tmp_path / "ok.csv", "a,b,y\n1,2,x\n3,4,y\n5,6,x\n")
    search = ("search", "--trials", "1", "--epochs", "1", "--no-explain", "--no-report", *LEAN)
    line = assert_one_line_error(
        cli(*search, "--dataset", "iris", "--out", tmp_path / long),
        "Cannot write to output folder",
        "File name too long",
        "--out",
    )
    assert long in line
    assert_one_line_error(
        cli(
            *search, "--data", tmp_path / f"{long}.csv", "--target", "y", "--out", tmp_path / "run"
        ),
        "Cannot read data file",
        "File name too long",
        "check the path",
    )
    assert not (tmp_path / "run").exists()
    for command in ("show", "explain", "report", "export"):
        assert_one_line_error(cli(command, tmp_path / long), "Cannot read", "File name too long")
    # a path no check of its own meets (predict's default output under the run directory)
    assert_one_line_error(
        cli("predict", tmp_path / long, "--data", ok),
        "is longer than the file system allows",
        "give a shorter one",
    )


def test_a_quoted_tilde_in_a_path_is_the_home_folder(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, finished_run, tiny_space: Path
) -> None:
    """/tmp/oD4 F12: the shell leaves ``'~/x'`` and ``--data=~/a.csv`` as they are; nas had
    looked for ./~/ok.csv and made a folder named ``~`` in the working directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    rows = "".join(f"{i % 7},{i % 3},{'xy'[i % 2]}\n" for i in range(40))
    _csv(home / "ok.csv", "a,b,y\n" + rows)
    assert_one_line_error(cli("search", "--data=~/nope.csv", "--target", "y", "--out", "~/run"),
                          f"Data file '{home / 'nope.csv'}' does not exist")  # fmt: skip
    result = cli("search", "--data=~/ok.csv", "--target", "y", "--out", "~/run", "--space",
                 tiny_space, "--trials", "1", "--epochs", "1", "--no-explain", "--no-report",
                 *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "~").exists()  # the working directory: no folder named ~
    record = json.loads((home / "run" / "run.json").read_text())
    assert record["data"] == str(home / "ok.csv")
    copy_finished_run(finished_run, home / "done")
    for command in (("show", "~/done/run"), ("predict", "~/done/run", "-o", "~/p.csv")):
        assert cli(*command).exit_code == 0, command  # a run-directory argument, an -o
    assert (home / "p.csv").is_file()


def test_more_jobs_than_cores_is_one_warning_before_the_search(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oD4 F7: --jobs 64 on 2 cores had started 64 processes without a word."""
    import os

    import nas
    from nas.errors import NasError

    began: list[int] = []

    def search(**kwargs: object) -> None:  # the search itself is not this test's
        began.append(1)
        raise NasError("stopped here")

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(nas, "search", search)
    result = cli("search", "--dataset", "iris", "--jobs", "64", "--out", tmp_path / "r")
    warning, error = result.stderr.splitlines()
    assert warning == (
        "warning: --jobs 64 asks for 64 processes on a machine of 2 CPU cores (os.cpu_count()): "
        "each process loads torch (~300 MB of memory) and they share the cores, so each trial "
        "runs slower; --jobs 2 or fewer fits this machine."
    )
    assert error == "error: stopped here" and began  # said before the search began
    for jobs in ("2", "1"):
        assert_one_line_error(cli("search", "--dataset", "iris", "--jobs", jobs), "stopped here")


def test_a_search_whose_workers_cannot_start_runs_alone_without_contrary_notes(
    cli: Cli, tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oF6 F6: a --jobs 2 search that runs alone (its workers could not load its code)
    said so, then "with --jobs 2 the processes take trials as they free up"."""
    import nas.session

    monkeypatch.setattr(nas.session, "workers_cannot_start", lambda jobs: "runs alone: why")
    monkeypatch.setattr(nas.session, "start_workers", lambda *a, **k: pytest.fail("started"))
    result = cli("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                 "--epochs", "1", "--jobs", "2", "--no-explain", "--no-report",
                 "--out", tmp_path / "run", *LEAN)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: runs alone: why" in result.stderr
    assert "the processes take trials as they free up" not in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--timeout", "inf"), ("--timeout must be a finite number of seconds", "no limit")),
        (("--trial-timeout", "inf"), ("--trial-timeout must be a finite", "31,536,000")),
        (("--trial-timeout", "1e12"), ("--trial-timeout", "got 1e+12", "no limit")),
        (("--heartbeat", "1000000000000"), ("--heartbeat", "at most 86,400", "0 turns")),
        (("--timeout", "nan"), ("--timeout",)),  # refused as before
    ],
)
def test_seconds_past_what_the_clocks_take_are_one_line_before_anything_is_written(
    cli: Cli, tmp_path: Path, args: tuple[str, ...], words: tuple[str, ...]
) -> None:
    """/tmp/oD4 F5, F6: --timeout inf and --trial-timeout inf / 1e12 had been OverflowError
    tracebacks after run.json was written (a re-run crashed again); --heartbeat 1e12 killed
    the heartbeat thread in a traceback and left stale trials unfailed."""
    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--trials", "1", "--epochs", "1", *args,
                 "--out", out, *LEAN)  # fmt: skip
    assert_one_line_error(result, *words)
    assert not out.exists()  # nothing recorded of a search that never ran
    if args[0] != "--trial-timeout":  # nas worker takes --timeout and --heartbeat too
        db = tmp_path / "none.db"
        worker = cli("worker", "--storage", f"sqlite:///{db}", "--study", "s", *args)
        assert_one_line_error(worker, *words)
        assert not db.exists()


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ALL_MISSING = "a,b,y\n" + "".join(f",{i},{'xy'[i % 2]}\n" for i in range(12))


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing_file", ("nope.csv", "does not exist", "check the path")),
        ("unknown_dataset", ("Unknown dataset 'nosuch'", *BUILTIN_DATASETS)),
        ("unknown_target", ("'zzz'", "columns: 'a', 'b', 'y'")),
        ("single_class", ("single class", "another target")),
        ("empty_file", ("empty.csv", "empty")),
        ("all_missing_column", ("'a'", "no values", "--drop a")),
        ("out_under_a_file", ("Cannot write to output folder", "--out")),
        ("storage_scheme", ("Malformed --storage URL 'notaurl://x'", "sqlite:///")),
        ("storage_word", ("Malformed --storage URL 'foo'", "journal file")),
    ],
)
def test_user_errors_are_one_line_on_stderr(
    cli: Cli, tmp_path: Path, case: str, words: tuple[str, ...]
) -> None:
    ok = _csv(tmp_path / "ok.csv", "a,b,y\n1,2,x\n3,4,y\n5,6,x\n")
    out = tmp_path / "run"
    args: list[str | Path] = {
        "missing_file": ["--data", tmp_path / "nope.csv", "--target", "y"],
        "unknown_dataset": ["--dataset", "nosuch"],
        "unknown_target": ["--data", ok, "--target", "zzz"],
        "single_class": ["--data", _csv(tmp_path / "one.csv", "a,y\n1,x\n2,x\n3,x\n"),
                         "--target", "y"],
        "empty_file": ["--data", _csv(tmp_path / "empty.csv", ""), "--target", "y"],
        "all_missing_column": ["--data", _csv(tmp_path / "gap.csv", ALL_MISSING),
                               "--target", "y"],
        "out_under_a_file": ["--dataset", "iris"],
        "storage_scheme": ["--dataset", "iris", "--storage", "notaurl://x"],
        "storage_word": ["--dataset", "iris", "--storage", "foo"],
    }[case]  # fmt: skip
    if case == "out_under_a_file":  # a parent that is a file blocks root too, unlike chmod
        _csv(tmp_path / "afile", "")
        out = tmp_path / "afile" / "run"
    result = cli("search", *args, "--space", "fnn", "--trials", "2", "--epochs", "1",
                 "--out", out, *LEAN)  # fmt: skip
    assert_one_line_error(result, *words)
    assert not (out / "run.json").exists()  # nothing recorded of a search that never ran
    assert not (out / "leaderboard.csv").exists()


def test_choices_are_case_blind_and_suggested_so(cli: Cli, tmp_path: Path) -> None:
    # --sampler TPE and --pruner Median had been refused, 'IRIS' got no suggestion (/tmp/oD4 F15)
    result = cli("search", "--sampler", "TPE", "--pruner", "Median", "--dataset", "IRIS",
                 "--out", tmp_path / "run", *LEAN)  # fmt: skip
    # the options parsed: the one error is the dataset's, which suggests its lower-case name
    assert_one_line_error(result, "Unknown dataset 'IRIS' (did you mean 'iris'?)")
    bad = cli("search", "--sampler", "TPEE", "--dataset", "iris", "--out", tmp_path / "r2")
    assert_one_line_error(bad, "--sampler", "'TPEE'", "tpe")


def test_the_drop_hint_fixes_an_all_missing_column(cli: Cli, tmp_path: Path) -> None:
    """The error says --drop a; with it the data loads, and the next check (storage) speaks."""
    data = _csv(tmp_path / "gap.csv", ALL_MISSING)
    result = cli("search", "--data", data, "--target", "y", "--drop", "a", "--space", "fnn",
                 "--storage", "notaurl://x", "--out", tmp_path / "run")  # fmt: skip
    assert_one_line_error(result, "Malformed --storage URL")


def test_the_recorded_command_pastes_back_as_the_same_words(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run.json's command (the report's "Reproduce") had been the words joined by spaces: a
    target named `目标 <target>` pasted into bash became a redirection, and a name holding
    `a>b` would truncate a file b (/tmp/oB4 F3). It is quoted as a shell reads it now."""
    import shlex

    import nas
    from nas.errors import NasError

    seen: dict[str, str] = {}

    def record(**kwargs: object) -> None:
        seen["command"] = str(kwargs["command"])
        raise NasError("stopped by the test")

    monkeypatch.setattr(nas, "search", record)
    words = ["search", "--data", "my data.csv", "--target", "目标 <target>", "--drop", "a>b;rm x",
             "--trials", "1"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["/somewhere/bin/nas", *words])
    assert cli(*words).exit_code == 2
    assert shlex.split(seen["command"]) == ["nas", *words]
    assert seen["command"].startswith("nas search --data 'my data.csv' --target '目标 <target>'")


@pytest.mark.timeout(240)
def test_an_impossible_budget_stops_after_a_bounded_number_of_samples(
    cli: Cli, tmp_path: Path
) -> None:
    from nas.trial import SearchSettings

    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", "fnn", "--max-params", "5",
                 "--trials", "1000", "--epochs", "1", "--out", out, *LEAN)  # fmt: skip
    line = error_line(result)
    assert "No architecture met the budget" in line and "raise the limits" in line
    assert "params >= " in line
    _, rows = read_board(out)
    max_rejects = SearchSettings.__dataclass_fields__["max_rejects"].default
    assert len(rows) == max_rejects  # stopped by itself, far short of --trials 1000
    assert {r["state"] for r in rows} == {"over_budget"}
    assert not (out / "best").exists()


def test_an_impossible_budget_with_few_trials_says_so(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", "fnn", "--max-params", "5",
                 "--trials", "3", "--epochs", "1", "--out", out, *LEAN)  # fmt: skip
    line = error_line(result)
    assert "No architecture met the budget in 3 samples" in line
    assert "raise the limits (--max-params >= " in line


# ---------------------------------------------------------------- Pareto search, storages

PARETO_SPACE = """\
space = "fnn"
[fnn]
n_blocks = 1
units = { choices = [1, 32] }
norm = "none"
activation = "relu"
dropout = 0.0
residual = false
[head]
hidden = 0
[train]
optimizer = "adam"
lr = 0.01
weight_decay = 0.0
batch_size = 64
schedule = "none"
"""


def test_multi_objective_search_keeps_the_top_of_the_front(
    cli: Cli, tmp_path: Path, make_space
) -> None:
    """A 1-unit bottleneck cannot learn ten digits; 32 units can: both are Pareto-optimal.
    (No pruning, so that every trial completes; the Pareto pruner has tests of its own.)"""
    out = tmp_path / "run"
    result = cli("search", "--dataset", "digits", "--space", make_space(PARETO_SPACE),
                 "--objectives", "accuracy,params", "--top", "2", "--sampler", "random",
                 "--trials", "4", "--epochs", "3", "--pruner", "none", "--out", out,
                 *LEAN)  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    header, rows = read_board(out)
    assert "objective_params" in header
    sizes = {int(r["params"]) for r in rows}
    assert len(sizes) == 2, "the random sampler should try both widths"
    for r in rows:
        assert r["state"] == "complete"
        assert float(r["objective_params"]) == int(r["params"])
    tops = [json.loads((out / "top" / str(k) / "metrics.json").read_text()) for k in (1, 2)]
    assert not (out / "top" / "3").exists()
    assert [t["rank"] for t in tops] == [1, 2]
    assert tops[0]["cost"]["params"] > tops[1]["cost"]["params"]  # more accurate, bigger
    assert tops[0]["objectives"]["accuracy"] > tops[1]["objectives"]["accuracy"]
    assert json.loads((out / "best" / "metrics.json").read_text())["trial"] == tops[0]["trial"]
    for k in (1, 2):
        assert (out / "top" / str(k) / "model.pt").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["top"] == [t["trial"] for t in tops]


def test_journal_file_storage(cli: Cli, tmp_path: Path, tiny_space: Path) -> None:
    import nas

    journal, out = tmp_path / "journal" / "study.log", tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", tiny_space, "--trials", "2",
                 "--epochs", "1", "--storage", journal, "--out", out, *LEAN)  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    assert journal.is_file() and journal.stat().st_size > 0
    assert not (out / "study.db").exists()
    assert json.loads((out / "run.json").read_text())["storage"] == str(journal.resolve())
    # the storage run.json names is never opened on its own (issue #14): it is passed
    with pytest.raises(StorageError, match="study.db does not exist.*--storage"):
        nas.load_run(out)
    loaded = nas.load_run(out, storage=str(journal))
    assert len(loaded.study.trials) == 2 and loaded.spec is not None


# ---------------------------------------------------------------- the live view


def test_a_log_file_gets_a_line_per_trial_as_it_ends() -> None:
    """/tmp/oD4 F2: with stderr a file (nohup, CI) Rich drew the live view once, at the end: the
    log stayed empty for the whole search. Not a terminal, the view says one plain line per
    trial that ends (none for a refresh within a trial), then the bar once, as before."""
    import io

    import optuna
    from rich.console import Console

    from nas.progress import SearchProgress

    study = optuna.create_study(direction="maximize")
    attrs = {"family": "fnn", "params": 1234, "flops": 2_000_000, "latency_ms": 0.5}
    log = io.StringIO()
    with SearchProgress(study, "accuracy", 2, None, console=Console(file=log, width=100)) as view:
        study.add_trial(optuna.trial.create_trial(value=0.75, user_attrs=attrs))
        view(study, study.trials[-1])
        assert log.getvalue() == (
            "search: trial 1/2 ended (complete 1, pruned 0, over budget 0, failed 0); best: val "
            "accuracy 0.7500 (trial 0, fnn, 1,234 params, 2.00 MFLOPs, 0.50 ms)\n"
        )  # at once, not at the end
        view._update(study)  # a refresh within the next trial: nothing new to say
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
        view(study, study.trials[-1])
    lines = log.getvalue().splitlines()
    assert lines[1].startswith("search: trial 2/2 ended (complete 1, pruned 0, over budget 0, "
                               "failed 1); best: val accuracy 0.7500")  # fmt: skip
    assert len([x for x in lines if x.startswith("search: trial")]) == 2 and "2/2" in lines[2]
    screen = io.StringIO()  # a terminal: the live view, no lines
    terminal = Console(file=screen, width=100, force_terminal=True)
    with SearchProgress(study, "accuracy", 1, None, console=terminal) as view:
        study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))
        view(study, study.trials[-1])
    assert "search: trial" not in screen.getvalue() and "3/3" in screen.getvalue()


def test_the_progress_view_counts_a_resumed_study_from_its_finished_trials() -> None:
    import io

    import optuna
    from rich.console import Console

    from nas.progress import SearchProgress, best_line

    study = optuna.create_study(direction="maximize")
    attrs = {"family": "fnn", "params": 1234, "flops": 2_000_000, "latency_ms": 0.5}
    study.add_trial(optuna.trial.create_trial(value=0.75, user_attrs=attrs))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING))  # orphan
    screen = io.StringIO()
    view = SearchProgress(study, "accuracy", 3, None, console=Console(file=screen, width=100))
    task = view.progress.tasks[0]
    assert (task.completed, task.total) == (2, 5)  # 2 finished before + 3 to run now
    with view:
        for _ in range(3):  # the bar reads the study: trials of other workers count too
            study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))
            view(study, study.trials[-1])
    assert (task.completed, task.total) == (5, 5)
    assert "5/5" in screen.getvalue() and "failed 1" in screen.getvalue()
    assert best_line(study, "accuracy") == (
        "best: val accuracy 0.7500 (trial 0, fnn, 1,234 params, 2.00 MFLOPs, 0.50 ms)"
    )
    # a dead worker's trial (1) retried as a new one: the retry takes its place in the count
    # (the bar had read 6/5)
    retry = optuna.trial.create_trial(value=0.6, user_attrs=attrs,
                                      system_attrs={"retry_history": [1]})  # fmt: skip
    study.add_trial(retry)
    view(study, study.trials[-1])
    assert task.completed == 5
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))  # one more than 5
    view(study, study.trials[-1])
    assert task.completed == 5  # never past the total
    assert best_line(optuna.create_study(), "accuracy").startswith("best: - ")
    # under --min-faithfulness the line names the best trial that meets it, as the search will
    constrained = optuna.create_study(direction="maximize")
    for value, c in ((0.99, 0.1), (0.97, -0.1)):
        feasibility = {"constraints:min_faithfulness": c}
        constrained.add_trial(
            optuna.trial.create_trial(value=value, user_attrs=attrs, system_attrs=feasibility)
        )
    assert best_line(constrained, "accuracy").startswith("best: val accuracy 0.9700 (trial 1,")
    # a starting point leads: the line says so, and from what size it was fitted to the budget
    starts = optuna.create_study(direction="maximize")
    fitted = {**attrs, "warm_start": True, "fitted_to_budget": {"params_before": 21290,
                                                                "params": 1234}}  # fmt: skip
    starts.add_trial(optuna.trial.create_trial(value=0.9, user_attrs=fitted))
    assert best_line(starts, "accuracy") == (
        "best: val accuracy 0.9000 (trial 0, fnn, 1,234 params, 2.00 MFLOPs, 0.50 ms, "
        "a starting point fitted to the budget from 21,290 params)"
    )
    starts.add_trial(
        optuna.trial.create_trial(value=0.95, user_attrs={**attrs, "warm_start": True})
    )
    assert best_line(starts, "accuracy").endswith("0.50 ms, a starting point)")
    starts.add_trial(optuna.trial.create_trial(value=0.97, user_attrs=attrs))  # sampled: beat it
    assert best_line(starts, "accuracy").endswith("0.50 ms)")


def test_show_and_the_search_summary_judge_the_winner_against_the_baselines(
    cli: Cli, finished_run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """97:3 data had printed only "test: accuracy 0.9711 …" where the majority class scores the
    same: the baselines and the report's verdict on them are said on the command line too, and
    the macro averages are named so (metrics.json keeps its keys)."""
    import nas
    from nas.commands.search import render_result

    run = copy_finished_run(finished_run, tmp_path)
    n = json.loads((run / "run.json").read_text())["data_info"]["sizes"]["test"]
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    assert {"precision", "recall", "f1"} <= set(metrics["test"])
    metrics["test"]["accuracy"] = 0.75
    (run / "best" / "metrics.json").write_text(json.dumps(metrics))
    (run / "best" / "baselines.json").write_text(json.dumps({
        "metric": "accuracy", "split": "test", "n_test": n, "fitted_on": "train+val",
        "baselines": [
            {"name": "majority class", "kind": "trivial", "metrics": {"accuracy": 0.75}},
            {"name": "logistic regression", "kind": "classical", "metrics": {"accuracy": 0.0},
             "params": 15},
        ],
    }))  # fmt: skip
    expected = [
        f"baselines on the same {n} test rows, accuracy: majority class 0.75 (inside the "
        "winner's 95% interval), logistic regression 0 (outside the winner's 95% interval)",
        f"verdict: The winner is not shown to beat the majority class on these n = {n} test "
        "examples (accuracy 0.75 against 0.75, within the winner's 95% interval).",
    ]
    shown = cli("show", run)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    test = next(i for i, line in enumerate(lines) if line.startswith("test: "))
    assert lines[test + 1 : test + 3] == expected
    assert "macro precision" in lines[test] and "macro recall" in lines[test]
    assert "macro f1" in lines[test] and ", f1 " not in lines[test]
    capsys.readouterr()
    render_result(nas.load_run(run))
    printed = capsys.readouterr().out.splitlines()
    test = next(i for i, line in enumerate(printed) if line.startswith("test: "))
    assert printed[test + 1 : test + 3] == expected and "macro f1" in printed[test]
    # a tabular run's third baseline, gradient-boosted trees, beating the winner
    stored = json.loads((run / "best" / "baselines.json").read_text())
    stored["baselines"][0]["metrics"]["accuracy"] = 0.0
    stored["baselines"].append(
        {"name": "gradient boosting", "kind": "trees", "metrics": {"accuracy": 1.0}}
    )
    (run / "best" / "baselines.json").write_text(json.dumps(stored))
    shown = cli("show", run)
    lines = shown.stdout.splitlines()
    test = next(i for i, line in enumerate(lines) if line.startswith("test: "))
    assert lines[test + 1].endswith(
        "logistic regression 0 (outside the winner's 95% interval), gradient boosting 1 (better "
        "than the winner, beyond its 95% interval)"
    )
    assert lines[test + 2] == (
        "verdict: Gradient boosting beats the winner on this test split (accuracy 1 against "
        "0.75, beyond the winner's 95% interval): ship it instead, or search longer or in "
        "another space."
    )
    (run / "best" / "baselines.json").unlink()  # a run from before nas measured them
    shown = cli("show", run)
    assert shown.exit_code == 0 and "baselines" not in shown.stdout


def test_show_says_every_note_the_data_got_as_text(cli: Cli, finished_run, tmp_path: Path) -> None:
    """run.json records what loading did to the data (rows left out, values filled in); `nas
    show` said none of it."""
    run = copy_finished_run(finished_run, tmp_path)
    record = json.loads((run / "run.json").read_text())
    notes = [
        "107 of 800 rows of d.csv have no value for target 'y' and were left out.",
        "282 missing feature values of d.csv were filled in [bold]as in training[/].",
    ]
    record["data_info"]["notes"] = notes
    (run / "run.json").write_text(json.dumps(record))
    shown = cli("show", run)
    assert shown.exit_code == 0, shown.output
    said = [line for line in shown.stdout.splitlines() if line.startswith("note: ")]
    assert said == [f"note: {n}" for n in notes]  # all, in order, markup printed as written


def _stop(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("step", ["explain", "report"])
def test_ctrl_c_while_explaining_or_reporting_names_the_command_that_finishes(
    cli: Cli, tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """The search and its winner are kept: re-running the search would retrain the winner
    before explaining it, so the line names `nas explain` / `nas report` instead."""
    import nas.explaining
    import nas.reporting

    monkeypatch.setattr(*((nas.explaining, "explain_run") if step == "explain" else
                          (nas.reporting, "collect")), _stop)  # fmt: skip
    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                 "--epochs", "1", "--out", out, *(["--no-explain"] * (step == "report")),
                 *LEAN)  # fmt: skip
    assert result.exit_code == 130, (result.stderr, result.exception)
    assert "Traceback" not in result.output
    said = {
        "explain": f"interrupted while explaining the winner: the search and its winner are "
        f"kept in {out}; run `nas explain {out}` (then `nas report {out}`) to finish, not the "
        "search again (which would retrain the winner first).",
        "report": f"interrupted while writing the report: the search and its winner are kept "
        f"in {out}; run `nas report {out}` to write it, not the search again (which would "
        "retrain the winner first).",
    }[step]
    assert result.stderr.splitlines()[-1] == said
    assert (out / "best" / "model.pt").is_file() and not (out / "report.html").exists()


def test_a_lost_stop_after_the_explanations_skips_the_report(
    cli: Cli, tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SIGTERM whose KeyboardInterrupt Python dropped between two stages (stop_pending) had
    let the stages after training run on; each stage now starts by raising it."""
    import nas.finalize
    import nas.train.loop as loop

    monkeypatch.setattr(loop, "stop_pending", False)
    saved = nas.finalize.save_warnings

    def lost_here(result: object) -> None:  # the stop arrives, and is lost, as explaining ends
        monkeypatch.setattr(loop, "stop_pending", True)
        saved(result)

    monkeypatch.setattr(nas.finalize, "save_warnings", lost_here)
    out = tmp_path / "run"
    result = cli("search", "--dataset", "iris", "--space", tiny_space, "--trials", "1",
                 "--epochs", "1", "--no-explain", "--out", out, *LEAN)  # fmt: skip
    assert result.exit_code == 130, (result.stderr, result.exception)
    assert result.stderr.splitlines()[-1].startswith("interrupted while writing the report")
    assert (out / "best" / "model.pt").is_file() and not (out / "report.html").exists()


def test_ctrl_c_in_nas_explain_or_nas_report_says_nothing_was_stored(
    cli: Cli, finished_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nas.explaining
    import nas.reporting

    run = finished_run.run_dir
    monkeypatch.setattr(nas.explaining, "explain_run", _stop)
    monkeypatch.setattr(nas.reporting, "collect", _stop)
    explained = cli("explain", run)
    assert explained.exit_code == 130 and explained.stderr.splitlines() == [
        f"interrupted: nothing was stored ({run / 'explain'}/ is as it was); run the same "
        "command again to explain."
    ]
    reported = cli("report", run, "-o", tmp_path / "r.html")
    assert reported.exit_code == 130 and reported.stderr.splitlines() == [
        "interrupted: the report was not written (the run is unchanged); run the same command "
        "again to write it."
    ]
    assert not (tmp_path / "r.html").exists()


def test_the_live_view_counts_other_workers_trials_during_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With --jobs 2 the view had counted the other worker's trials only when the leader's own
    trial ended. The leader's trial now refreshes it after its epochs (at most every
    TICK_SECONDS), in the leader's process only, and a real search calls it once per epoch."""
    import io
    import os

    import optuna
    from rich.console import Console

    import nas.progress
    from nas.progress import SearchProgress

    study = optuna.create_study(direction="maximize")
    view = SearchProgress(study, "accuracy", 4, None, console=Console(file=io.StringIO()))
    task = view.progress.tasks[0]
    clock = [1000.0]
    monkeypatch.setattr(nas.progress.time, "monotonic", lambda: clock[0])
    view.last_tick = clock[0]
    attrs = {"family": "fnn", "params": 10, "flops": 20, "latency_ms": 0.1}
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs=attrs))  # another worker's
    view.tick()
    assert task.completed == 0  # within TICK_SECONDS of the last refresh: not read yet
    clock[0] += SearchProgress.TICK_SECONDS
    view.tick()
    assert task.completed == 1
    study.add_trial(optuna.trial.create_trial(value=0.6, user_attrs=attrs))
    clock[0] += 10
    monkeypatch.setattr(os, "getpid", lambda: view.pid + 1)  # a forked worker's copy
    view.tick()
    assert task.completed == 1
    monkeypatch.undo()

    calls: list[int] = []

    class Counting(SearchProgress):
        def tick(self) -> None:
            calls.append(1)

    monkeypatch.setattr(nas.progress, "SearchProgress", Counting)
    result = nas.search(dataset="iris", space="fnn", n_trials=1, epochs=3, seed=0, patience=10,
                        pruner="none", progress=True, out=str(tmp_path / "run"),
                        reports_dir=None)  # fmt: skip
    assert len(calls) == result.study.trials[0].user_attrs["epochs"] == 3


def test_a_timeout_view_moves_with_the_clock_between_the_trials_refreshes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within a long first epoch nothing refreshed the view, so a --timeout bar and its
    "s left" stood still (/tmp/oU). Rich draws it from its own thread; each drawing now reads
    the clock (not the study, which is read in the trials' thread only)."""
    import io

    import optuna
    from rich.console import Console

    import nas.progress
    from nas.deadline import Deadline
    from nas.progress import SearchProgress

    clock = [1000.0]
    monkeypatch.setattr(nas.progress.time, "monotonic", lambda: clock[0])
    study = optuna.create_study(direction="maximize")
    deadline = Deadline(100.0, clock=lambda: clock[0])
    read: list[int] = []
    monkeypatch.setattr(study, "get_trials", lambda **k: read.append(1) or [])
    view = SearchProgress(study, "accuracy", None, 100.0, console=Console(file=io.StringIO()),
                          deadline=deadline)  # fmt: skip
    task, reads = view.progress.tasks[0], len(read)
    clock[0] += 37.0  # no trial ended, no tick: Rich's refresh thread draws the view
    drawn = Console(file=io.StringIO(), width=120)
    drawn.print(view.live.get_renderable())
    assert task.completed == pytest.approx(37.0)
    assert "--timeout: 63 s left" in drawn.file.getvalue()
    assert len(read) == reads  # the study was not read from the drawing thread
    clock[0] += 500.0
    view.live.get_renderable()
    assert task.completed == pytest.approx(100.0)  # never past the --timeout
    # /tmp/oG6 F3: the bar counts from where the deadline does (the process's start), not
    # from the first trial: 13 s of start-up had read "9/30 s" beside "8 s left"
    started = Deadline(30.0, clock=lambda: clock[0], start=clock[0] - 13.0)
    late = SearchProgress(study, "accuracy", None, 30.0, console=Console(file=io.StringIO()),
                          deadline=started)  # fmt: skip
    clock[0] += 9.0
    drawn = Console(file=io.StringIO(), width=120)
    drawn.print(late.live.get_renderable())
    assert late.progress.tasks[0].completed == pytest.approx(22.0)
    assert "22/30 s" in drawn.file.getvalue() and "--timeout: 8 s left" in drawn.file.getvalue()


def test_the_live_view_and_the_top_table_name_a_macro_average_so() -> None:
    import optuna
    import pandas as pd

    from nas.commands.search import top_table
    from nas.progress import best_line

    row = {"number": 0, "state": "complete", "family": "fnn", "metric": 0.5, "params": 10,
           "flops": 1e6, "latency_ms": 0.1, "seconds": 1.0}  # fmt: skip
    board = pd.DataFrame([row])
    table = top_table(board, minimize=False, metric="f1")
    assert [c.header for c in table.columns][2] == "val macro f1"  # type: ignore[union-attr]
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    trial.set_user_attr("family", "fnn")
    study.tell(trial, 0.4963)
    assert best_line(study, "f1").startswith("best: val macro f1 0.4963 (trial 0, fnn")


def test_the_top_table_folds_its_numbers_on_a_narrow_terminal() -> None:
    """/tmp/oD4 F13: at COLUMNS=40 the table cut its numbers to "0…" and "10…"."""
    import io

    import pandas as pd
    from rich.console import Console

    from nas.commands.search import top_table

    row = {"number": 0, "state": "complete", "family": "cnn", "metric": 0.98893, "params": 103850,
           "flops": 5.22e6, "latency_ms": 0.5981, "seconds": 12.3}  # fmt: skip
    screen = Console(file=io.StringIO(), width=40)
    screen.print(top_table(pd.DataFrame([row]), minimize=False, metric="accuracy"))
    drawn = screen.file.getvalue()
    assert "…" not in drawn
    body = drawn.split("┩")[1].split("└")[0].strip().splitlines()
    columns = zip(*([cell.strip() for cell in line.split("│")[1:-1]] for line in body))
    folded = ["0", "cnn", "0.9889", "103,850", "5.220", "0.598", "12.3"]  # every digit there
    assert ["".join(parts) for parts in columns] == folded


def test_a_run_that_lost_its_winners_metrics_names_the_file(
    cli: Cli, finished_run, tmp_path: Path
) -> None:
    """best/metrics.json deleted, its spec and weights kept: `nas report` had said "4 trials
    ran and none completed, so there is no winner yet" beside "trials 2 complete", and `nas
    show` "no winner yet", both exit 0; both now name the lost file and the fix."""
    run = copy_finished_run(finished_run, tmp_path)
    (run / "best" / "metrics.json").unlink()
    for args in (("show", run), ("report", run, "-o", tmp_path / "r.html")):
        line = assert_one_line_error(cli(*args), "metrics.json does not exist though",
                                     "holds the winner's spec.json and model.pt",
                                     "lost or deleted", "run the same `nas search`")  # fmt: skip
        assert "no winner yet" not in line
    assert not (tmp_path / "r.html").exists()
    import nas

    with pytest.raises(nas.NasError, match="metrics.json does not exist though"):
        nas.load_run(run)  # it had asked "is this a nas run directory?"
    # a run with no best/ at all has no winner yet: said, not an error
    import shutil

    shutil.rmtree(run / "best")
    shown = cli("show", run)
    assert shown.exit_code == 0 and "no winner yet" in shown.stdout


def test_the_cost_line_says_the_threads_its_latency_was_timed_on() -> None:
    """`--threads 2` times latency on 2 threads; the help and the cost line had said batch 1
    at "1 thread" whatever the search ran with (/tmp/oG item 2)."""
    from nas.commands.search import cost_line

    cost = {"params": 1234, "flops": 2_000_000, "latency_ms": 0.0764, "memory_mb": 0.5}
    assert cost_line({**cost, "threads": 2}, "") == (
        "cost: 1,234 params, 2.000 MFLOPs, 0.076 ms (batch 1, 2 threads), 0.50 MiB"
    )
    assert "(batch 1, 1 thread)," in cost_line({**cost, "threads": 1}, "")
    assert "(batch 1)," in cost_line(cost, "")  # a run that did not record them


def test_a_run_without_a_winner_says_whether_its_search_runs_or_stopped(
    cli: Cli, finished_run, tmp_path: Path
) -> None:
    """A search stopped (SIGTERM) after trials completed, before the retrain: the report had
    said "No trial completed" and "N trials ran and none completed" beside its own leaderboard
    of complete trials; during a running search `nas show` and `nas predict` told the user to
    re-run the search, which the lock then refused (/tmp/oM items 1, 2)."""
    import shutil

    import nas
    from nas.reporting import collect
    from nas.run import search_running
    from nas.session import search_lock

    run = copy_finished_run(finished_run, tmp_path)
    for folder in ("best", "explain"):  # as a search stopped before its retrain leaves it
        shutil.rmtree(run / folder, ignore_errors=True)
    done = sum(t.state.name == "COMPLETE" for t in nas.load_run(run).study.trials)
    assert done >= 1 and not search_running(run)
    data = collect(run)
    assert data["alerts"][0]["text"] == (
        f"{done} trial(s) completed, but the search stopped before it retrained and tested the "
        "winner, so there is no winner yet; run the same `nas search` command again (same "
        "--out) to finish it.")  # fmt: skip
    assert f"and {done} completed, but the search stopped before it retrained" in data["verdict"]
    with search_lock(run):  # as a running search holds it (another open file: flock conflicts)
        assert search_running(run)
        data = collect(run)
        assert data["alerts"][0]["text"].startswith(
            f"A nas search is running in this folder ({done} trial(s) complete so far)"
        )
        assert data["verdict"].startswith("A search is running in this folder:")
        shown = cli("show", run)
        assert shown.exit_code == 0 and "a nas search is running in this folder now" in " ".join(
            shown.stdout.split()
        )
        predicted = cli("predict", run, "-o", tmp_path / "p.csv")
        assert_one_line_error(predicted, "a nas search is running in", "wait for it")
        explained = cli("explain", run)  # had said to run the search again (/tmp/oR item 5)
        assert_one_line_error(explained, "has no winner to explain yet: a nas search is running")
    assert not search_running(run)  # released; the check itself took no lasting lock
    from nas.reporting import write_report

    html = write_report(run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No trial completed" not in html  # the winner card had said so (/tmp/oR item 4)
    assert "No winner yet: the verdict above says why." in html
    assert "run the same `nas search` command" in cli("show", run).stdout


def test_explain_on_a_read_only_run_is_one_line_before_the_work(
    cli: Cli, finished_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nas explain RUN` on a read-only run directory worked for 11 s, then ended in a 56-line
    traceback (OSError: Read-only file system; /tmp/oR item 3). Tests run as root, whom
    chmod does not stop: the file system's answer is faked for the run's folders."""
    import os

    import explain.explanations

    run = copy_finished_run(finished_run, tmp_path)

    def explained(*args: object, **kwargs: object) -> None:
        raise AssertionError("explained before the run directory was checked")

    real = os.access
    monkeypatch.setattr(explain.explanations, "explain_model", explained)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK and Path(p)
                        in (run, run / "explain") else real(p, mode, **kw))  # fmt: skip
    where = f"Cannot store the explanations in {run / 'explain'}"
    assert_one_line_error(cli("explain", run), where, "is not writable", "cp -r RUN COPY")


def test_a_terminal_without_unicode_gets_ascii_not_a_traceback(
    finished_run: FinishedRun, tmp_path: Path
) -> None:
    """/tmp/oD4 F1: with PYTHONIOENCODING=ascii (or latin-1), the summary's "baseline − winner"
    ended `nas search` in a UnicodeEncodeError traceback, exit 1, and `nas show` of the run
    failed the same way. What the stream cannot encode is written as ASCII now."""
    import os

    from nas.cli import _as_ascii

    run = copy_finished_run(finished_run, tmp_path)
    root = Path(__file__).resolve().parents[2]
    code = "import sys; from nas.cli import main; sys.argv[0] = 'nas'; main()"
    for encoding in ("ascii", "latin-1"):
        env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", code, "show", str(run)], env=env,
                              capture_output=True, timeout=120)  # fmt: skip
        text = (done.stdout + done.stderr).decode(encoding)
        assert done.returncode == 0 and "Traceback" not in text, text
        assert "baseline - winner" in text and "winner (trial" in text
    assert "a − b … c → d ≤ e 日".encode("ascii", "nas-ascii") == b"a - b ... c -> d <= e ?"
    with pytest.raises(UnicodeDecodeError):
        _as_ascii(UnicodeDecodeError("ascii", b"\xff", 0, 1, "no"))


def test_each_stage_after_the_search_says_it_is_running(finished_run: FinishedRun) -> None:
    """/tmp/oD4 F2, F3: the retrain, the explanations and the report ran for ~27 s with
    nothing said after the search's bar, and a log file had nothing until the end."""
    said = [" ".join(line.split()) for line in finished_run.result.output.splitlines()]
    trials = [line for line in said if line.startswith("search: trial ")]
    assert [line.split(" ended")[0] for line in trials] == [
        "search: trial 1/3", "search: trial 2/3", "search: trial 3/3"]  # fmt: skip
    stages = ["retraining the winner on train + validation, then testing once ...",
              "explaining the winner on up to 200 test examples, with its quality checks ...",
              "writing the report ..."]  # fmt: skip
    at = [said.index(s) for s in stages]
    assert at == sorted(at) and at[0] > said.index(trials[-1])
    text = "".join(finished_run.result.stdout.split())  # the terminal's width folds the line
    assert f"{finished_run.run_dir}/explain/" in text[text.index("artifacts:") :]  # /tmp/oE4 N9


def test_nas_spaces_bounds_its_sample_and_its_interrupt_speaks_of_itself(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp/oD4 F8: `nas spaces cnn --sample 1e12` was taken and then ran silent for ever, and
    Ctrl-C said "completed trials are kept in the study" of a command that has none."""
    import nas.explore

    result = cli("spaces", "cnn", "--dataset", "digits", "--sample", "1001")
    assert result.exit_code == 2 and "1001" in result.output  # 10,000 took ~30 min (/tmp/oE4)

    def stopped(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(nas.explore, "sample_architectures", stopped)
    result = cli("spaces", "cnn", "--dataset", "digits", "--sample", "3")
    assert result.exit_code == 130
    assert (
        " ".join(result.output.split()) == "interrupted: `nas spaces` stopped before it finished."
    )


def test_a_closed_pipe_does_not_end_the_command() -> None:
    """/tmp/oD4 F10: `nas search ... 2>&1 | head -3` had ended the search at its next line, in
    a BrokenPipeError, before the winner was retrained; `nas show | head` exited 1. The console
    script's streams go quiet instead once their reader is gone."""
    import os

    from nas.cli import _Tolerant

    read, write = os.pipe()
    stream = _Tolerant(os.fdopen(write, "w", buffering=1))
    assert stream.write("one\n") == 4
    assert os.read(read, 4) == b"one\n"
    os.close(read)  # the reader goes (head -3 has its lines)
    for _ in range(3):
        assert stream.write("more\n") == 5  # no BrokenPipeError, now or later
    stream.flush()
    assert os.path.samestat(os.fstat(stream.fileno()), os.stat(os.devnull))
    assert stream.encoding and stream.isatty() is False  # the rest is the stream's own
    stream.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """/tmp/oD4 F10: `nas datasets > /dev/full` (a full disk) had ended in an OSError traceback,
    exit 1. Now one line on stderr says what was lost, the command runs on, and it exits 2."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from nas.cli import main; sys.argv[0] = 'nas'; "
             "main()", "datasets"],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: standard output could not be written (No space left on device): what nas "
        "printed there is lost; the command goes on with its work and its files, and exits 2."
    ]
