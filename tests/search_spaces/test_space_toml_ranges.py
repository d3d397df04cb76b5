"""Out-of-range values in a TOML space are refused when the file loads (one line naming the file,
the dimension, the value and what is allowed), not by every trial later; every value the spaces
use by default still loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from search_spaces import SpaceError, get_space
from search_spaces.spaces import Space, default_config, dim_to_json
from search_spaces.spaces._ranges import allowed


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ranges.toml"
    path.write_text(text, encoding="utf-8")
    return path


BAD = {  # TOML body -> what the one line must say (file, dimension, value, allowed)
    "[train]\nbatch_size = 0": r"ranges.toml: dimension 'train.batch_size' is 0; use a value >= 1",
    "[train]\nlr = -1": r"'train.lr' is -1.0; use a value > 0.0 \(in \(0.0, inf\]\)",
    "[train]\nlr = { low = 0.0, high = 0.1 }": r"'train.lr' is 0.0; use a value > 0.0",
    "[train]\nbatch_size = { choices = [32, 0] }": r"'train.batch_size' is 0",
    "[train]\noptimizer = 'rmsprop'": r"'train.optimizer' is 'rmsprop'; choose one of",
    "[train]\nweight_decay = -0.1": r"'train.weight_decay' is -0.1; use a value >= 0.0",
    "[train]\nschedule = 'step'": r"'train.schedule' is 'step'",
    "[fnn]\nunits = 0": r"'fnn.units' is 0; use a value >= 1 \(in \[1, inf\]\)",
    "[fnn]\ndropout = 1.5": r"'fnn.dropout' is 1.5; use a value in \[0.0, 0.9\]",
    "[fnn]\ndropout = { low = 0.0, high = 1.0 }": r"'fnn.dropout' is 1.0; use a value in",
    "[fnn]\nn_blocks = { low = 0, high = 2 }": r"'fnn.n_blocks' is 0; use a value in \[1, 64\]",
    # had built for minutes (4 GB) before any budget check could refuse it
    "[fnn]\nn_blocks = 100000": r"'fnn.n_blocks' is 100000; use a value in \[1, 64\]",
    "[cnn]\nn_blocks = { choices = [2, 65] }": r"'cnn.n_blocks' is 65",
    "[train]\nmomentum = 5": r"'train.momentum' is 5.0; use a value in \[0.0, 0.999\]",  # diverged
    "[fnn]\nactivation = 'swish'": r"'fnn.activation' is 'swish'; choose one of \['relu'",
    "[fnn]\nresidual = 1": r"'fnn.residual' must be bool, got 1",
    "[cnn]\nkernel = 21": r"'cnn.kernel' is 21; use a value in \[1, 15\]",
    "[cnn]\nchannels = { choices = [16, -8] }": r"'cnn.channels' is -8",
    "[cnn]\npool = 'min'": r"'cnn.pool' is 'min'",
    "[cnn]\nreduce = 'sum'": r"'cnn.reduce' is 'sum'",
    "[rnn]\nlayers = 9": r"'rnn.layers' is 9; use a value in \[1, 8\]",
    "[rnn]\ncell = 'transformer'": r"'rnn.cell' is 'transformer'",
    "[transformer]\nd_model = 1": r"'transformer.d_model' is 1; use a value >= 2",
    "[transformer]\nheads = 0": r"'transformer.heads' is 0",
    "[transformer]\nwindow = 0": r"'transformer.window' is 0",
    "[head]\ndropout = 0.95": r"'head.dropout' is 0.95",
    "[head]\nhidden = -1": r"'head.hidden' is -1; use a value >= 0",
    "[hybrid]\nstem_blocks = 0": r"'hybrid.stem_blocks' is 0",
    "[gan]\nlatent_dim = 0": r"'gan.latent_dim' is 0",
    "[gan]\nbeta1 = 1.0": r"'gan.beta1' is 1.0; use a value in \[0.0, 0.999999\]",
    "[gan]\nlr_g = 0.0": r"'gan.lr_g' is 0.0; use a value in \(0.0, 1.0\]",
    "[gan]\nbatch_size = 0": r"'gan.batch_size' is 0",
    "[gan]\ng_rnn_layers = 0": r"'gan.g_rnn_layers' is 0",
    "[gan]\nd_dropout = 2": r"'gan.d_dropout' is 2.0",
    "[gan]\ngp_weight = -1.0": r"'gan.gp_weight' is -1.0",
    "[gan]\nconditional = 'yes'": r"'gan.conditional' must be bool",
}


@pytest.mark.parametrize(("body", "match"), list(BAD.items()), ids=list(BAD))
def test_an_out_of_range_value_is_refused_when_the_file_loads(
    tmp_path: Path, body: str, match: str
) -> None:
    with pytest.raises(SpaceError, match=match) as info:
        get_space(str(write(tmp_path, body)))
    assert "\n" not in str(info.value) and str(info.value).startswith("ranges.toml: ")


def test_every_default_value_loads_when_written_out(tmp_path: Path) -> None:
    config = default_config()
    sections: dict[str, list[str]] = {}
    for key, dim in config.items():
        section, name = key.split(".", 1)
        value = dim_to_json(dim)
        text = repr(value).replace("True", "true").replace("False", "false")
        if isinstance(value, dict):
            text = "{ " + ", ".join(f"{k} = {v!r}" for k, v in value.items()) + " }"
            text = text.replace("True", "true").replace("False", "false")
        sections.setdefault(section, []).append(f"{name} = {text}")
    body = "\n".join(f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items())
    assert get_space(str(write(tmp_path, body))).config == config


def test_the_block_parameter_dimensions_follow_the_block_rules() -> None:
    assert allowed("fnn.units") is not None and allowed("fnn.units").low == 1
    assert allowed("cnn.kernel") is not None and allowed("cnn.kernel").high == 15
    assert allowed("toy.anything") is None  # a dimension nas has no rule for is not checked


def test_a_recorded_space_with_an_out_of_range_value_is_refused() -> None:
    record = Space("fnn").to_dict()
    record["dims"]["train.batch_size"] = 0
    with pytest.raises(SpaceError, match=r"space: dimension 'train.batch_size' is 0"):
        Space.from_dict(record)


def test_the_cli_says_it_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nas.cli import app

    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "[train]\nbatch_size = 0\n")
    result = CliRunner().invoke(app, ["search", "--dataset", "iris", "--space", str(path)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.stderr
    assert "ranges.toml: dimension 'train.batch_size' is 0; use a value >= 1" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranges.toml"]
