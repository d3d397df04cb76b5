"""Spaces declared in TOML: overrides that samples respect, and errors that say how to fix."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from search_spaces import SpaceContext, SpaceError, build_model, get_space
from search_spaces.spaces import (
    Choice,
    Fixed,
    FloatRange,
    IntRange,
    default_config,
    load_space_toml,
)
from search_spaces.spaces._base import parse_dim

IMAGE = SpaceContext((1, 8, 8), "image", "classification", 10)
SEQUENCE = SpaceContext((40, 1), "sequence", "regression", 1)

VALID = """
space = "auto"
families = ["cnn", "rnn", "cnn_rnn"]

[cnn]
n_blocks = { low = 1, high = 2 }
channels = { choices = [16, 32] }
growth = 1.0
kernel = 3

[rnn]
cell = { choices = ["gru"] }
hidden = { choices = [8, 16] }

[train]
optimizer = "sgd"
lr = { low = 1e-4, high = 1e-3, log = true }
batch_size = 32
"""


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sample_many(path: Path, ctx: SpaceContext, n: int = 40) -> list[tuple[dict, object]]:
    space = get_space(str(path))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    out = []
    for _ in range(n):
        trial = study.ask()
        spec = space.sample(trial, ctx)
        assert space.sample(optuna.trial.FixedTrial(trial.params), ctx) == spec
        out.append((trial.params, spec))
        study.tell(trial, 0.0)
    return out


def test_valid_file_overrides_and_samples_respect_them(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    space = load_space_toml(path)
    assert space.name == "auto" and space.source == str(path)
    assert space.config["auto.families"] == Choice(("cnn", "rnn", "cnn_rnn"))
    assert space.config["cnn.n_blocks"] == IntRange(1, 2)
    assert space.config["cnn.channels"] == Choice((16, 32))
    assert space.config["cnn.kernel"] == Fixed(3)
    assert space.config["train.lr"] == FloatRange(1e-4, 1e-3, log=True)
    assert space.config["train.optimizer"] == Fixed("sgd")
    # Dimensions the file does not name keep their defaults.
    assert space.config["rnn.layers"] == default_config()["rnn.layers"]

    families = set()
    for params, spec in sample_many(path, IMAGE):
        families.add(spec.family)
        convs = [b for b in spec.blocks if b.kind == "conv2d.v1"]
        rnns = [b for b in spec.blocks if b.kind.endswith(("gru.v1", "lstm.v1", "rnn.v1"))]
        if spec.family == "cnn":
            assert 1 <= len(convs) <= 2
        assert all(b.params["channels"] in (16, 32) for b in convs)
        assert all(b.params["kernel"] == 3 for b in convs)
        assert all(b.kind == "gru.v1" and b.params["hidden"] in (8, 16) for b in rnns)
        assert spec.train.optimizer == "sgd" and spec.train.batch_size == 32
        assert 1e-4 <= spec.train.lr <= 1e-3
        # Fixed values and single choices are not trial parameters.
        assert not any(k.endswith((".kernel", ".cell")) for k in params)
        assert "train.optimizer" not in params and "train.batch_size" not in params
        build_model(spec)
    assert families == {"cnn", "rnn", "cnn_rnn"}


def test_get_space_reads_toml_and_to_dict_is_json(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    space = get_space(path)
    assert space == load_space_toml(str(path))
    data = space.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["source"] == str(path)
    assert data["dims"]["cnn.channels"] == {"choices": [16, 32]}
    assert data["dims"]["cnn.n_blocks"] == {"low": 1, "high": 2}
    assert data["dims"]["train.lr"] == {"low": 1e-4, "high": 1e-3, "log": True}
    assert data["dims"]["train.optimizer"] == "sgd"
    assert data["dims"]["auto.families"] == {"choices": ["cnn", "rnn", "cnn_rnn"]}


def test_family_space_with_fixed_depth(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
space = "cnn"
[cnn]
n_blocks = { low = 2, high = 2 }
pool = "none"
reduce = "avg"
""",
    )
    for params, spec in sample_many(path, SEQUENCE, n=15):
        assert spec.family == "cnn"
        assert [b.kind for b in spec.blocks] == ["conv1d.v1", "conv1d.v1", "global_pool.v1"]
        assert all(b.params["pool"] == "none" for b in spec.blocks[:2])
        assert "cnn.n_blocks" not in params


def test_single_family_as_a_string(tmp_path: Path) -> None:
    space = load_space_toml(write(tmp_path, 'families = "transformer"\n'))
    assert space.name == "auto" and space.config["auto.families"] == Choice(("transformer",))
    for _, spec in sample_many(write(tmp_path, 'families = "transformer"\n'), IMAGE, n=5):
        assert spec.family == "transformer"


