"""Quality checks on models whose right answer is known: linear models (exact attributions),
an explainer that ignores the model, random attributions, and small trained networks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from captum.attr import GradientShap, IntegratedGradients, Saliency
from scipy.stats import spearmanr
from torch import nn

from explain._checks import rowwise_spearman
from explain.quality import (
    agreement,
    cascade_layers,
    completeness,
    deletion_insertion,
    infidelity,
    randomisation_check,
    run_checks,
    sensitivity,
)
from explain.randomisation import reinitialise
from explain.types import Attribution, Check
from search_spaces import ArchSpec, BlockSpec, build_model
from tests.conftest import weighted_rho

D = 12  # features of the tabular toy problems
STATUSES = {"pass", "warn", "fail", "skipped"}


# ---------------------------------------------------------------- models and explainers


def linear_model(outputs: int = 2, seed: int = 0) -> nn.Module:
    """logits = W x + b with a few dominant weights, so the true ranking is clear."""
    torch.manual_seed(seed)
    lin = nn.Linear(D, outputs)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(outputs, D) * torch.linspace(0.1, 3.0, D))
        lin.bias.fill_(0.1)
    return lin.eval()


def inputs(n: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed))


def ig_fn(n_steps: int = 32) -> Callable[[nn.Module, torch.Tensor, torch.Tensor], np.ndarray]:
    """Integrated gradients from a zero baseline, as an ``explain_fn``."""

    def explain(model: nn.Module, X: torch.Tensor, t: torch.Tensor) -> np.ndarray:
        ig = IntegratedGradients(model)
        a = ig.attribute(X, baselines=torch.zeros_like(X), target=t, n_steps=n_steps)
        return a.detach().numpy()

    return explain


def edge_fn(model: nn.Module, X: torch.Tensor, t: torch.Tensor) -> np.ndarray:
    """An 'explainer' computed from the input alone: it cannot notice the weights."""
    x = np.asarray(X)
    return np.abs(np.diff(x, axis=-1, prepend=x[..., :1]))


def random_fn(model: nn.Module, X: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.randn(X.shape)


def exact_linear(model: nn.Linear, X: torch.Tensor, t: torch.Tensor) -> np.ndarray:
    """w_t * x: the exact attribution of a linear model from a zero baseline."""
    return (model.weight[t].detach() * X).numpy()


def attribution(method: str, values: Any, t: torch.Tensor, **kw: Any) -> Attribution:
    return Attribution(method, np.asarray(values, np.float32), t.numpy(), "zeros", **kw)


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine, two spinning threads run 10-40x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained_mlp() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """An MLP trained (seeded, < 1 s) on a task that depends on features 0, 1 and 2 only."""
    torch.manual_seed(0)
    X = torch.randn(1000, D, generator=torch.Generator().manual_seed(0))
    y = (2 * X[:, 0] - X[:, 1] + X[:, 2] > 0).long()
    model = nn.Sequential(
        nn.Linear(D, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = nn.functional.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    Xt = inputs(48, seed=2)
    with torch.no_grad():
        assert (model(X).argmax(1) == y).float().mean() > 0.95
        return model, Xt, model(Xt).argmax(1)


def json_plain(x: Any) -> bool:
    """Only JSON's own types, all the way down (no numpy scalars, no NaN)."""
    if x is None or type(x) in (str, bool, int):
        return True
    if type(x) is float:
        return bool(np.isfinite(x))
    if type(x) in (list, tuple):
        return all(json_plain(v) for v in x)
    if type(x) is dict:
        return all(type(k) is str and json_plain(v) for k, v in x.items())
    return False


def assert_json(checks: list[Check]) -> None:
    for c in checks:
        assert c.status in STATUSES, c
        d = c.to_dict()
        assert json_plain(d), d
        json.dumps(d, allow_nan=False)


# ---------------------------------------------------------------- randomisation


