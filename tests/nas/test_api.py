"""The public Python API: argument checks before any side effect, resume, storages, reloads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

import nas
from nas.cost import Budget
from nas.errors import NasError, StorageError
from nas.study import open_storage, parse_objectives, redact, storage_url

pytestmark = pytest.mark.usefixtures("restore_global_state")


def small(out: Path, space: Path, **kwargs: Any) -> nas.SearchResult:
    """Two quick trials on iris, one thread, no pruning."""
    settings: dict[str, Any] = {"dataset": "iris", "n_trials": 2, "epochs": 2, "threads": 1,
                                "pruner": "none"}  # fmt: skip
    settings.update(kwargs)
    return nas.search(space=str(space), out=out, **settings)


# ---------------------------------------------------------------- checks before side effects


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_trials": 0}, r"n_trials must be an integer >= 1, got 0"),
        ({"epochs": True}, r"epochs must be an integer >= 1, got True"),
        ({"top": 1.5}, r"top must be an integer >= 1, got 1.5"),
        ({"timeout": 0}, r"timeout must be a number of seconds > 0"),
        ({"patience": 0}, r"patience must be an integer >= 1"),
        ({"trial_timeout": -1}, r"trial_timeout must be a number of seconds > 0"),
        ({"budget": {"max_params": 1000}}, r"budget must be a nas.Budget"),
        (
            {"metric": "f1", "objectives": "accuracy,params"},
            r"metric 'f1' and the objectives' first name 'accuracy' disagree.*f1,params",
        ),  # fmt: skip
        ({"objectives": "accuracy,bogus"}, r"Unknown objective 'bogus'; after the metric"),
        ({"objectives": "rmse"}, r"rmse"),
        ({"metric": "rmse"}, r"rmse"),
        ({"dataset": None}, r"exactly one of dataset"),
        ({"space": "nope"}, r"Unknown space 'nope'"),
        ({"sampler": "bogus"}, r"Unknown sampler 'bogus'; choose one of \['tpe'"),
        ({"pruner": "bogus"}, r"Unknown pruner 'bogus'"),
        ({"storage": "notaurl://x"}, r"Malformed --storage URL"),
        ({"storage": "sqlite:////nonexistent-dir-for-nas/x/study.db"}, r"Cannot open storage"),
    ],
)
def test_bad_arguments_fail_before_anything_is_recorded(
    tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    out = tmp_path / "run"
    settings: dict[str, Any] = {"dataset": "iris", "space": "fnn", "out": out, "threads": 1}
    settings.update(kwargs)
    with pytest.raises(NasError, match=match):
        nas.search(**settings)
    assert not (out / "run.json").exists()
    assert not (out / "leaderboard.csv").exists()
    assert not (out / "study.db").exists()


def test_parse_objectives_puts_the_metric_first() -> None:
    assert parse_objectives(None, "accuracy") == (["accuracy"], ["maximize"])
    assert parse_objectives("params", "accuracy") == (
        ["accuracy", "params"], ["maximize", "minimize"],
    )  # fmt: skip
    assert parse_objectives(["rmse", "latency"], "rmse") == (
        ["rmse", "latency"], ["minimize", "minimize"],
    )  # fmt: skip
    for bad, match in ((" , ", "empty"), ("accuracy,params,params", "repeats"),
                       ("params,bogus", "bogus"),
                       ("params,accuracy", r"must be the metric, got 'params' before 'accuracy'; "
                        r"give --objectives accuracy,params")):  # fmt: skip
        with pytest.raises(NasError, match=match):  # the order had read "Unknown 'accuracy'"
            parse_objectives(bad, "accuracy")


# ---------------------------------------------------------------- storages


def test_storage_urls_and_redaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage_url(None, Path("run")) == f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    # journal files become absolute, so that load_run works from any working directory
    assert storage_url("j/study.log", Path("run")) == str(tmp_path / "j" / "study.log")
    assert storage_url("journal:x.journal", Path("run")) == f"journal:{tmp_path / 'x.journal'}"
    assert storage_url("postgresql://u:p@h/db", Path("run")) == "postgresql://u:p@h/db"
    assert redact("postgresql://user:secret@host:5432/db") == "postgresql://user:***@host:5432/db"
    assert redact("sqlite:///a.db") == "sqlite:///a.db"
    # /tmp/oF5 F3: a password in the query string had been stored and printed in clear, and an
    # unencoded '@' in one had left its end showing
    assert redact("postgresql+psycopg2://nas@h:55433/nas?password=Pw-s3&sslmode=require") == (
        "postgresql+psycopg2://nas@h:55433/nas?password=***&sslmode=require"
    )
    assert redact("postgresql:///nas?host=h&user=nas&PASSWORD=Qs77") == (
        "postgresql:///nas?host=h&user=nas&PASSWORD=***"
    )
    assert redact("postgresql://nas:p@ss@h:5432/nas") == "postgresql://nas:***@h:5432/nas"
    assert redact("postgresql://nas@h/db") == "postgresql://nas@h/db"  # nothing to hide
    # /tmp/oF6 F3: a driver that misreads an unencoded '@' repeats the password's end in its
    # error ("could not translate host name "cret9@127.0.0.1""): scrubbed, and the fix said
    from nas.study import _raw_at_hint, scrub

    url = "postgresql+psycopg2://nas2:se@cret9@127.0.0.1:5432/nas"
    said = 'could not translate host name "cret9@127.0.0.1" to address'
    assert scrub(said, url) == 'could not translate host name "***@127.0.0.1" to address'
    assert "write it as %40" in _raw_at_hint(url)
    query = "postgresql://nas@h/nas?password=se@cret9&connect_timeout=5"
    assert "cret9" not in scrub('host name "cret9&connect_timeout=5"', query)
    assert _raw_at_hint("postgresql://nas:se%40cret9@h/nas") == ""  # encoded: nothing to say


@pytest.mark.parametrize("url", ["", "   ", "foo", "notaurl://x", "/tmp/x.db"])
def test_open_storage_rejects_malformed_urls(url: str) -> None:
    with pytest.raises(StorageError, match="sqlite:///PATH/study.db"):
        open_storage(url)


def test_open_storage_names_a_missing_driver() -> None:
    with pytest.raises(StorageError, match=r"postgresql://u:\*\*\*@"):
        open_storage("postgresql://u:secret@127.0.0.1:1/db")


def test_sqlite_studies_are_in_wal_mode(tmp_path: Path) -> None:
    """Optuna commits ~40 times a trial; WAL + synchronous=NORMAL keeps that cheap."""
    path = tmp_path / "study.db"
    storage = open_storage(f"sqlite:///{path}")
    study = optuna.create_study(storage=storage, study_name="s")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    with storage.engine.connect() as connection:
        sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert sync == 1  # NORMAL
    storage.engine.dispose()
    with sqlite3.connect(path) as plain:  # still a plain SQLite file for Optuna's tools
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert plain.execute("SELECT count(*) FROM trials").fetchone()[0] == 1
    in_memory = open_storage("sqlite://")  # no file: left as Optuna makes it, and usable
    optuna.create_study(storage=in_memory).add_trial(optuna.trial.create_trial(value=1.0))


def test_a_relative_journal_run_reloads_from_anywhere(
    tmp_path: Path, tiny_space: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    small(Path("run"), tiny_space, storage="study.log")
    assert (work / "study.log").is_file() and not (work / "run" / "study.db").exists()
    monkeypatch.chdir(tmp_path)
    # the storage run.json names is never opened on its own (issue #14): it is passed
    loaded = nas.load_run(work / "run", storage=str(work / "study.log"))
    assert len(loaded.study.trials) == 2 and loaded.model is not None


def test_load_run_with_a_hidden_password_asks_for_the_url(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(
        json.dumps({"storage": "postgresql://u:***@h/db", "study": "s"})
    )
    with pytest.raises(NasError, match="storage=<full URL>"):
        nas.load_run(tmp_path)


# ---------------------------------------------------------------- resume


def test_a_rerun_continues_the_study_to_its_total(tmp_path: Path, tiny_space: Path) -> None:
    out = tmp_path / "run"
    first = small(out, tiny_space)
    record = [(t.params, t.values) for t in first.study.trials]
    second = small(out, tiny_space, n_trials=3)
    assert [(t.params, t.values) for t in second.study.trials[:2]] == record
    assert len(second.study.trials) == 3
    assert json.loads((out / "run.json").read_text())["n_trials"] == 3
    assert len((out / "leaderboard.csv").read_text().splitlines()) == 1 + 3
    third = small(out, tiny_space, n_trials=3)  # already there: no trial, only the final step
    assert len(third.study.trials) == 3 and third.spec is not None
    assert json.loads((out / "summary.json").read_text())["counts"] == third.counts


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"seed": 1}, r"seed=0, not 1"),
        ({"dataset": "wine", "study": "iris-fnn"}, r"dataset='iris', not 'wine'"),
        ({"budget": Budget(max_params=1000)}, r"budget none, not params <= 1,000;"),
        ({"epochs": 3}, r"epochs=2, not 3"),
        ({"objectives": "accuracy,params"}, r"objectives=\['accuracy'\], not \['accuracy', "),
        ({"space": "OTHER"}, r"other space dimensions \(fnn.units differ\)"),
    ],
)
def test_a_rerun_with_other_settings_is_refused(
    tmp_path: Path, tiny_space: Path, make_space: Any, change: dict[str, Any], match: str
) -> None:
    change, out = dict(change), tmp_path / "run"
    small(out, tiny_space, n_trials=1)
    before = (out / "run.json").read_text()
    space = tiny_space
    if change.pop("space", None) == "OTHER":
        space = make_space(tiny_space.read_text().replace("[8, 16]", "[8, 64]"), "b.toml")
    with pytest.raises(NasError, match=match) as e:
        small(out, space, **change)
    assert "resume it with the same settings, or pass another --out / --study" in str(e.value)
    assert (out / "run.json").read_text() == before
    assert len(optuna.load_study(study_name="iris-fnn",
                                 storage=f"sqlite:///{out / 'study.db'}").trials) == 1  # fmt: skip


# ---------------------------------------------------------------- results


def test_search_result_and_show(tmp_path: Path, tiny_space: Path) -> None:
    out = tmp_path / "run"
    result = small(out, tiny_space, top=2)
    assert result.run_dir == out and result.spec is not None and result.model is not None
    assert result.counts == {"complete": 2}
    assert result.test_metrics == result.metrics["test"]
    assert [m["rank"] for m in result.pareto] == [1, 2]
    assert sorted(p.name for p in (out / "top").iterdir()) == ["1", "2"]
    assert not any(w.startswith("--top") for w in result.warnings)
    assert result.data is not None and result.data.name == "iris"
    more = small(tmp_path / "three", tiny_space, top=3)  # 3 asked, 2 trials: said, not silent
    assert "--top 3: 2 trials completed, all kept; top/1-2 hold them." in more.warnings
    shown = nas.show(out)
    assert shown["run"]["study"] == "iris-fnn" and shown["best"]["trial"] == result.metrics["trial"]
    loaded = nas.load_run(out)
    assert [m["trial"] for m in loaded.pareto] == [m["trial"] for m in result.pareto]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"data": [[1.0, 2.0]]}, "data is the path of a CSV/TSV or NPZ file, got list"),
        ({"objectives": 5}, "objectives are names"),
        ({"objectives": ["accuracy", 1]}, "objectives are names"),
        ({"explain_samples": -1}, "explain_samples is the number of test examples"),
        ({"explain_samples": "x"}, "a whole number >= 1; got 'x'"),
        # a killed heartbeat thread, inf an OverflowError after run.json (/tmp/oD4 F5, F6)
        ({"heartbeat": 10**12}, "heartbeat is the seconds .* at most 86,400"),
        ({"heartbeat": float("nan")}, "heartbeat is the seconds"),
        ({"timeout": float("inf")}, "timeout must be a finite number of seconds"),
        # a misspelt keyword had been Python's TypeError about SearchConfig.create() (/tmp/oM 4)
        ({"n_trial": 3}, "nas.search takes no keyword 'n_trial'; did you mean 'n_trials'?"),
        ({"outdir": "x"}, "takes no keyword 'outdir'; did you mean 'out'?"),
        ({"zzz": 1}, "takes no keyword 'zzz'; see help"),
        # NASClassifier takes max_params=..., nas.search a Budget (/tmp/oH5 F6)
        ({"max_params": 100}, r"budget=nas\.Budget\(max_params=\.\.\.\)"),
    ],
)
def test_search_arguments_are_checked_before_any_work(
    kwargs: dict, words: str, tmp_path: Path
) -> None:
    """Each had been a TypeError from pathlib / a loop, or (explain_samples) a warning after a
    whole search."""
    with pytest.raises(NasError, match=words):
        nas.search("iris", out=tmp_path / "run", **kwargs)
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_not_a_path_is_named() -> None:
    with pytest.raises(NasError, match="out is the folder of the run .*got int"):  # a TypeError
        nas.search("iris", out=5)  # from pathlib had named no argument (/tmp/oH5 F7)


def test_an_array_given_as_the_dataset_is_named_not_printed(tmp_path: Path) -> None:
    """nas.search(np.zeros((10, 3))) had said "Unknown dataset '[[0. 0. 0.] ...'"."""
    import numpy as np

    with pytest.raises(NasError, match="dataset is the name of a built-in dataset .* got "
                                       "ndarray; give your rows as a file"):  # fmt: skip
        nas.search(np.zeros((10, 3)), out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_explain_arguments_are_checked_before_anything_stored_changes(tmp_path: Path) -> None:
    """methods=[] had replaced a stored explanation by an empty one without a word."""
    stored = tmp_path / "explain" / "explanations.json"
    stored.parent.mkdir()
    stored.write_text('{"methods": {"integrated_gradients": {}}}')
    for kwargs, words in (
        ({"methods": []}, "methods names the explanation methods"),
        ({"methods": ""}, "methods names the explanation methods"),
        ({"methods": [3]}, "methods names the explanation methods"),
        ({"samples": "x"}, "samples is the number of test examples"),
        ({"samples": 0}, "samples is the number of test examples"),
        ({"samples": True}, "samples is the number of test examples"),
        ({"top": "x"}, "top is how many models of the Pareto front"),
        ({"top": True}, "top is how many models of the Pareto front"),
        ({"checks": "no"}, "checks is True or False"),
    ):
        with pytest.raises(NasError, match=words):
            nas.explain(tmp_path, **kwargs)
    assert stored.read_text() == '{"methods": {"integrated_gradients": {}}}'


def test_load_run_names_its_report_and_a_winner_folder_without_its_spec(
    finished_run: Any, tmp_path: Path
) -> None:
    """An outsider's copy of a run: ``report_path`` was None beside RUN/report.html, and a
    ``best/`` without spec.json loaded as a run with no winner, where load_model named the
    missing file."""
    from tests.conftest import copy_finished_run

    run = copy_finished_run(finished_run, tmp_path)
    (run / "report.html").write_text("<html></html>")
    assert nas.load_run(run).report_path == run / "report.html"
    (run / "report.html").unlink()
    assert nas.load_run(run).report_path is None
    (run / "best" / "spec.json").unlink()
    with pytest.raises(NasError, match="spec.json"):
        nas.load_run(run)


def test_show_names_the_spec_whose_block_kind_is_not_registered(
    finished_run: Any, tmp_path: Path
) -> None:
    """`nas show` had given the registry's bare "Unknown block kind 'dense.v1.v9'" where
    load_model names best/spec.json and the extension to load."""
    from tests.conftest import copy_finished_run

    run = copy_finished_run(finished_run, tmp_path)
    spec = run / "best" / "spec.json"
    spec.write_text(spec.read_text().replace('"dense.v1"', '"dense.v1.v9"', 1))
    with pytest.raises(NasError) as caught:
        nas.show(run)
    said = str(caught.value)
    assert said.startswith(f"{spec} names the block kind 'dense.v1.v9', which is not registered")
    assert "load the extension that registers it" in said


def test_a_search_gives_the_caller_its_process_back(tmp_path: Path, tiny_space: Path) -> None:
    """/tmp/oH5 F1-F2: from a notebook, a search had left torch on one thread, Optuna quiet, the
    oneDNN variable set and torch's random stream moved; under float64 defaults or inside
    ``torch.no_grad()`` every trial had failed, blamed on "the budget, the space or the data".
    Now it runs in float32 with gradients, and the caller's settings come back as they were."""
    import os

    import torch

    from nas.train.threads import KERNEL_CACHE_VARIABLE

    before = (torch.get_num_threads(), torch.get_default_dtype(), optuna.logging.get_verbosity())
    cache = os.environ.pop(KERNEL_CACHE_VARIABLE, None)
    try:
        torch.set_num_threads(2)
        torch.set_default_dtype(torch.float64)
        optuna.logging.set_verbosity(optuna.logging.INFO)
        torch.manual_seed(0)
        expected = torch.randn(3)
        torch.manual_seed(0)
        with torch.no_grad():
            result = small(tmp_path / "run", tiny_space, n_trials=1)
            assert not torch.is_grad_enabled()  # the caller's no_grad, back
        assert result.counts == {"complete": 1}
        probs = nas.load_predictor(tmp_path / "run").predict_proba(result.data.test.X.numpy())
        assert probs.shape == (len(result.data.test.X), 3)
        assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
        assert torch.get_num_threads() == 2 and torch.get_default_dtype() == torch.float64
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
        assert KERNEL_CACHE_VARIABLE not in os.environ
        assert torch.equal(torch.randn(3), expected)  # the caller's stream, where it was
    finally:
        torch.set_num_threads(before[0])
        torch.set_default_dtype(before[1])
        optuna.logging.set_verbosity(before[2])
        if cache is not None:
            os.environ[KERNEL_CACHE_VARIABLE] = cache


def test_a_result_shows_in_one_line(finished_run: Any) -> None:
    """/tmp/oH5 F9: ``result`` at the end of a notebook cell had printed 16 KB."""
    result = nas.load_run(finished_run.run_dir)
    shown = repr(result)
    assert len(shown) < 400 and "\n" not in shown
    test = result.metrics["test"]["accuracy"]
    assert shown.startswith(f"SearchResult(run_dir={str(finished_run.run_dir)!r}, trials: ")
    assert f"test accuracy={test:.4g}, winner='fnn: " in shown
