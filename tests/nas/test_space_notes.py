"""Notes a search prints when its space asks for what the data cannot take: a transformer
window over half the steps or a patch over an image's side, which a trial replaces silently
(search_spaces/spaces/transformer.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import nas
from nas.session import _replaced_tokens
from search_spaces.spaces import Choice, Fixed, IntRange, Space, default_config

pytestmark = pytest.mark.usefixtures("restore_global_state")


def test_a_fixed_window_longer_than_half_the_steps_is_said(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 20, 2)).astype(np.float32)
    np.savez(tmp_path / "seq.npz", X=X, y=(X[:, :, 0].sum(1) > 0).astype(np.int64))
    space = tmp_path / "window.toml"
    space.write_text('space = "transformer"\n[transformer]\nwindow = 64\n')
    result = nas.search(data=str(tmp_path / "seq.npz"), space=str(space), n_trials=1, epochs=1,
                        finalize=False, out=tmp_path / "run", threads=1)  # fmt: skip
    notes = [w for w in result.warnings if w.startswith("transformer.window")]
    assert notes == ["transformer.window 64 is more than half of the 20 steps (10): a trial "
                     "that takes it uses one token per step (window 1); list values up to 10 "
                     "in the space file."]  # fmt: skip
    (trial,) = result.study.trials
    embed = trial.user_attrs["spec"]["blocks"][0]
    assert embed["kind"].startswith("embed_steps") and embed["params"]["window"] == 1


@pytest.mark.parametrize(
    ("dim", "over"),
    [(Choice((0, 2, 4, 16)), "16"), (Fixed(9), "9"), (IntRange(2, 12), "12"),
     (Choice((0, 2, 4)), None)],
)  # fmt: skip
def test_a_patch_over_the_images_side_is_said_and_one_that_fits_is_not(dim, over) -> None:
    config = SimpleNamespace(space=Space("transformer", {**default_config(),
                                                         "transformer.patch": dim}))  # fmt: skip
    digits = SimpleNamespace(modality="image", input_shape=(1, 8, 8))
    notes = _replaced_tokens(config, digits)
    if over is None:
        assert notes == []
    else:
        assert notes and notes[0].startswith(f"transformer.patch {over} is more than the 8x8")
        assert "one token per image row (patch 0)" in notes[0]
    cnn = SimpleNamespace(space=Space("cnn", config.space.config))
    assert _replaced_tokens(cnn, digits) == []  # no transformer in that space