def test_randomisation_fails_for_an_explainer_that_ignores_the_weights(trained_mlp) -> None:
    model, X, t = trained_mlp
    c = randomisation_check(model, X, t, edge_fn, method="edges")
    assert c.status == "fail", c
    assert c.value == pytest.approx(1.0)
    assert c.extra["correlations"] == pytest.approx([1.0] * 3)
    assert_json([c])


def test_randomisation_passes_for_integrated_gradients_on_a_trained_model(trained_mlp) -> None:
    model, X, t = trained_mlp
    c = randomisation_check(model, X, t, ig_fn(), method="integrated_gradients")
    assert c.status == "pass", c
    assert c.value is not None and c.value < 0.5
    assert c.extra["layers"] == ["4", "2", "0"]  # top first
    assert c.extra["repeat_correlation"] == pytest.approx(1.0)  # IG is deterministic
    assert_json([c])


def test_randomisation_leaves_the_model_untouched(trained_mlp) -> None:
    model, X, t = trained_mlp
    before = [p.clone() for p in model.parameters()]
    randomisation_check(model, X[:8], t[:8], ig_fn(8))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_cascade_order_of_a_nas_model_is_head_then_stages_in_reverse() -> None:
    spec = ArchSpec(
        family="cnn", task="classification", modality="sequence", input_shape=(16, 1),
        output_size=3, head=BlockSpec("classify.v1", {}),
        blocks=(BlockSpec("conv1d.v1", {"channels": 4}), BlockSpec("conv1d.v1", {"channels": 4})),
    )  # fmt: skip
    model = build_model(spec)
    names = cascade_layers(model)
    stages = [n for n, m in model.features.named_children() if list(m.parameters())]
    assert names == ["head"] + [f"features.{n}" for n in reversed(stages)]
    assert len(stages) == 2  # the parameter-free adapters are left out


def test_reinitialise_is_seeded_and_changes_every_parameter() -> None:
    a, b = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), None
    a[1].weight.data.fill_(3.0)
    b = [p.clone() for p in a.parameters()]
    reinitialise(a, seed=7)
    after = [p.clone() for p in a.parameters()]
    assert not torch.equal(after[0], b[0]) and not torch.equal(after[2], b[2])
    reinitialise(a, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(after, a.parameters()))


# ---------------------------------------------------------------- completeness


def test_completeness_of_exact_and_scaled_attributions() -> None:
    model, X = linear_model(), inputs()
    t = torch.ones(len(X), dtype=torch.long)
    with torch.no_grad():
        f_x, f_0 = model(X)[:, 1].numpy(), model(torch.zeros_like(X))[:, 1].numpy()
    ig = ig_fn(16)(model, X, t)
    good = completeness(attribution("integrated_gradients", ig, t), f_x, f_0)
    assert good.status == "pass" and good.value < 1e-4, good
    bad = completeness(attribution("integrated_gradients", 2 * ig, t), f_x, f_0)
    assert bad.status == "fail" and bad.value == pytest.approx(1.0, abs=1e-3), bad
    assert_json([good, bad])


def test_completeness_uses_shap_base_values() -> None:
    model, X = linear_model(), inputs()
    t = torch.ones(len(X), dtype=torch.long)
    mean = X.mean(0)
    with torch.no_grad():  # exact SHAP of a linear model with independent features
        phi = (model.weight[1] * (X - mean)).numpy()
        f_x, base = model(X)[:, 1].numpy(), model(mean[None])[:, 1].expand(len(X)).numpy()
    c = completeness(attribution("shap_permutation", phi, t, base_values=base), f_x)
    assert c.status == "pass" and c.value < 1e-4, c
    none = completeness(attribution("shap_permutation", phi, t), f_x)
    assert none.status == "skipped"


def test_completeness_is_skipped_for_methods_without_the_property() -> None:
    t = torch.zeros(4, dtype=torch.long)
    c = completeness(attribution("saliency", np.ones((4, D)), t), np.ones(4), np.zeros(4))
    assert c.status == "skipped" and "saliency" in c.detail
    assert_json([c])


