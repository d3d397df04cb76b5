"""explain_gan: the grid, traversals and discriminator attributions have the documented shapes,
are JSON-able and deterministic, rank a known latent direction first, and IG is complete."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pytest
import torch
from torch import nn

from explain.errors import ExplainError
from explain.gan import explain_gan
from search_spaces.gan import GanModel, build_gan
from search_spaces.spaces import SpaceContext, get_space, starting_points


@dataclass
class Split:
    X: torch.Tensor
    y: torch.Tensor


@dataclass
class Data:
    modality: str
    input_shape: tuple[int, ...]
    train: Split
    class_names: list[str] = field(default_factory=list)


CASES = {  # name: (data shape, modality, task, classes)
    "image": ((1, 8, 8), "image", "classification", 3),
    "sequence": ((40, 1), "sequence", "classification", 2),
    "tabular": ((6,), "tabular", "regression", 1),  # regression: an unconditional GAN
}


def make(case: str, n: int = 60) -> tuple[GanModel, Data]:
    shape, modality, task, classes = CASES[case]
    ctx = SpaceContext(shape, modality, task, classes)
    (point,) = starting_points(get_space("gan"), ctx)
    torch.manual_seed(0)
    model = build_gan(get_space("gan").sample(optuna.trial.FixedTrial(point), ctx))
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(n, *shape, generator=gen)
    y = torch.arange(n) % max(classes, 1) if task == "classification" else torch.rand(n)
    names = [f"c{i}" for i in range(classes)] if task == "classification" else []
    return model, Data(modality, shape, Split(X, y), names)


@pytest.fixture(scope="module")
def explained() -> dict[str, tuple[GanModel, Data, dict[str, Any]]]:
    out = {}
    for case in CASES:
        model, data = make(case)
        model.train()
        out[case] = (model, data, explain_gan(model, data, n_per_class=3, n_traversal_dims=2,
                                              steps=5, n_attr=4))  # fmt: skip
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_keys_shapes_and_json(explained: dict[str, Any], case: str) -> None:
    model, data, out = explained[case]
    shape = list(data.input_shape)
    assert model.training  # the mode was restored
    json.dumps(out, allow_nan=False)
    assert out["data_shape"] == shape and out["modality"] == data.modality
    grid = out["grid"]
    classes = data.class_names if model.conditional else ["all"]
    assert grid["classes"] == classes
    for key in ("generated", "real"):
        arr = np.asarray(grid[key])
        assert arr.shape == (len(classes), 3, *shape), key
    assert len(out["latent_change"]) == model.latent_dim
    assert len(out["traversals"]) == 2
    for t in out["traversals"]:
        assert np.asarray(t["samples"]).shape == (5, *shape)
        assert np.asarray(t["change"]).shape == tuple(shape)
        assert t["values"][0] == -2.5 and t["values"][-1] == 2.5
    ranked = [t["mean_change"] for t in out["traversals"]]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] == max(out["latent_change"])
    disc = out["discriminator"]
    for side in ("real", "fake"):
        assert np.asarray(disc[side]["mean_abs"]).shape == tuple(shape)
        ex = disc[side]["examples"]
        assert len(ex) == 3 and np.asarray(ex[0]["attribution"]).shape == tuple(shape)
        assert isinstance(ex[0]["logit"], float)


def test_real_examples_are_of_their_class(explained: dict[str, Any]) -> None:
    model, data, out = explained["image"]
    X = data.train.X.numpy()
    for c, samples in enumerate(out["grid"]["real"]):
        for s in samples:
            i = int(np.argmin(np.abs(X - np.asarray(s)).reshape(len(X), -1).sum(1)))
            assert int(data.train.y[i]) == c


def test_deterministic_with_seed() -> None:
    model, data = make("sequence")
    kw: dict[str, Any] = {"n_per_class": 2, "n_traversal_dims": 2, "steps": 3, "n_attr": 3}
    a, b = explain_gan(model, data, **kw), explain_gan(model, data, **kw)
    assert json.dumps(a) == json.dumps(b)
    c = explain_gan(model, data, seed=1, **kw)
    assert c["grid"] != a["grid"]


def test_integrated_gradients_is_complete(explained: dict[str, Any]) -> None:
    for case, (_, _, out) in explained.items():
        comp = out["discriminator"]["completeness"]
        assert comp["relative"] < 0.05, (case, comp)


class OneDirection(nn.Module):
    """A toy GAN whose output is latent dim 0 written into the top-left 2x2 pixels."""

    latent_dim, conditional, n_classes, data_shape = 5, False, 0, (1, 4, 4)

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = torch.zeros(len(z), 1, 4, 4)
        out[:, 0, :2, :2] = (self.w * z[:, :1]).reshape(-1, 1, 1).expand(-1, 2, 2)
        return out

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.w * x.flatten(1).sum(1)


def test_traversal_finds_the_one_direction_and_where_it_acts() -> None:
    model = OneDirection()
    data = Data("image", (1, 4, 4), Split(torch.rand(20, 1, 4, 4), torch.zeros(20)))
    out = explain_gan(model, data, n_traversal_dims=3, n_attr=4)
    first = out["traversals"][0]
    assert first["dim"] == 0 and first["mean_change"] > 0
    change = np.asarray(first["change"])[0]
    assert change[:2, :2].min() > 0 and change[2:, :].max() == 0 and change[:, 2:].max() == 0
    assert all(t["mean_change"] == 0 for t in out["traversals"][1:])
    # a linear D: IG is exact, and its attribution of x is x itself
    ex = out["discriminator"]["real"]["examples"][0]
    np.testing.assert_allclose(ex["attribution"], ex["input"], atol=1e-3)
    assert out["discriminator"]["completeness"]["max_abs_delta"] < 1e-4


def test_bad_arguments_name_the_parameter() -> None:
    model, data = make("tabular")
    with pytest.raises(ExplainError, match="steps"):
        explain_gan(model, data, steps=0)
    data.input_shape = (7,)
    with pytest.raises(ExplainError, match="input_shape"):
        explain_gan(model, data)