def test_hybrid_stems_follow_the_cnn_dimensions(tmp_path: Path) -> None:
    path = write(tmp_path, 'space = "cnn_transformer"\n[cnn]\nchannels = 8\ngrowth = 1.0\n')
    for _, spec in sample_many(path, IMAGE, n=10):
        assert all(b.params["channels"] == 8 for b in spec.blocks if b.kind == "conv2d.v1")


def test_the_width_grows_by_the_factor_at_every_pooling_block(tmp_path: Path) -> None:
    # 40 positions, pool after every 2nd block while >= 4 remain: blocks 2, 4 and 6 pool
    # (40 -> 20 -> 10 -> 5); a pooling block is wider by 1.5: 16, 24, 24, 36, 36, 54.
    text = ('space = "cnn"\n[cnn]\nn_blocks = 6\nchannels = 16\ngrowth = 1.5\npool = "max"\n'
            "pool_every = 2\n")  # fmt: skip
    for _, spec in sample_many(write(tmp_path, text), SEQUENCE, n=3):
        convs = [b.params for b in spec.blocks if b.kind == "conv1d.v1"]
        assert [c["channels"] for c in convs] == [16, 24, 24, 36, 36, 54]
        assert [c["pool"] for c in convs] == ["none", "max"] * 3
        # one kernel, activation, norm, ... for the whole stack
        for key in ("kernel", "activation", "batch_norm", "residual", "separable", "dropout"):
            assert len({c[key] for c in convs}) == 1, key
    # 3 positions left after two poolings of 12: the third pooling block does not pool
    short = SpaceContext((12, 1), "sequence", "regression", 1)
    for _, spec in sample_many(write(tmp_path, text), short, n=1):
        convs = [b.params for b in spec.blocks if b.kind == "conv1d.v1"]
        assert [c["pool"] for c in convs] == ["none", "max", "none", "max", "none", "none"]
        assert [c["channels"] for c in convs] == [16, 24, 24, 36, 36, 36]