# ---------------------------------------------------------------- deletion / insertion


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_deletion_insertion_separate_true_from_reversed_order(task: str) -> None:
    model, X = linear_model(outputs=2 if task == "classification" else 1), inputs(128)
    t = torch.full((len(X),), 1 if task == "classification" else 0, dtype=torch.long)
    true = exact_linear(model, X, t)
    dele, ins = deletion_insertion(model, X, true, t, None, task=task, steps=10, method="true")
    assert (dele.status, ins.status) == ("pass", "pass"), (dele, ins)
    assert dele.value < dele.extra["random_auc"] and ins.value > ins.extra["random_auc"]
    assert len(dele.extra["curve"]) == len(dele.extra["fractions"]) == 11
    assert dele.extra["fractions"][0] == 0.0 and dele.extra["fractions"][-1] == 1.0
    rdel, rins = deletion_insertion(model, X, -true, t, None, task=task, steps=10)
    assert (rdel.status, rins.status) == ("fail", "fail"), (rdel, rins)
    assert_json([dele, ins, rdel, rins])


def test_deletion_says_its_gap_and_span_and_warns_when_the_probability_barely_moves() -> None:
    X = inputs(128)
    t = torch.ones(len(X), dtype=torch.long)
    for scale, small in ((1.0, False), (0.004, True)):
        model = linear_model(outputs=2)
        with torch.no_grad():
            model.weight.mul_(scale)  # a tiny scale: a classifier that barely responds
        dele, _ = deletion_insertion(model, X, exact_linear(model, X, t), t, None, steps=10)
        # the span by hand: how far p(class 1) moves from the inputs to the zero baseline
        with torch.no_grad():
            p_x = torch.softmax(model(X), 1)[:, 1]
            p_0 = torch.softmax(model(torch.zeros_like(X)), 1)[:, 1]
        span = float((p_x - p_0).abs().mean())
        assert dele.extra["span"] == pytest.approx(span, rel=1e-5)
        gap = dele.extra["gap"]
        assert f"below it by {abs(gap):.0%} of {span:.3g}" in dele.detail, dele.detail
        assert "a pass needs more than 10% below" in dele.detail
        assert ("barely responds" in dele.detail) is small, dele.detail
        assert (span < 0.05) is small
        # the right order, but a model that barely responds: a warning, never a pass
        assert dele.status == ("warn" if small else "pass"), dele


def test_a_magnitude_map_is_judged_by_how_far_the_output_moves_not_by_a_sign() -> None:
    # y = w . x: |gradient| = |w| on every row, the true order of importance but no sign,
    # while w . x rises for some rows and falls for others.
    model, X = linear_model(outputs=1), inputs(128)
    t = torch.zeros(len(X), dtype=torch.long)
    sal = Saliency(model).attribute(X, target=t, abs=True).detach().numpy()
    w = model.weight.detach().numpy()[0]
    np.testing.assert_allclose(sal, np.broadcast_to(np.abs(w), sal.shape), rtol=1e-6)
    assert 0.3 < np.mean(exact_linear(model, X, t).sum(1) > 0) < 0.7  # outputs of both signs
    attrs = {"saliency": attribution("saliency", sal, t, params={"abs": True})}
    checks = {c.name: c for c in run_checks(model, X, t, attrs, task="regression")}
    assert checks["infidelity"].status == "skipped", checks["infidelity"]
    assert "magnitude map" in checks["infidelity"].detail
    dele, ins = checks["deletion"], checks["insertion"]
    assert (dele.status, ins.status) == ("pass", "pass"), (dele, ins)
    assert dele.extra["magnitude"] and "distance" in dele.extra["output"]
    # removing every input moves w . x to the bias: the distance ends at mean |w . x|, and
    # starts at 0 (nothing removed); insertion ends at 0 (everything restored)
    out = X.numpy() @ w
    assert dele.extra["curve"][0] == ins.extra["curve"][-1] == 0.0
    assert dele.extra["curve"][-1] == pytest.approx(np.mean(np.abs(out)), rel=1e-5)
    # the same magnitudes in the reverse order of importance fail, on either task
    wrong = np.broadcast_to(1 / np.abs(w), sal.shape)  # the least important first
    rdel, rins = deletion_insertion(model, X, wrong, t, None, task="regression", magnitude=True)
    assert (rdel.status, rins.status) == ("fail", "fail"), (rdel, rins)
    # a signed method's checks are as before: exact contributions pass infidelity at scale 1
    attrs = {"exact": attribution("exact", exact_linear(model, X, t), t)}
    signed = {c.name: c for c in run_checks(model, X, t, attrs, task="regression")}
    assert signed["infidelity"].status == "pass"
    assert signed["infidelity"].extra["scale"] == pytest.approx(1.0, rel=1e-4)
    assert not signed["deletion"].extra["magnitude"]
    assert_json(list(checks.values()))


