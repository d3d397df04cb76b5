"""Small trained models for the attribution tests: planted-signal data per modality, and one
NasModel per family trained on it for a few seconds, built from hand-written ArchSpecs so the
real blocks are exercised. Trained once per session, shared read-only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from search_spaces import ArchSpec, BlockSpec, NasModel, build_model

#: Inputs per example for each modality of the planted tasks.
SHAPES: dict[str, tuple[int, ...]] = {"tabular": (6,), "image": (1, 8, 8), "sequence": (12, 2)}
#: The planted signal: tabular features 0 and 3, the top-left 4x4 quadrant, sequence step 4.
TAB_FEATURES, SEQ_STEP, QUADRANT = (0, 3), 4, (slice(0, 4), slice(0, 4))


def planted_data(modality: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Binary tasks whose label depends only on the planted part of the input."""
    g = torch.Generator().manual_seed(seed)
    if modality == "tabular":  # standardized features; label from features 0 and 3 only
        X = torch.randn(n, *SHAPES["tabular"], generator=g)
        return X, (X[:, 0] + X[:, 3] > 0).long()
    if modality == "sequence":  # the label is the sign of feature 0 at one step
        X = torch.randn(n, *SHAPES["sequence"], generator=g)
        return X, (X[:, SEQ_STEP, 0] > 0).long()
    # images in [0, 1]: dim noise everywhere; class 1 has a bright top-left quadrant
    X = torch.rand(n, *SHAPES["image"], generator=g) * 0.3
    y = (torch.rand(n, generator=g) < 0.5).long()
    X[y == 1, :, QUADRANT[0], QUADRANT[1]] += 0.6
    return X, y


def _blocks(family: str, modality: str) -> list[BlockSpec]:
    relu = {"activation": "relu"}
    conv = {"channels": 8, "kernel": 3, "batch_norm": False, **relu}
    tfm = [
        BlockSpec("tfm_encoder.v1", {"heads": 2, "ff": 32, "layers": 1, "dropout": 0.0}),
        BlockSpec("seq_pool.v1", {"mode": "mean"}),
    ]
    if family in ("cnn_rnn", "cnn_transformer"):  # a conv stem before the rnn / transformer
        stem = _blocks("cnn", modality)
        if family == "cnn_rnn":
            return [*stem, *_blocks("rnn", modality)]
        if modality == "image":  # one token per position of the stem's feature map
            return [*stem, BlockSpec("embed_patch.v1", {"d_model": 16, "patch": 1}), *tfm]
        return [*stem, *_blocks("transformer", modality)]
    if family == "fnn":
        return [BlockSpec("dense.v1", {"units": 32, **relu}) for _ in range(2)]
    if family == "cnn":
        pool = {"pool": "max"} if modality == "image" else {}
        return [BlockSpec("conv2d.v1" if modality == "image" else "conv1d.v1", {**conv, **pool})]
    if family == "rnn":
        cell = "lstm.v1" if modality == "sequence" else "gru.v1"
        return [BlockSpec(cell, {"hidden": 16, "reduce": "last"})]
    embed = {
        "tabular": BlockSpec("embed_tabular.v1", {"d_model": 16, "positions": "none"}),
        "image": BlockSpec("embed_patch.v1", {"d_model": 16, "patch": 2}),
        "sequence": BlockSpec("embed_steps.v1", {"d_model": 16}),
    }[modality]
    return [embed, *tfm]


def planted_spec(family: str, modality: str) -> ArchSpec:
    """A small classifier of ``family`` for the planted ``modality`` task."""
    return ArchSpec(
        family,
        "classification",
        modality,
        SHAPES[modality],
        2,
        tuple(_blocks(family, modality)),
        BlockSpec("classify.v1", {"outputs": 2}),
    )


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float) -> None:
    """Plain Adam + cross-entropy over shuffled mini-batches of 64."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=g).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            opt.step()
    model.eval()


@dataclass(frozen=True)
class Trained:
    """A model trained on a planted task, with held-out inputs and its accuracy on them."""

    model: NasModel
    X: torch.Tensor
    y: torch.Tensor
    accuracy: float


_EPOCHS = {"transformer": 40, "rnn": 40, "cnn_rnn": 40, "cnn_transformer": 40}


@pytest.fixture(scope="session")
def trained() -> Callable[[str, str], Trained]:
    """``trained(family, modality)``: trained once per session, then shared."""
    cache: dict[tuple[str, str], Trained] = {}

    def get(family: str, modality: str) -> Trained:
        key = (family, modality)
        if key not in cache:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                torch.manual_seed(0)
                model = build_model(planted_spec(family, modality))
                X, y = planted_data(modality, 768, seed=1)
                lr = 3e-3 if family.endswith("transformer") else 1e-2
                fit(model, X, y, _EPOCHS.get(family, 25), lr)
                Xt, yt = planted_data(modality, 200, seed=2)
                with torch.no_grad():
                    acc = float((model(Xt).argmax(1) == yt).float().mean())
                cache[key] = Trained(model, Xt, yt, acc)
            finally:
                torch.set_num_threads(threads)
        return cache[key]

    return get


@dataclass(frozen=True)
class Planted:
    """The planted tasks, for tests (conftest modules are not importable under importlib)."""

    shapes: dict[str, tuple[int, ...]]
    tab_features: tuple[int, ...]
    seq_step: int
    quadrant: tuple[slice, slice]
    data: Callable[[str, int, int], tuple[torch.Tensor, torch.Tensor]]
    spec: Callable[[str, str], ArchSpec]


@pytest.fixture(scope="session")
def planted() -> Planted:
    """The planted tasks' constants, data generator and spec builder."""
    return Planted(SHAPES, TAB_FEATURES, SEQ_STEP, QUADRANT, planted_data, planted_spec)


def _headless_chromium() -> Any:
    """tests/explain/headless_chromium.py as a module, once, the same object the test modules
    get (tests.conftest.explain_helper)."""
    from tests.conftest import explain_helper

    return explain_helper("headless_chromium")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium for a test module (network off per page); skips without one. A
    JavaScript dialog would block the page: it is dismissed at once (and recorded as a problem
    by the page)."""
    hc = _headless_chromium()
    binary = hc.find_chromium()
    if binary is None:
        pytest.skip(
            "Chromium is not installed: run scripts/install-chromium.sh (as root, "
            "it apt-get installs 'chromium') to run the browser tests."
        )
    chrome = hc.Chromium(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        chrome.send("Browser.getVersion", timeout=60)
    except (TimeoutError, RuntimeError) as exc:
        chrome.close()
        pytest.skip(f"Chromium at {binary} did not answer on its debugging pipe: {exc}")
    chrome.on_event = lambda e: (
        chrome.post("Page.handleJavaScriptDialog", {"accept": False}, e["sessionId"])
        if e["method"] == "Page.javascriptDialogOpening"
        else None
    )
    yield chrome
    chrome.close()
