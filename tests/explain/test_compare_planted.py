"""Explanations compared across models (explain/compare.py), on a planted shortcut: a dataset
where one shortcut feature and three true features both predict the label, and linear models
built to use one or the other. Their attributions are known in closed form, so the agreement
the comparison reports is checked against ranks computed here from the weights alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from explain.compare import (
    answer,
    common_method,
    compare,
    family_agreement,
    question_pair,
    rank_agreement,
    reading,
)
from explain.errors import ExplainError
from explain.explanations import explain_model
from tests.conftest import weighted_rho

N_FEATURES, SHORTCUT = 6, 5  # x0..x2 true, x3, x4 noise, x5 the shortcut
NAMES = ["true_a", "true_b", "true_c", "noise_a", "noise_b", "shortcut"]


@dataclass
class Split:
    X: torch.Tensor
    y: torch.Tensor


@dataclass
class Planted:
    """What explain_model needs of a dataset (explain.types.ExplainData)."""

    train: Split
    test: Split
    task: str = "classification"
    modality: str = "tabular"
    input_shape: tuple[int, ...] = (N_FEATURES,)
    output_size: int = 2
    feature_names: tuple[str, ...] = tuple(NAMES)
    class_names: tuple[str, ...] = ("no", "yes")


def planted_split(n: int, seed: int) -> Split:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, N_FEATURES, generator=g)
    y = (X[:, 0] * 3 + X[:, 1] * 2 + X[:, 2] > 0).long()
    # the shortcut: the label itself, slightly blurred, so it predicts the label just as well
    X[:, SHORTCUT] = (2 * y - 1).float() + 0.3 * torch.randn(n, generator=g)
    return Split(X, y)


@pytest.fixture(scope="module")
def data() -> Planted:
    return Planted(train=planted_split(300, 0), test=planted_split(120, 1))


def linear(weights: list[float]) -> nn.Module:
    """Logits (-z/2, z/2) with z = w . x: with a zero baseline, integrated gradients of either
    class are exactly +-w_j x_j / 2, so |attribution| = |w_j x_j| / 2."""
    layer = nn.Linear(N_FEATURES, 2, bias=False)
    w = torch.tensor(weights, dtype=torch.float32)
    with torch.no_grad():
        layer.weight.copy_(torch.stack([-w / 2, w / 2]))
    return nn.Sequential(layer)


TRUE = [3.0, 2.0, 1.0, 0.0, 0.0, 0.0]
TRUE_2 = [3.3, 2.1, 0.9, 0.0, 0.0, 0.0]  # other weights, the same features
CUT = [0.0, 0.0, 0.0, 0.0, 0.0, 4.0]


def explained(model: nn.Module, data: Planted):
    return explain_model(model, data, samples=80, methods=["integrated_gradients"], checks=False)


def expected_map(weights: list[float], X: np.ndarray) -> np.ndarray:
    """The global map in closed form: mean over examples of |w_j x_j| / 2."""
    return np.abs(np.asarray(weights)) * np.abs(X).mean(axis=0) / 2


def test_both_models_predict_the_label(data: Planted) -> None:
    for w in (TRUE, CUT):
        with torch.no_grad():
            pred = linear(w)(data.test.X).argmax(1)
        assert (pred == data.test.y).float().mean().item() > 0.9


def test_shortcut_and_true_features_rank_differently(data: Planted) -> None:
    exps = [explained(linear(w), data) for w in (TRUE, TRUE_2, CUT)]
    records = [{"rank": 1, "family": "true", "params": 12}, {"rank": 2, "family": "true",
               "params": 12}, {"rank": 3, "family": "shortcut", "params": 6}]  # fmt: skip
    c = compare(exps, records)
    assert c["method"] == "integrated_gradients" and c["unit"] == "feature"
    X = exps[0].X
    maps = [expected_map(w, X) for w in (TRUE, TRUE_2, CUT)]
    for model, want in zip(c["models"], maps, strict=True):
        np.testing.assert_allclose(model["global"], want, rtol=1e-3, atol=1e-6)
    g = np.array(c["agreement"]["global"], dtype=float)
    for i in range(3):
        for j in range(3):  # the ranks of the closed-form maps, weighted by hand
            want = 1.0 if i == j else weighted_rho(maps[i], maps[j])
            assert g[i, j] == pytest.approx(want, abs=1e-4)
    # each model's top feature is the one it uses
    assert int(np.argmax(c["models"][0]["global"])) == 0
    assert int(np.argmax(c["models"][2]["global"])) == SHORTCUT
    # the same evidence agrees, the shortcut does not, globally and example by example
    loc = np.array(c["agreement"]["local"], dtype=float)
    assert g[0, 1] > 0.8 and loc[0, 1] > 0.8
    assert g[0, 2] < 0.3 and g[1, 2] < 0.3
    assert loc[0, 2] < 0.3 and loc[1, 2] < 0.3
    # the families' means: "true" with itself is its one pair, "true" vs "shortcut" two pairs
    fam = c["families"]
    assert fam["names"] == ["true", "shortcut"] and fam["pairs"] == [[1, 2], [2, 0]]
    assert fam["global"][0][0] == pytest.approx(g[0, 1], abs=1e-6)
    assert fam["global"][0][1] == pytest.approx((g[0, 2] + g[1, 2]) / 2, abs=1e-6)
    assert np.isnan(fam["global"][1][1])
    said = answer(c)
    assert said is not None and (said["small"], said["other"]) == (2, 0)
    assert said["rho"] == pytest.approx(g[2, 0]) and "different evidence" in said["sentence"]


def test_identical_models_agree_exactly(data: Planted) -> None:
    exps = [explained(linear(TRUE), data), explained(linear(TRUE), data)]
    c = compare(exps, [{"rank": 1, "family": "fnn"}, {"rank": 2, "family": "fnn"}])
    assert c["agreement"]["global"] == [[1.0, 1.0], [1.0, 1.0]]
    assert c["agreement"]["local"][0][1] == pytest.approx(1.0, abs=1e-9)


def test_rank_agreement_known_values() -> None:
    assert rank_agreement([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_agreement([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # one swap among four: weights .1 + .2, .2 + .1, .3 + .3, .4 + .4; weighted mean rank 2.95
    # for both; sum w dx dy = 1.995, sum w dx^2 = sum w dy^2 = 2.295 (plain rho: 0.8)
    assert rank_agreement([1, 2, 3, 4], [2, 1, 3, 4]) == pytest.approx(1.995 / 2.295)
    assert spearmanr([1, 2, 3, 4], [2, 1, 3, 4]).statistic == pytest.approx(0.8)
    assert np.isnan(rank_agreement([0, 0, 0], [1, 2, 3]))  # a constant map ranks nothing
    with pytest.raises(ExplainError, match="3 and 2 units"):
        rank_agreement([1, 2, 3], [1, 2])


def test_family_means_skip_undefined_pairs() -> None:
    m = np.array([[1.0, 0.5, np.nan], [0.5, 1.0, 0.1], [np.nan, 0.1, 1.0]])
    fam = family_agreement(["a", "a", "b"], m)
    assert fam["pairs"].tolist() == [[1, 1], [1, 0]]
    assert fam["values"][0, 0] == pytest.approx(0.5) and fam["values"][0, 1] == pytest.approx(0.1)


def test_question_pair() -> None:
    assert question_pair([100, 10, 50]) == (1, 0)  # the smallest against the winner
    assert question_pair([10, 100, 50]) == (0, 1)  # the winner is smallest: against the largest
    assert question_pair([10, 10]) == (1, 0)  # a tie: the lower-ranked one
    assert question_pair([None, 5]) == (1, 0)  # an unknown size is never the smallest
    assert question_pair([7]) is None


def test_models_explained_on_other_examples_are_refused(data: Planted) -> None:
    a = explained(linear(TRUE), data)
    b = explain_model(linear(TRUE), data, samples=40, methods=["integrated_gradients"],
                      checks=False)  # fmt: skip
    with pytest.raises(ExplainError, match="other examples"):
        compare([a, b], [{"rank": 1}, {"rank": 2}])
    assert common_method([a, b]) == "integrated_gradients"


def test_the_same_evidence_agrees_whatever_order_the_ignored_units_fall_in() -> None:
    """Three fnn maps of y = 3 x0 - 2 x1 with six noise features (an outside tester's run):
    x0 and x1 carry 91-99 % of each map, the noise features ~2 % each in a chance order. Plain
    Spearman read them as 'different evidence' (0.33) and 'part of the evidence' (0.48)."""
    maps = [  # its comparison.json's global maps
        np.array([0.628635, 0.470472, 0.016185, 0.021886, 0.017384, 0.016105, 0.020595, 0.016726]),
        np.array([0.607006, 0.457111, 0.001504, 0.001055, 0.001752, 0.003065, 0.002073, 0.002085]),
        np.array([0.54523, 0.415821, 0.014312, 0.014697, 0.013979, 0.016902, 0.016599, 0.019226]),
    ]
    assert spearmanr(maps[0], maps[1]).statistic == pytest.approx(0.333, abs=1e-3)
    assert spearmanr(maps[0], maps[2]).statistic == pytest.approx(0.476, abs=1e-3)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rho = rank_agreement(maps[i], maps[j])
        assert rho == pytest.approx(weighted_rho(maps[i], maps[j]), abs=1e-9)
        assert rho > 0.75 and reading(rho) == "it looks at mostly the same evidence"
    # a model that leans on a feature the others ignore is a real disagreement
    other = np.array([0.02, 0.03, 0.9, 0.01, 0.02, 0.01, 0.02, 0.01])
    assert all(rank_agreement(m, other) < 0.4 for m in maps)