# ---------------------------------------------------------------- infidelity


def test_infidelity_of_exact_and_random_attributions() -> None:
    model, X = linear_model(), inputs(128)
    t = torch.ones(len(X), dtype=torch.long)
    exact = infidelity(model, X, exact_linear(model, X, t), t, method="exact")
    assert exact.status == "pass" and exact.value < 1e-6, exact
    assert exact.extra["reference"] > 0.1
    noise = np.random.default_rng(0).normal(size=X.shape)
    rand = infidelity(model, X, noise, t, method="random")
    assert rand.status != "pass", rand
    assert rand.value > 10 * exact.value + 0.1
    assert_json([exact, rand])


# ---------------------------------------------------------------- sensitivity


def test_sensitivity_smooth_explainer_beats_noisy_one() -> None:
    model, X = linear_model(), inputs(16)
    t = torch.ones(len(X), dtype=torch.long)
    smooth = sensitivity(model, X, ig_fn(8), t, method="integrated_gradients")
    noisy = sensitivity(model, X, random_fn, t, method="random")
    # Every call draws the same noise (seeded), so the noise explainer's value no longer
    # scores its own randomness; its noise floor does, and fails it (issue 12, item 1).
    assert smooth.extra["noise_floor"] < 1e-4 < 1 < noisy.extra["noise_floor"]
    assert smooth.status == "pass" and noisy.status == "fail", (smooth, noisy)
    assert_json([smooth, noisy])


# ---------------------------------------------------------------- agreement


def test_agreement_of_identical_and_anti_correlated_methods() -> None:
    t = torch.zeros(8, dtype=torch.long)
    g = np.arange(1, D + 1, dtype=float)
    rng = np.random.default_rng(0)
    a = g * rng.uniform(0.9, 1.1, (8, D))
    checks = agreement({
        "a": attribution("a", a, t),
        "same": attribution("same", a.copy(), t),
        "reversed": attribution("reversed", (D + 1 - g) * np.ones((8, D)), t),
    })  # fmt: skip
    by_pair = {c.method: c for c in checks}
    assert by_pair["a vs same"].value == pytest.approx(1.0)
    assert by_pair["a vs same"].status == "pass"
    assert by_pair["a vs reversed"].value == pytest.approx(-1.0)
    assert by_pair["a vs reversed"].status != "pass"
    assert_json(checks)


