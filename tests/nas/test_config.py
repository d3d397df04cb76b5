"""SearchConfig: the one record of a search (run.json), schema-versioned; runs written before it
had a version (committed fixtures of real earlier runs) still load, show, explain and report."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from nas import run as rundir
from nas.config import RESUME_FIELDS, SCHEMA_VERSION, SearchConfig
from nas.cost import Budget
from nas.errors import NasError
from nas.trial import SearchSettings
from nas.worker import settings_from_record
from search_spaces import ArchSpec, GanSpec
from search_spaces.rebuild import build_spec

FIXTURES = Path(__file__).parent / "fixtures"
V1_DIGITS = FIXTURES / "run_v1_digits"  # nas search --dataset digits --space auto (before v2)
V1_GAN = FIXTURES / "run_v1_gan"  # nas search --dataset digits --space gan (before v2)
NEW_KEYS = {"schema_version", "kind", "warm_start", "extras", "data_fingerprint",
            "min_faithfulness", "extensions", "extension_digests"}  # fmt: skip


def v1(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())


@pytest.mark.parametrize(("folder", "kind"), [(V1_DIGITS, "classifier"), (V1_GAN, "gan")])
def test_a_version_1_run_json_loads_with_its_kind_and_every_value(folder: Path, kind: str) -> None:
    old = v1(folder)
    assert "schema_version" not in old and "kind" not in old  # really the old format
    config = SearchConfig.from_dict(old)
    assert config.kind == kind and config.schema_version == SCHEMA_VERSION
    assert config.space_name == old["space_name"] and config.study == old["study"]
    assert config.objectives == tuple(old["objectives"]) and config.budget == Budget.from_dict(
        old["budget"])  # fmt: skip
    new = config.to_dict()
    moved = {k for k in old if k not in new}  # kept by the old version beside the known keys
    assert moved == ({"scorer"} if kind == "gan" else set())
    same = [k for k in old if k in new and k != "space"]
    assert {k: new[k] for k in same} == {k: old[k] for k in same}
    # the space keeps every recorded dimension; those added since (the CNN's net-wide growth
    # and pooling period, and the images' augment, of issue 11) come in at their defaults
    old_dims, new_dims = old["space"]["dims"], new["space"]["dims"]
    assert {k: new_dims[k] for k in old_dims} == old_dims
    added = set(new_dims) - set(old_dims)
    assert added <= {"cnn.growth", "cnn.pool_every", "train.augment"}
    assert {k: new["space"][k] for k in ("space", "source")} == {
        k: old["space"][k] for k in ("space", "source")
    }
    assert set(new) - set(old) == NEW_KEYS
    if kind == "gan":  # a GAN worker still finds the leader's scorer
        assert config.extras == {"scorer": old["scorer"]}
    assert SearchConfig.from_dict(new) == config  # the new format round-trips


@pytest.mark.parametrize(("folder", "cls"), [(V1_DIGITS, ArchSpec), (V1_GAN, GanSpec)])
def test_a_version_1_spec_json_rebuilds(folder: Path, cls: type) -> None:
    spec = rundir.load_spec(folder)
    assert isinstance(spec, cls)
    model = build_spec(spec)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_settings_and_data_come_from_the_record() -> None:
    config = SearchConfig.from_dict(v1(V1_DIGITS))
    settings = config.settings()
    assert isinstance(settings, SearchSettings)
    assert (settings.metric, settings.objectives, settings.epochs, settings.seed) == (
        "accuracy", ("accuracy",), config.epochs, 0)  # fmt: skip
    recorded = v1(V1_DIGITS)["space"]["dims"]
    assert {k: settings.space.to_dict()["dims"][k] for k in recorded} == recorded
    data, from_worker = settings_from_record(v1(V1_DIGITS))
    assert from_worker == settings
    assert data.name == "digits" and data.sizes == config.data_info["sizes"]


def test_create_checks_its_arguments_and_names_the_study() -> None:
    config = SearchConfig.create("iris", space="fnn", objectives="accuracy, params")
    assert (config.study, config.kind, config.n_trials) == ("iris-fnn", "classifier", 20)
    assert config.objectives == ("accuracy", "params")
    assert SearchConfig.create("digits", space="gan").kind == "gan"
    for bad in ({"n_trials": 0}, {"epochs": 1.5}, {"top": True}, {"jobs": -1}):
        with pytest.raises(NasError, match="must be an integer >= 1"):
            SearchConfig.create("iris", **bad)
    for bad in ({"timeout": 0}, {"timeout": "60"}, {"trial_timeout": -1},
                {"trial_timeout": 0}, {"trial_timeout": "abc"}):  # fmt: skip
        with pytest.raises(NasError, match=r"timeout must be a number of seconds > 0"):
            SearchConfig.create("iris", **bad)
    for bad in ({"timeout": float("inf")}, {"trial_timeout": float("inf")},
                {"trial_timeout": 1e12}, {"timeout": float("nan")}):  # fmt: skip
        with pytest.raises(NasError, match=r"timeout must be a .*seconds"):  # /tmp/oD4 F5
            SearchConfig.create("iris", **bad)
    assert SearchConfig.create("iris", timeout=365 * 24 * 3600.0).timeout == 31_536_000
    for patience in (0, -1, 2.5, True):  # had failed every trial without a schedule, mid-search
        with pytest.raises(NasError, match="patience must be an integer >= 1"):
            SearchConfig.create("iris", patience=patience)
    assert SearchConfig.create("iris", patience=None).patience is None
    for budget in ({"max_params": 1000}, 1000):  # had been an AttributeError after the data
        with pytest.raises(NasError, match=r"budget must be a nas.Budget \(e.g. nas.Budget\("):
            SearchConfig.create("iris", budget=budget)  # type: ignore[arg-type]
    with pytest.raises(NasError, match="Unknown search kind 'clasifier'.*classifier"):
        SearchConfig.create("iris", kind="clasifier")


def test_resume_compares_typed_fields_and_says_which_differs() -> None:
    base = SearchConfig.from_dict(v1(V1_DIGITS))
    assert base.resume_conflict(base) is None
    assert base.resume_conflict(replace(base, n_trials=99, timeout=5.0, jobs=2)) is None
    assert base.resume_conflict(replace(base, seed=1)) == "seed=0, not 1"
    # another dataset is named as such, not by the study name derived from it
    other = replace(base, dataset="iris", study="iris-auto")
    assert base.resume_conflict(other) == "dataset='digits', not 'iris'"
    assert base.resume_conflict(replace(base, drop=("x",))) == "drop=[], not ['x']"
    smaller = replace(base, budget=Budget(max_params=1000))
    assert base.resume_conflict(smaller) == "budget none, not params <= 1,000"  # /tmp/oD4 F15
    both = replace(base, budget=Budget(max_params=5000, max_latency_ms=2.5))
    assert both.resume_conflict(smaller) == (
        "budget params <= 5,000, latency_ms <= 2.5, not params <= 1,000"
    )
    other_dims = dict(base.space.config)
    other_dims["cnn.kernel"] = other_dims["cnn.n_blocks"]
    changed = replace(base, space=replace(base.space, config=other_dims))
    assert base.resume_conflict(changed) == "other space dimensions (cnn.kernel differ)"
    assert "kind" in RESUME_FIELDS and "data" in RESUME_FIELDS


def test_a_newer_or_damaged_record_is_one_clear_error() -> None:
    newer = {**v1(V1_DIGITS), "schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(NasError, match="newer than this nas reads.*upgrade nas"):
        SearchConfig.from_dict(newer)
    damaged = {k: v for k, v in v1(V1_DIGITS).items() if k != "space"}
    with pytest.raises(NasError, match="run.json is incomplete or damaged"):
        SearchConfig.from_dict(damaged)
    with pytest.raises(NasError, match="JSON object"):
        SearchConfig.from_dict([1, 2])  # type: ignore[arg-type]


def test_a_run_written_before_the_config_had_a_version_opens_everywhere(
    finished_run, tmp_path: Path, cli
) -> None:
    """A real run whose run.json is rewritten in the version-1 format (no schema_version, no
    kind): nas show, nas report and nas explain read it as before."""
    run = tmp_path / "old-run"
    shutil.copytree(finished_run.run_dir, run)
    record = json.loads((run / "run.json").read_text())
    old = {k: v for k, v in record.items() if k not in NEW_KEYS}
    (run / "run.json").write_text(json.dumps(old, indent=2))
    shown = cli("show", run)
    assert shown.exit_code == 0, shown.output
    assert finished_run.study in shown.stdout and "winner (trial" in shown.stdout
    reported = cli("report", run, "-o", tmp_path / "old.html")
    assert reported.exit_code == 0, reported.output
    assert (tmp_path / "old.html").stat().st_size > 100_000
    explained = cli("explain", run, "--samples", "4", "--methods", "integrated_gradients")
    assert explained.exit_code == 0, explained.output
    assert (run / "explain" / "explanations.json").is_file()
    assert json.loads((run / "run.json").read_text()) == old  # reading never rewrites it


@pytest.mark.usefixtures("restore_global_state")
def test_a_recorded_config_runs_the_same_search_again(finished_run, tmp_path: Path) -> None:
    import dataclasses

    import nas

    config = SearchConfig.read(finished_run.run_dir)
    config = dataclasses.replace(config, command=f"nas search --out {finished_run.run_dir}")
    again = nas.search(config, out=tmp_path / "again", reports_dir=None)
    first = optuna_trials(finished_run.run_dir)
    assert [t.params for t in again.study.trials] == [t.params for t in first]
    new = SearchConfig.read(tmp_path / "again")
    assert new.resume_conflict(config) is None and new.storage != config.storage
    # the first run's command (its --out) is not recorded as what started this one
    assert new.command and str(finished_run.run_dir) not in new.command
    with pytest.raises(NasError, match="not both"):
        nas.search(config, n_trials=2)


def optuna_trials(run_dir: Path) -> list:
    import optuna

    study, url = SearchConfig.study_location(run_dir)
    return optuna.load_study(study_name=study, storage=url).trials
