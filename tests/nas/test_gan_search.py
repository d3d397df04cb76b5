"""The GAN search end to end on digits: trials scored by FCD, budgets checked against the
generator before training, diverging trials failed and survived, artifacts that reload, and a
winner far better than noise."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch

import nas
from nas.cost import Budget
from nas.data import load_data
from nas.errors import NasError
from nas.gan.classifier import feature_classifier
from nas.gan.search import GanObjective, gan_objectives
from nas.leaderboard import status_of
from nas.trial import SearchSettings
from nas.worker import CATCH
from search_spaces import Space
from search_spaces.gan import GanModel, GanSpec, build_gan
from search_spaces.spaces import Choice, Fixed, default_config

pytestmark = pytest.mark.usefixtures("restore_global_state")
LEAN = ("--threads", "1")

#: The known-good starting point (a small DCGAN-like conditional GAN), every dimension fixed
#: but the seed: a trial trains in a few seconds on one CPU thread.
KNOWN_GOOD = """\
space = "gan"
[gan]
conditional = true
latent_dim = 32
label_dim = 16
g_families = "upconv"
g_stem_blocks = 1
g_units = 256
g_upsamples = 2
g_channels = 128
g_batch_norm = true
g_activation = "relu"
g_upconv_mode = "transposed"
d_families = "cnn"
d_blocks = 2
d_activation = "leaky_relu"
d_batch_norm = false
d_dropout = 0.0
d_spectral_norm = true
loss = "hinge"
lr_g = 1e-3
lr_d = 4e-4
beta1 = 0.5
beta2 = 0.999
critic_steps = 1
batch_size = 64
[cnn]
channels = { choices = [32, 64] }
kernel = 3
residual = false
separable = false
pool = { choices = ["none", "avg"] }
"""


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():  # noqa: ANN201 - TaskData
    return load_data(dataset="digits", seed=0)


def _settings(config: dict, **kw) -> SearchSettings:  # noqa: ANN003
    base = {"metric": "fcd", "objectives": ("fcd",), "epochs": 2, "latency_repeats": 1}
    return SearchSettings(space=Space("gan", config), **{**base, **kw})


def _known_good_config() -> dict:
    config = default_config()
    config.update({"gan.g_families": Fixed("upconv"), "gan.d_families": Fixed("cnn"),
                   "gan.loss": Fixed("hinge"), "gan.d_blocks": Fixed(2),
                   "cnn.channels": Fixed(16), "gan.g_units": Fixed(64),
                   "gan.g_channels": Fixed(32)})  # fmt: skip
    return config


def test_gan_objectives_are_fcd_first_then_generator_costs() -> None:
    assert gan_objectives(None, None) == ("fcd", ["fcd"], ["minimize"])
    assert gan_objectives("fcd,params", None)[1:] == (["fcd", "params"], ["minimize"] * 2)
    assert gan_objectives("params", None)[1] == ["fcd", "params"]
    with pytest.raises(NasError, match="not a GAN metric"):
        gan_objectives(None, "accuracy")
    with pytest.raises(NasError, match="first objective"):
        gan_objectives("accuracy,params", None)


def test_over_budget_trial_is_rejected_before_training(digits, monkeypatch) -> None:
    import nas.gan.search as gan_search

    def never(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("an over-budget GAN trial must not train")

    monkeypatch.setattr(gan_search, "train_gan", never)
    settings = _settings(_known_good_config(), budget=Budget(max_params=1000))
    objective = GanObjective(digits, settings, classifier=feature_classifier(digits, seed=0))
    study = optuna.create_study()
    study.optimize(objective, n_trials=1, catch=CATCH)
    (t,) = study.trials
    assert status_of(t) == "over_budget"
    assert t.user_attrs["reason"].startswith("over budget (generator): ")
    assert "params" in t.user_attrs["reason"]
    assert t.user_attrs["params"] > 1000 and t.user_attrs["d_params"] > 0
    assert "epochs" not in t.user_attrs


def test_diverging_trial_fails_and_the_search_continues(digits, monkeypatch) -> None:
    # A Wasserstein critic without spectral norm or gradient penalty at lr=1: the critic's
    # logits run away within the first epoch. The second trial uses sane learning rates.
    # How far they run in a handful of steps depends on the CPU's rounding (1e6 was crossed at
    # step 4-6 here and never on the CI machine), so the test lowers the divergence limit to
    # 1e3: the detection itself is tested in test_gan_train; this test is about the search
    # recording the failure and going on.
    import nas.gan.search as gan_search
    from nas.gan.health import GanChecks

    real_train = gan_search.train_gan
    monkeypatch.setattr(gan_search, "train_gan", lambda *a, **k: real_train(
        *a, **k, checks=GanChecks(max_abs_loss=1e3)))  # fmt: skip
    config = _known_good_config()
    config.update({"gan.lr_g": Choice((1.0, 1e-3)), "gan.lr_d": Choice((1.0, 4e-4)),
                   "gan.loss": Fixed("wgan_gp"), "gan.gp_weight": Fixed(0.0),
                   "gan.d_spectral_norm": Fixed(False)})  # fmt: skip
    settings = _settings(config, epochs=1)
    objective = GanObjective(digits, settings, classifier=feature_classifier(digits, seed=0))
    study = optuna.create_study()
    study.enqueue_trial({"gan.train.lr_g": 1.0, "gan.train.lr_d": 1.0})
    study.enqueue_trial({"gan.train.lr_g": 1e-3, "gan.train.lr_d": 4e-4})
    study.optimize(objective, n_trials=2, catch=CATCH)
    first, second = study.trials
    assert status_of(first) == "failed", first.user_attrs
    assert first.user_attrs["reason"].startswith("diverged: ")
    assert status_of(second) == "complete"
    assert second.value > 0 and second.user_attrs["curve"][0]["score"] == second.value


@pytest.mark.slow
def test_gan_search_end_to_end(tmp_path: Path, monkeypatch, cli, make_space) -> None:
    monkeypatch.chdir(tmp_path)
    space = make_space(KNOWN_GOOD, "gan.toml")
    args = ("search", "--dataset", "digits", "--space", space, "--trials", "2", "--epochs",
            "12", "--out", "run", "--pruner", "none", *LEAN)  # fmt: skip
    result = cli(*args)
    assert result.exit_code == 0, result.output + str(result.exception)
    assert "val fcd" in result.stdout and "noise_fcd" in result.stdout
    assert "recall (k-NN manifold)" in result.stdout and "macro" not in result.stdout
    run = tmp_path / "run"
    spec = json.loads((run / "best" / "spec.json").read_text())
    assert spec["type"] == "gan"
    model = build_gan(GanSpec.from_dict(spec))
    model.load_state_dict(torch.load(run / "best" / "model.pt", weights_only=True))
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    test = metrics["test"]
    for key in ("fcd", "precision", "recall", "cond_accuracy", "halves_fcd", "real_fcd",
                "noise_fcd"):  # fmt: skip
        assert isinstance(test[key], float), key
    assert metrics["classifier"]["test_accuracy"] > 0.9
    assert metrics["cost"]["params"] < sum(p.numel() for p in model.parameters())
    assert metrics["cost_discriminator"]["params"] > 0
    with np.load(run / "best" / "samples.npz") as z:
        assert z["generated"].shape == (10, 8, 1, 8, 8) == z["real"].shape
    assert (run / "scorer" / "classifier.pt").is_file()
    assert (run / "report.html").stat().st_size > 10_000
    # quality: far better than noise, and mostly the class it was asked for
    assert test["real_fcd"] < test["fcd"] <= 0.6 * test["noise_fcd"], test
    assert test["cond_accuracy"] >= 0.7, test
    # reload through the public API
    loaded = nas.load_model(run)
    assert isinstance(loaded, GanModel)
    assert isinstance(nas.load_run(run).spec, GanSpec)
    shown = cli("show", run)
    assert shown.exit_code == 0 and "GAN: test FCD" in shown.stdout
    refused = cli("predict", run)  # had failed with "z must have shape (N, 32), got (64, ...)"
    assert refused.exit_code == 2 and "generates examples rather than predicting" in refused.stderr
    assert "nas.load_model(RUN).sample(n)" in refused.stderr
    assert loaded.sample(3).shape == (3, 1, 8, 8)
    from nas.reporting import collect

    data = collect(run)
    assert data["gan"]["scores"]["test"]["fcd"] == test["fcd"]
    assert data["stages"][-1]["kind"] == "gen_out.v1"
    assert data["best"]["family"] == "gan" and "FCD" in data["verdict"]
    # the report's GAN section reads what this run wrote (SCHEMA.md's shape): every score,
    # reference and figure drawn; it had shown "–" and "none were computed" for all of them
    from explain.report._format import fmt_num
    from explain.report.decision_view import decision_view
    from explain.report.gan_section import gan as gan_section
    from explain.report.sections import Figures

    view = gan_section(data, Figures())
    assert view is not None
    assert view["scores"][0]["value"] == fmt_num(test["fcd"]) != "–"
    assert view["scores"][0]["ref"] == (f"floor {fmt_num(test['real_fcd'])} · noise "
                                        f"{fmt_num(test['noise_fcd'])}")  # fmt: skip
    shown = {row["name"]: row["value"] for row in view["scores"]}
    assert shown["classifier accuracy"] == fmt_num(metrics["classifier"]["test_accuracy"], 3)
    assert shown["conditional accuracy"] == fmt_num(test["cond_accuracy"], 3)
    assert view["curves"]["figure"] is not None
    assert len(data["gan"]["curves"]) == metrics["retrain"]["epochs"]
    decision = decision_view(data)
    assert decision["retrain"].startswith("Final model: the generator retrained on the training "
                                          "split")  # not on train + validation  # fmt: skip
    assert decision["verdict"] is None  # far better than noise: nothing to warn of
    if importlib.util.find_spec("explain.gan") is not None:  # written by `nas search` itself
        assert (run / "explain" / "gan.json").is_file()
        for name in ("grid", "traversals", "change", "latent", "discriminator"):
            assert view[name]["figure"] is not None, name
        assert "in the GAN section" in decision["explanations"]
        explained = cli("explain", run)
        assert explained.exit_code == 0 and "gan.json" in explained.stdout
    worse = {**data, "best": {**data["best"], "test": {**test, "fcd": 2 * test["noise_fcd"]}}}
    verdict = decision_view(worse)["verdict"]
    assert verdict["cls"] == "bad"
    assert "no closer to the real test data than uniform" in verdict["text"]


def test_spaces_samples_gan_architectures_with_the_generator_cost(cli) -> None:
    result = cli("spaces", "gan", "--dataset", "digits", "--sample", "2", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(rows) == 2 and all(r["family"] == "gan" for r in rows)
    assert all(r["spec"]["type"] == "gan" and r["params"] > 0 for r in rows)


def test_a_conditional_generators_cost_counts_its_label_embedding(digits) -> None:  # noqa: ANN001
    """What `nas export` ships of a conditional GAN is the generator and its label embedding
    (10 classes x label_dim); the budget left the embedding out."""
    from nas.cost import count_params
    from nas.gan.export import GeneratorInputs
    from nas.gan.search import generator_cost
    from search_spaces import SpaceContext
    from search_spaces.gan import build_gan

    config = _known_good_config()
    config["gan.conditional"] = Fixed(True)
    settings = _settings(config)
    study = optuna.create_study()
    spec = settings.space.sample(study.ask(), SpaceContext.of(digits))
    gan = build_gan(spec)
    assert gan.label_embed_g is not None
    embed = gan.spec.n_classes * gan.spec.label_dim
    assert gan.label_embed_g.weight.numel() == embed == 10 * gan.spec.label_dim
    shipped = count_params(GeneratorInputs(gan))  # the exported module, counted by torch
    cost = generator_cost(gan, latency=False)
    assert cost.params == shipped == count_params(gan.generator) + embed
    objective = GanObjective(digits, settings, classifier=feature_classifier(digits, seed=0))
    assert count_params(objective.budget_part(gan)) == shipped