def test_methods_agreeing_on_the_evidence_are_not_told_apart_by_the_noise_order() -> None:
    """y = 3 x0 - 2 x1 with 18 noise features: two methods of one model put 90 % of the evidence
    on x0 and x1 and give the noise (half a percent each) independent chance orders. Plain
    Spearman read most such pairs as disagreeing (below the 0.5 bar); weighted by each
    feature's share, every one of 50 pairs agrees, while a method whose evidence is on x2 and
    x3 instead still fails."""
    t = torch.zeros(4, dtype=torch.long)
    plain, statuses = [], set()
    for seed in range(50):
        rng = np.random.default_rng(seed)
        first = np.r_[54.0, 36.0, rng.uniform(0.3, 0.7, 18)]
        second = np.r_[52.0, 38.0, rng.uniform(0.3, 0.7, 18)]
        elsewhere = np.r_[0.5, 0.6, 54.0, 36.0, rng.uniform(0.3, 0.7, 16)]
        plain.append(spearmanr(first, second).statistic)
        checks = agreement({
            "ig": attribution("ig", np.tile(first, (4, 1)), t),
            "shap": attribution("shap", np.tile(second, (4, 1)), t),
            "other": attribution("other", np.tile(elsewhere, (4, 1)), t),
        })  # fmt: skip
        by_pair = {c.method: c for c in checks}
        expected = weighted_rho(first, second)  # written out by hand in tests/conftest.py
        assert by_pair["ig vs shap"].value == pytest.approx(expected, abs=1e-6)
        statuses.add(by_pair["ig vs shap"].status)
        assert by_pair["ig vs other"].status == "fail" and by_pair["ig vs other"].value < 0.2
    assert statuses == {"pass"}
    assert np.mean(np.array(plain) < 0.5) > 0.7  # the false alarms plain rho raised
    assert "weighted by its share" in by_pair["ig vs shap"].detail


# ---------------------------------------------------------------- helpers and run_checks


def test_rowwise_spearman_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, (5, 3, 4)).astype(float), rng.normal(size=(5, 3, 4))  # with ties
    ours = rowwise_spearman(a, b)
    theirs = [spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(a, b)]
    assert ours == pytest.approx(theirs)


def test_run_checks_covers_every_method_and_skips_with_reasons() -> None:
    model, X = linear_model(), inputs(40)
    with torch.no_grad():
        t = model(X).argmax(1)
    attrs = {
        "integrated_gradients": attribution("integrated_gradients", ig_fn(16)(model, X, t), t),
        "saliency": attribution(
            "saliency", Saliency(model).attribute(X.requires_grad_(), target=t).numpy(), t
        ),
    }
    checks = run_checks(model, X, t, attrs, {"integrated_gradients": ig_fn(16)}, budget_samples=16)
    got = {(c.name, c.method): c for c in checks}
    names = ("completeness", "infidelity", "deletion", "insertion", "sensitivity", "randomisation")
    for name in names:
        assert got[(name, "integrated_gradients")].status == "pass", got[
            (name, "integrated_gradients")
        ]
    assert got[("completeness", "saliency")].status == "skipped"
    assert got[("randomisation", "saliency")].status == "skipped"
    assert "explain_fn" in got[("randomisation", "saliency")].detail
    assert ("agreement", "integrated_gradients vs saliency") in got
    assert got[("sensitivity", "integrated_gradients")].extra["n_examples"] == 16
    assert_json(checks)


# ---------------------------------------------------------------- timing