@pytest.mark.parametrize("key", sorted(default_config()))
def test_every_default_dimension_round_trips_through_its_toml_form(key: str) -> None:
    from search_spaces.spaces._base import dim_to_json

    dim = default_config()[key]
    assert parse_dim(key, dim_to_json(dim), dim) == dim


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(
            "[cnn]\nkernel = 4\n",
            ["space.toml: cnn.kernel may be 4, an even kernel", "odd"],
            id="even-kernel",  # was accepted, then failed every trial
        ),
        pytest.param(
            "[cnn]\nkernel = { choices = [3, 4] }\n",
            ["cnn.kernel may be 4"],
            id="even-kernel-choice",
        ),
        pytest.param(
            "[cnn]\nkernel = { low = 3, high = 7 }\n",
            ["cnn.kernel may be 4"],
            id="kernel-range",
        ),
        pytest.param(
            '[train]\nlr = { low = 1e-4, high = 1e-2, log = "false" }\n',
            ["train.lr", "log must be true or false", "'false'"],
            id="log-as-text",  # bool("false") read it as true
        ),
        pytest.param(
            'space = "cnn"\nfamilies = ["fnn"]\n',
            ["families lists the families", "space is 'cnn'"],
            id="families-without-auto",  # was ignored: every sample a CNN
        ),
        pytest.param(
            "[cnn]\nchanels = 16\n",
            ["unknown dimension 'cnn.chanels'", "Did you mean 'cnn.channels'", "Known:"],
            id="unknown-dimension",
        ),
        pytest.param(
            "[cnn]\nchannels = { min = 16, max = 32 }\n",
            ["cnn.channels", "{ choices = [...] }", "['max', 'min']"],
            id="bad-table-keys",
        ),
        pytest.param(
            "[cnn]\nchannels = { low = 16, high = 32, step = 16 }\n",
            ["cnn.channels", "['high', 'low', 'step']"],
            id="extra-table-key",
        ),
        pytest.param(
            "[cnn]\nchannels = [16, 32]\n",
            ["cnn.channels", "{ choices = [16, 32] }"],
            id="list-without-choices",
        ),
        pytest.param(
            "[cnn]\nchannels = { choices = [] }\n",
            ["cnn.channels", "non-empty list"],
            id="empty-choices",
        ),
        pytest.param(
            "[cnn]\nn_blocks = { low = 3, high = 1 }\n",
            ["cnn.n_blocks", "low <= high", "low=3", "high=1"],
            id="low-above-high",
        ),
        pytest.param(
            "[train]\nlr = { low = 0.0, high = 0.1, log = true }\n",
            ["train.lr", "0 < low", "log range"],
            id="log-range-from-zero",
        ),
        pytest.param(
            "[cnn]\nn_blocks = { low = 1.0, high = 2.5 }\n",
            ["cnn.n_blocks is an integer dimension", "1.0", "2.5"],
            id="float-range-for-int",
        ),
        pytest.param(
            '[cnn]\nchannels = { choices = [16, "32"] }\n',
            ["cnn.channels is an integer dimension", "'32'"],
            id="str-choice-for-int",
        ),
        pytest.param(
            "[fnn]\nunits = 2.5\n",
            ["fnn.units is an integer dimension", "2.5"],
            id="float-fixed-for-int",
        ),
        pytest.param(
            "[head]\nhidden = true\n",
            ["head.hidden is an integer dimension", "True"],
            id="bool-fixed-for-int",
        ),
        pytest.param(
            '[cnn]\nn_blocks = { low = "1", high = 2 }\n',
            ["cnn.n_blocks", "must be numbers"],
            id="string-bounds",
        ),
        pytest.param(
            "[transformer]\nheads = { choices = [3] }\n",
            ["transformer.heads 3 does not divide transformer.d_model 16", "every heads"],
            id="heads-not-dividing",
        ),
        pytest.param(
            "[transformer]\nd_model = { low = 16, high = 18 }\n",
            ["transformer.heads 2 does not divide transformer.d_model 17"],
            id="d-model-range-not-divisible",
        ),
        pytest.param(
            'families = ["cnn", "lstm"]\n',
            ["families ['lstm'] unknown", "choose from", "cnn_rnn"],
            id="unknown-family",
        ),
        pytest.param(
            "families = []\n",
            ["families is empty; list at least one of", "remove the line"],
            id="no-families",
        ),
        pytest.param('families = [["cnn"]]\n', ["families [['cnn']] unknown"], id="nested-family"),
        pytest.param(
            'space = "cnnn"\n', ["space = 'cnnn' is unknown", "'cnn'"], id="unknown-space"
        ),
        pytest.param(
            'space = ["cnn", "rnn"]\n', ["space = ['cnn', 'rnn'] is unknown"], id="space-as-list"
        ),
        pytest.param(
            "channels = 16\n",
            ["top-level key 'channels' is not a section"],
            id="key-outside-section",
        ),
        pytest.param(
            "[cnn\nchannels = 16\n", ["not valid TOML", "fix the syntax"], id="bad-syntax"
        ),
        pytest.param(  # tomllib recurses once per level: a RecursionError (/tmp/oX 7)
            'space = "fnn"\n[fnn]\nunits = ' + "[" * 5000 + "]" * 5000 + "\n",
            ["not valid TOML for nas (values nested too deeply to read)"],
            id="nested-5000-deep",
        ),
        pytest.param(
            "[cnn]\nchannels = \n", ["not valid TOML", "fix the syntax"], id="missing-value"
        ),
    ],
)
def test_bad_files_raise_space_error(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpaceError) as e:
        load_space_toml(path)
    msg = str(e.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    for load in (load_space_toml, get_space):
        with pytest.raises(SpaceError, match="does not exist"):
            load(str(missing))


def test_non_utf8_file_is_a_space_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("[cnn]\n# caf\xe9\nkernel = 3\n".encode("latin-1"))
    with pytest.raises(SpaceError, match="not valid TOML"):
        load_space_toml(path)


def test_a_byte_order_mark_is_no_syntax_error_and_a_folder_is_named(tmp_path: Path) -> None:
    """A Windows editor's BOM before `space = "fnn"` had read "Invalid statement (line 1,
    column 1)"; a folder named x.toml had been said not to exist."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'space = "fnn"\n[fnn]\nunits = 16\n')
    space = load_space_toml(path)
    assert space.name == "fnn" and space.config["fnn.units"] == Fixed(16)
    (tmp_path / "x.toml").mkdir()
    with pytest.raises(SpaceError, match="is a folder; give the .toml file in it"):
        load_space_toml(tmp_path / "x.toml")


def test_a_dimension_the_space_never_reads_is_refused(tmp_path: Path) -> None:
    """space = "fnn" with a [cnn] table had been taken without a word and changed nothing."""
    path = tmp_path / "fam.toml"
    path.write_text('space = "fnn"\n[cnn]\nkernel = 5\n[fnn]\nunits = 16\n[train]\nlr = 0.01\n')
    with pytest.raises(SpaceError) as e:
        get_space(str(path))
    assert str(e.value) == (
        "fam.toml: cnn.kernel is a dimension space 'fnn' never reads; remove it, or set space "
        "to one that reads it (or \"auto\"); `nas spaces fnn` lists what 'fnn' reads."
    )
    path.write_text('space = "auto"\nfamilies = ["fnn"]\n[cnn]\nkernel = 5\n')
    assert get_space(str(path)).config["cnn.kernel"] is not None  # auto may take any family's
