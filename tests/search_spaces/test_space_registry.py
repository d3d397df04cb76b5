"""The space registry: a space is one module plus its registration.

A toy family defined here (one dense block, its own dimensions and starting point) is registered
for the duration of a test and must then show up everywhere a built-in space does: the config,
``get_space``, the listing and the CLI help, the run record's round trip, the auto space, the
starting points and the TOML ``families`` list. Unregistered, it must be gone from all of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import optuna
import pytest
import torch

from search_spaces import ArchSpec, BlockSpec, SpaceContext, SpaceError, build_model
from search_spaces.spaces import (
    FAMILY_SAMPLERS,
    SPACES,
    Choice,
    Dim,
    Sampler,
    Space,
    SpaceInfo,
    TrialLike,
    default_config,
    family_names,
    get_space,
    load_space_toml,
    register_space,
    registered_space,
    registered_spaces,
    space_help,
    space_info,
    space_names,
    starting_points,
    unregister_space,
)
from search_spaces.spaces._base import assemble
from search_spaces.spaces.auto import APPLICABLE
from search_spaces.spaces.starts import family_point

TABULAR = SpaceContext((6,), "tabular", "classification", 3)
IMAGE = SpaceContext((1, 8, 8), "image", "classification", 10)
BUILT_IN = ["auto", "fnn", "cnn", "rnn", "transformer", "cnn_rnn", "cnn_transformer", "gan"]

# --- the toy space: everything a new space needs, in one place ------------------------------

TOY_DEFAULTS: dict[str, Dim] = {
    "toy.units": Choice((8, 16, 32)),
    "toy.activation": Choice(("relu", "tanh")),
}


def sample_toy(
    trial: TrialLike, ctx: SpaceContext, config: Mapping[str, Dim] | None = None
) -> ArchSpec:
    """One dense block."""
    s = Sampler(trial, config or default_config())
    block = BlockSpec(
        "dense.v1",
        {
            "units": int(s("toy.b0.units", "toy.units")),
            "norm": "none",
            "activation": s("toy.b0.activation", "toy.activation"),
            "dropout": 0.0,
            "residual": False,
        },
    )
    return assemble("toy", s, ctx, [block])


def check_toy(config: Mapping[str, Dim]) -> None:
    dim = config["toy.units"]
    if isinstance(dim, Choice) and any(u < 1 for u in dim.values):
        raise SpaceError("toy.units must be positive; choose units >= 1.")


TOY = {
    "doc": "one dense block (a test's toy)",
    "defaults": TOY_DEFAULTS,
    "family": True,
    "applies_to": {"tabular": 5},  # tried first on tabular data, not applicable elsewhere
    "starting_points": family_point(lambda ctx: {"toy.b0.units": 16, "toy.b0.activation": "tanh"}),
    "check": check_toy,
}


@pytest.fixture
def toy() -> Iterator[SpaceInfo]:
    with registered_space("toy", sample_toy, **TOY) as info:
        yield info
    assert "toy" not in space_names()


def study() -> optuna.Study:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))


# --- the toy registered -------------------------------------------------------------------


def test_a_registered_space_is_listed_everywhere(toy: SpaceInfo) -> None:
    assert toy.name == "toy" and toy.family
    assert space_names() == [*BUILT_IN, "toy"]
    assert registered_spaces()[-1] is toy and space_info("toy") is toy
    assert "toy" in space_help() and space_help().endswith("or a .toml file.")
    assert SPACES["toy"] == (sample_toy, TOY["doc"]) and FAMILY_SAMPLERS["toy"] is sample_toy
    assert "toy" in family_names() and APPLICABLE["tabular"][0] == "toy"
    assert "toy" not in APPLICABLE["image"]
    config = default_config()
    assert config["toy.units"] == Choice((8, 16, 32))
    assert "toy" in config["auto.families"].values
    assert get_space("toy") == Space("toy")


def test_a_registered_space_round_trips_and_checks_its_config(toy: SpaceInfo) -> None:
    data = Space("toy").to_dict()
    assert data["dims"]["toy.units"] == {"choices": [8, 16, 32]}
    assert Space.from_dict(data) == Space("toy")
    data["dims"]["toy.units"] = {"choices": [0, 8]}
    with pytest.raises(SpaceError, match="toy.units must be positive"):
        Space.from_dict(data)


def test_a_registered_space_samples_specs_that_build_and_replay(toy: SpaceInfo) -> None:
    s, space = study(), get_space("toy")
    for _ in range(5):
        trial = s.ask()
        spec = space.sample(trial, TABULAR)
        assert spec.family == "toy" and [b.kind for b in spec.blocks] == ["dense.v1"]
        assert spec.blocks[0].params["units"] == trial.params["toy.b0.units"]
        model = build_model(spec)
        assert model(torch.randn(2, *TABULAR.input_shape)).shape == (2, 3)
        assert space.sample(optuna.trial.FixedTrial(trial.params), TABULAR) == spec
        s.tell(trial, 0.0)


def test_auto_chooses_a_registered_family_where_it_applies(toy: SpaceInfo) -> None:
    s, auto = study(), get_space("auto")
    s.enqueue_trial({"family": "toy"})
    trial = s.ask()
    spec = auto.sample(trial, TABULAR)
    assert spec.family == "toy" and trial.params["family"] == "toy"
    # The same spec as the toy space's own trial with the same params.
    own = {k: v for k, v in trial.params.items() if k != "family"}
    assert get_space("toy").sample(optuna.trial.FixedTrial(own), TABULAR) == spec
    only_toy = Space("auto", {**default_config(), "auto.families": Choice(("toy",))})
    with pytest.raises(SpaceError, match="no family that applies to image"):
        only_toy.sample(optuna.trial.FixedTrial({}), IMAGE)


def test_a_registered_family_has_starting_points(toy: SpaceInfo) -> None:
    (own,) = starting_points(get_space("toy"), TABULAR)
    assert own["toy.b0.units"] == 16 and own["toy.b0.activation"] == "tanh"
    assert own["train.optimizer"] == "adamw"  # the shared training start comes with it
    points = starting_points(get_space("auto"), TABULAR)
    assert [p["family"] for p in points] == ["toy", "fnn", "transformer", "cnn", "rnn"]
    assert {k: v for k, v in points[0].items() if k != "family"} == own
    assert "toy" not in [p["family"] for p in starting_points(get_space("auto"), IMAGE)]
    # Values the config fixes are dropped: the sampler has nothing to choose there.
    fixed = Space("toy", {**default_config(), "toy.activation": Choice(("relu",))})
    assert "toy.b0.activation" not in starting_points(fixed, TABULAR)[0]


def test_a_toml_file_may_name_a_registered_family(toy: SpaceInfo, tmp_path: Path) -> None:
    path = tmp_path / "toy.toml"
    path.write_text('families = ["toy", "fnn"]\n\n[toy]\nunits = { choices = [8] }\n')
    space = load_space_toml(path)
    assert space.config["auto.families"] == Choice(("toy", "fnn"))
    assert space.config["toy.units"] == Choice((8,))


# --- registration rules and the registry without the toy ----------------------------------


def test_unregistered_the_toy_is_gone_everywhere(tmp_path: Path) -> None:
    register_space("toy", **TOY)(sample_toy)
    info = unregister_space("toy")
    assert info.sample is sample_toy
    assert space_names() == BUILT_IN and "toy" not in SPACES and "toy" not in FAMILY_SAMPLERS
    assert "toy" not in space_help() and "toy" not in APPLICABLE["tabular"]
    assert "toy.units" not in default_config()
    assert "toy" not in default_config()["auto.families"].values
    with pytest.raises(SpaceError, match="Unknown space 'toy'"):
        get_space("toy")
    path = tmp_path / "toy.toml"
    path.write_text('families = ["toy"]\n')
    with pytest.raises(SpaceError, match=r"families \['toy'\] unknown"):
        load_space_toml(path)


def test_unknown_space_names_list_the_registered_ones() -> None:
    for error in (
        lambda: get_space("nope"),
        lambda: space_info("nope"),
        lambda: Space.from_dict({"space": "nope"}),
    ):
        with pytest.raises(SpaceError) as e:
            error()
        assert "'nope'" in str(e.value)
        assert all(name in str(e.value) for name in space_names())
    with pytest.raises(SpaceError, match="Unknown space 'nope'"):
        unregister_space("nope")


def test_registration_errors_say_how_to_fix_them() -> None:
    with pytest.raises(SpaceError, match="'cnn' is already registered; choose another name"):
        register_space("cnn", doc="again")(sample_toy)
    with pytest.raises(SpaceError, match="unknown modality 'audio'"):
        register_space("toy", doc="x", applies_to=("audio",))(sample_toy)
    assert space_names() == BUILT_IN


def test_the_built_in_spaces_keep_their_order_help_and_starting_order() -> None:
    assert space_names() == BUILT_IN
    assert space_help() == (
        "auto, fnn, cnn, rnn, transformer, cnn_rnn, cnn_transformer, gan, or a .toml file."
    )
    assert family_names() == BUILT_IN[1:-1]
    order = {
        "image": ["cnn", "fnn", "cnn_rnn", "transformer", "rnn", "cnn_transformer"],
        "sequence": ["cnn", "cnn_rnn", "rnn", "transformer", "fnn", "cnn_transformer"],
        "tabular": ["fnn", "transformer", "cnn", "rnn"],
    }
    shapes = {"image": (1, 8, 8), "sequence": (40, 1), "tabular": (30,)}
    for modality, families in order.items():
        ctx = SpaceContext(shapes[modality], modality, "classification", 3)
        points = starting_points(get_space("auto"), ctx)
        assert [p["family"] for p in points] == families
        assert list(APPLICABLE[modality]) == families


def test_space_modules_import_nothing_back_from_their_package() -> None:
    # `from search_spaces.spaces import default_config` inside a space is an import cycle;
    # a space reads the registry (a leaf) instead. Submodules may be imported by name.
    folder = Path(__file__).resolve().parents[2] / "search_spaces" / "spaces"
    submodules = {p.stem for p in folder.glob("*.py")}
    bad = []
    for path in folder.glob("*.py"):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "search_spaces.spaces":
                bad += [f"{path.name}: {a.name}" for a in node.names if a.name not in submodules]
            if isinstance(node, ast.Import):
                bad += [f"{path.name}: import {a.name}" for a in node.names if a.name in (
                    "search_spaces.spaces", "search_spaces")]  # fmt: skip
    assert not bad, bad


# --- a run's record of an extension's space (/tmp/oG5 F5, F11) --------------------------------


def test_dimensions_of_a_space_the_run_never_samples_are_not_needed_to_read_it(
    toy: SpaceInfo,
) -> None:
    """A search records the defaults of every registered space; another extension's space,
    loaded beside it but not searched, had made the run unreadable without that extension."""
    data = get_space("fnn").to_dict()
    data["dims"]["liarnet.units"] = {"choices": [4, 8]}  # an extension not loaded now
    assert Space.from_dict(data) == Space("fnn")
    # the run's own space's dimension is needed: one unknown to its extension says to load
    # the version the search used, not to upgrade nas
    toy_data = get_space("toy").to_dict()
    toy_data["dims"]["toy.gone"] = 3
    with pytest.raises(SpaceError) as e:
        Space.from_dict(toy_data)
    assert "space dimension 'toy.gone' is unknown to the space 'toy' of the extension" in str(
        e.value
    )
    assert "Load the version the search used" in str(e.value) and "upgrade" not in str(e.value)
    # a built-in space's unknown dimension is a newer nas's
    data["dims"]["fnn.new_knob"] = 1
    with pytest.raises(SpaceError, match="'fnn.new_knob' is unknown to this nas version; upg"):
        Space.from_dict(data)
    # auto's families are its own: a family registered by no loaded extension is needed
    auto = get_space("auto").to_dict()
    auto["dims"]["auto.families"] = {"choices": ["fnn", "ghostnet"]}
    auto["dims"]["ghostnet.units"] = 4
    with pytest.raises(SpaceError, match="'ghostnet.units' belongs to the space 'ghostnet', wh"):
        Space.from_dict(auto)


def test_the_record_names_the_extension_of_an_extension_space(toy: SpaceInfo) -> None:
    source = get_space("toy").to_dict()["source"]
    assert source.startswith("extension ") and "test_space_registry" in source
    assert get_space("fnn").to_dict()["source"] == "built-in"
    assert Space.from_dict(get_space("toy").to_dict()).source == source


def test_a_toml_file_naming_an_unknown_space_says_how_to_load_an_extension(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.toml"
    path.write_text('space = "resmlp"\n')
    with pytest.raises(SpaceError) as e:
        load_space_toml(path)
    assert "space = 'resmlp' is unknown; use one of" in str(e.value)
    assert "If an extension registers this space, load it first: nas --extension" in str(e.value)