def mnist1d_like(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-1D-shaped data (40 steps, 1 channel): one of 10 smooth templates, shifted, + noise."""
    g = torch.Generator().manual_seed(seed)
    templates = torch.randn(10, 1, 40, generator=torch.Generator().manual_seed(123))
    templates = 2 * nn.functional.avg_pool1d(templates, 5, 1, 2)[:, 0]
    y = torch.randint(0, 10, (n,), generator=g)
    shift = torch.randint(-3, 4, (n,), generator=g).tolist()
    X = torch.stack([templates[c].roll(s) for c, s in zip(y.tolist(), shift)])
    return (X + 0.3 * torch.randn(n, 40, generator=g))[..., None], y


def test_run_checks_on_200_examples_of_a_small_cnn_is_quick() -> None:
    torch.manual_seed(0)
    spec = ArchSpec(
        family="cnn", task="classification", modality="sequence", input_shape=(40, 1),
        output_size=10, head=BlockSpec("classify.v1", {"hidden": 64}),
        blocks=(BlockSpec("conv1d.v1", {"channels": 32, "kernel": 5, "pool": "max"}),
                BlockSpec("conv1d.v1", {"channels": 48, "kernel": 5, "pool": "max"})),
    )  # fmt: skip
    model = build_model(spec)
    assert 30_000 < sum(p.numel() for p in model.parameters()) < 60_000
    X, y = mnist1d_like(1000, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for i in range(0, 1000, 50):  # one quick epoch: enough for a model worth explaining
        loss = nn.functional.cross_entropy(model(X[i : i + 50]), y[i : i + 50])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    Xe, _ = mnist1d_like(200, seed=1)
    with torch.no_grad():
        t = model(Xe).argmax(1)
    background = X[:32]

    def shap_fn(m: nn.Module, Xb: torch.Tensor, tb: torch.Tensor) -> np.ndarray:
        gs = GradientShap(m)  # expected gradients: a SHAP method, complete in expectation
        return gs.attribute(Xb, baselines=background, target=tb, n_samples=16).detach().numpy()

    with torch.no_grad():
        base_values = model(background).mean(0)[t].numpy()
    fns = {"integrated_gradients": ig_fn(32), "gradient_shap": shap_fn}
    attrs = {
        "integrated_gradients": attribution("integrated_gradients", ig_fn(32)(model, Xe, t), t),
        "gradient_shap": attribution("gradient_shap", shap_fn(model, Xe, t), t,
                                     base_values=base_values),
    }  # fmt: skip
    start = time.perf_counter()
    checks = run_checks(model, Xe, t, attrs, fns, baseline=torch.zeros(40, 1))
    seconds = time.perf_counter() - start
    print(f"\nrun_checks on 200 examples, 2 methods: {seconds:.2f} s")
    for c in checks:
        print(f"  {c.name:13s} {c.method:40s} {c.status:7s} value={c.value} "
              f"threshold={c.threshold} ({c.extra.get('seconds')} s)")  # fmt: skip
    assert len(checks) == 2 * 6 + 1
    assert not [c for c in checks if c.status == "skipped"], "every check applies here"
    assert sum(c.extra["seconds"] for c in checks if "seconds" in c.extra) <= seconds
    assert all(c.extra["n_examples"] <= 32 for c in checks if "n_examples" in c.extra)
    assert_json(checks)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, 32),  # no timing given: the fixed sample
        (1e-6, 32),  # fast: everything fits
        (0.05, 10),  # 0.05 s x (4 + 4 + 2 layers) re-runs = 0.5 s an example: 10 fit in 5 s
        (0.2, 8),  # 2 s an example: 2 would fit, the minimum is 8
    ],
)
def test_reruns_shrink_to_the_time_they_are_given(seconds: float | None, expected: int) -> None:
    """Known answer: the re-run checks of a 2,000-step sequence had taken 379 s; with the
    seconds each method took per example, the sample is cut to what fits (at least 8), and
    the checks say so."""

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    X = torch.randn(60, 40, 1)
    t = model(X).argmax(1)
    attrs = {"integrated_gradients": attribution("integrated_gradients", ig_fn(8)(model, X, t), t)}
    per = None if seconds is None else {"integrated_gradients": seconds}
    checks = run_checks(model, X, t, attrs, {"integrated_gradients": ig_fn(8)},
                        seconds_per_example=per, time_budget=5.0)  # fmt: skip
    rerun = [c for c in checks if c.name in ("sensitivity", "randomisation")]
    assert len(rerun) == 2 and all(c.extra["n_examples"] == expected for c in rerun)
    if expected < 32:
        assert len(cascade_layers(model)) == 2
        said = (f"re-run on {expected} of 32 examples, about {seconds * 10 * expected:.0f} s "
                f"on this machine: all 32 would take about {seconds * 10 * 32:.0f} s, over the "
                "5 s")  # fmt: skip
        assert all(said in c.detail and said in c.extra["rerun_limited"] for c in rerun)
        assert ("8 is the fewest they use" in rerun[0].detail) == (expected == 8)
    else:
        assert not any("rerun_limited" in c.extra for c in rerun)


def test_a_slow_method_shrinks_its_own_reruns_not_a_fast_ones() -> None:
    """Two identical searches had re-run every method on 30 and 28 examples, as the clock
    allowed SHAP's: the gradient methods' sensitivity and randomisation then differed too. The
    cheapest methods take their share of the time first; only the slow one is cut."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    X = torch.randn(60, 40, 1)
    t = model(X).argmax(1)
    a = attribution("integrated_gradients", ig_fn(8)(model, X, t), t)
    attrs, fns = {"fast": a, "slow": a}, {"fast": ig_fn(8), "slow": ig_fn(8)}
    per = {"fast": 0.001, "slow": 0.05}  # 10 re-runs an example: 0.32 s for all 32, then 0.5 s
    checks = run_checks(model, X, t, attrs, fns, seconds_per_example=per, time_budget=5.0)
    n = {(c.method, c.name): c.extra["n_examples"] for c in checks if "n_examples" in c.extra}
    assert n[("fast", "sensitivity")] == n[("fast", "randomisation")] == 32
    assert n[("slow", "sensitivity")] == n[("slow", "randomisation")] == int((5.0 - 0.32) / 0.5)
    slow = next(c for c in checks if (c.method, c.name) == ("slow", "sensitivity"))
    assert "over the 5 s left of the 5 s these re-runs are given" in slow.detail
    assert not any("rerun_limited" in c.extra for c in checks if c.method == "fast")


def test_fixed_rerun_sizes_are_used_as_given_and_said() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    X = torch.randn(60, 40, 1)
    t = model(X).argmax(1)
    attrs = {"integrated_gradients": attribution("integrated_gradients", ig_fn(8)(model, X, t), t)}
    checks = run_checks(model, X, t, attrs, {"integrated_gradients": ig_fn(8)},
                        seconds_per_example={"integrated_gradients": 10.0}, time_budget=5.0,
                        rerun_examples={"integrated_gradients": 12})  # fmt: skip
    rerun = [c for c in checks if c.name in ("sensitivity", "randomisation")]
    assert [c.extra["n_examples"] for c in rerun] == [12, 12]
    assert all(c.extra["rerun_limited"] == "re-run on 12 of 32 examples, as in the "
               "explanation this one makes again" for c in rerun)  # fmt: skip


def test_rerun_seconds_are_timed_on_the_reruns_not_taken_from_the_main_pass() -> None:
    """/tmp/oC4 F1: SHAP's main pass (every output) had given 0.1 s an example, so 32
    examples' re-runs were estimated at 197 s on a busy machine and cut to 8, where all 32
    took 3.5 s: the checks' values then followed the machine's load. A method whose main-pass
    figure could cut its sample is timed on RERUN_MIN examples; a cheap one is not timed."""
    import numpy as np

    from explain.explanations import _rerun_seconds
    from explain.quality import RERUN_MIN

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    X = torch.randn(60, 40, 1)
    t = model(X).argmax(1)
    calls: list[int] = []

    def counted(model: nn.Module, X: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        calls.append(len(X))
        torch.rand(5)  # draws: the probe must not move what the checks draw next
        np.random.rand(5)
        return ig_fn(8)(model, X, targets)

    fns = {"slow_main": counted, "cheap": counted}
    np.random.seed(3)
    torch.manual_seed(3)
    got = _rerun_seconds(model, X, t, fns, {"slow_main": 1.0, "cheap": 1e-6})
    assert calls == [RERUN_MIN]  # the cheap one is not timed: nothing of it could be cut
    assert got["cheap"] == 1e-6 and 0 < got["slow_main"] < 0.05  # an 8-row IG: milliseconds
    after = (np.random.rand(), torch.rand(1).item())
    np.random.seed(3)
    torch.manual_seed(3)
    assert after == (np.random.rand(), torch.rand(1).item())
    # with the timed figure, the checks keep all 32 examples within 5 s
    attrs = {"slow_main": attribution("integrated_gradients", ig_fn(8)(model, X, t), t)}
    timed = {"slow_main": got["slow_main"]}
    checks = run_checks(model, X, t, attrs, {"slow_main": ig_fn(8)}, seconds_per_example=timed,
                        time_budget=5.0)  # fmt: skip
    assert {c.extra["n_examples"] for c in checks if "n_examples" in c.extra} == {32}
