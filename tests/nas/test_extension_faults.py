"""An extension's block or space that is wrong in a way of its own (a forward that raises
AttributeError for some samples, a builder's KeyError, a declared output shape its module does
not produce) fails the trial, or the command, with one reason that names the extension: it had
ended a whole search with a traceback, or blamed the run (/tmp/oG5 F1-F3)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from sqlalchemy import exc

import nas
from nas.errors import NasError, TrialError
from nas.trial import trial_outcome, where_raised
from search_spaces import build_model, extensions
from search_spaces.blocks._base import _REGISTRY
from search_spaces.errors import ShapeError, SpecError
from search_spaces.spaces._registry import _SPACES

HEAD = """
from search_spaces import BlockSpec
from search_spaces.blocks import Param, Shape, register
from search_spaces.spaces import Choice, Sampler, default_config, register_space
from search_spaces.spaces._base import assemble
from torch import nn
"""

FLAKY = (
    HEAD
    + """
class Flaky(nn.Module):
    def __init__(self, d, u):
        super().__init__()
        self.lin, self.u = nn.Linear(d, u), u

    def forward(self, x):
        if self.u == 16:
            return self.lin(x).unknown_method()  # an AttributeError for one choice
        return self.lin(x).relu()


@register("flakyx.v1", family="fnn", accepts=("vec",), params={"units": Param(int, 8, low=1)})
def build(shape, p):
    return Flaky(shape.dims[0], p["units"]), Shape("vec", (p["units"],))


@register_space("flakyx", doc="x", defaults={"flakyx.units": Choice((4, 16))})
def sample(trial, ctx, config=None):
    s = Sampler(trial, config or default_config())
    return assemble("flakyx", s, ctx, [BlockSpec("flakyx.v1", {"units": int(s("flakyx.units"))})])
"""
)

NO_BUILD = (
    HEAD
    + """
@register("nobuildx.v1", family="fnn", accepts=("vec",), params={"units": Param(int, 8, low=1)})
def build(shape, p):
    return nn.Linear(shape.dims[0], p["unit"])  # a typo: a KeyError


@register_space("nobuildx", doc="x", defaults={})
def sample(trial, ctx, config=None):
    s = Sampler(trial, config or default_config())
    return assemble("nobuildx", s, ctx, [BlockSpec("nobuildx.v1", {"units": 4})])
"""
)


def line(text: str, part: str) -> int:
    """The number of the line of ``text`` that holds ``part``."""
    return next(i for i, row in enumerate(text.splitlines(), 1) if part in row)


@pytest.fixture
def extension(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """``extension(name, text)``: a .py file in tmp_path; what it registers (once a command
    loads it) is unregistered afterwards."""
    files: list[Path] = []

    def write(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        files.append(path)
        return path

    yield write
    for path in files:
        origin = str(path.resolve())
        for (registry, name), by in list(extensions._ORIGINS.items()):
            if by == origin:
                {"block": _REGISTRY, "space": _SPACES}.get(registry, {}).pop(name, None)
                extensions.forget(registry, name)
        extensions._FROM_FILE.pop(path.stem, None)
        sys.modules.pop(path.stem, None)


# ---------------------------------------------------------------- F1: any exception of a trial


def test_where_raised_names_the_users_line_not_torchs(tmp_path: Path) -> None:
    code = tmp_path / "user_code.py"
    code.write_text("import torch\n\ndef f():\n    return torch.zeros(2) @ torch.zeros(3)\n")
    namespace: dict = {}
    exec(compile(code.read_text(), str(code), "exec"), namespace)
    with pytest.raises(RuntimeError) as raised:
        namespace["f"]()
    assert where_raised(raised.value) == f"{code}:4 in f"
    with pytest.raises(KeyError) as raised:
        {}["x"]  # this test file is the user's code too
    assert where_raised(raised.value).startswith(f"{__file__}:")


def test_an_unexpected_exception_fails_the_trial_with_its_type_message_and_place() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(TrialError) as raised, trial_outcome(trial, 0.0):
        {}["unit"]
    reason = trial.user_attrs["reason"]
    assert reason.startswith(f"KeyError at {__file__}:")
    assert reason.endswith(" in test_an_unexpected_exception_fails_the_trial_with_its_type_"
                           "message_and_place: 'unit'")  # fmt: skip
    assert str(raised.value) == reason and isinstance(raised.value.__cause__, KeyError)
    assert trial.user_attrs["status"] == "failed"


@pytest.mark.parametrize(
    "error",
    [
        KeyboardInterrupt(),
        SystemExit(3),
        exc.OperationalError("UPDATE trials", {}, Exception("database is locked")),
        optuna.exceptions.StorageInternalError("lost"),
    ],
)
def test_what_must_end_the_search_still_does(error: BaseException) -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(type(error)), trial_outcome(trial, 0.0):
        raise error


def test_a_search_goes_on_past_an_extensions_attribute_error(
    cli: Callable, extension: Callable, tmp_path: Path, restore_global_state: None
) -> None:
    ext = extension("flaky_ext", FLAKY)
    result = cli("--extension", ext, "search", "--dataset", "iris", "--space", "flakyx",
                 "--trials", "4", "--epochs", "1", "--threads", "1", "--no-explain",
                 "--no-report", "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / 'run/study.db'}")
    failed = [t for t in study.trials if t.params["flakyx.units"] == 16]
    complete = [t for t in study.trials if t.params["flakyx.units"] == 4]
    assert failed and complete, [t.params for t in study.trials]
    for t in failed:
        assert t.user_attrs["reason"] == (
            f"AttributeError at {ext.resolve()}:{line(FLAKY, 'unknown_method')} in forward: "
            "'Tensor' object has no attribute 'unknown_method'"
        )
    assert {t.user_attrs["status"] for t in complete} <= {"complete", "pruned"}


def test_a_search_whose_every_trial_raises_ends_in_one_line(
    cli: Callable, extension: Callable, tmp_path: Path, restore_global_state: None
) -> None:
    ext = extension("nobuild_ext", NO_BUILD)
    result = cli("--extension", ext, "search", "--dataset", "iris", "--space", "nobuildx",
                 "--trials", "2", "--epochs", "1", "--threads", "1", "--no-explain",
                 "--no-report", "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    where = f"{ext.resolve()}:{line(NO_BUILD, 'a typo')} in build"
    assert (
        "First reason: ExtensionBlockError: blocks[0] nobuildx.v1: its builder failed on input "
        f"vec(F=4) with {{'units': 4}} (KeyError at {where}: 'unit'); fix the extension "
        f"{ext.resolve()}"
    ) in result.stderr


# ---------------------------------------------------------------- F2: a builder that is wrong

LIAR = (
    HEAD
    + """
@register("liarx.v1", family="fnn", accepts=("vec",), params={"units": Param(int, 8, low=1)})
def build(shape, p):
    return nn.Linear(shape.dims[0], p["units"] + 3), Shape("vec", (p["units"],))


class Tokens(nn.Module):  # needs integer input, and BatchNorm: neither is refused
    def __init__(self, d):
        super().__init__()
        self.emb, self.norm = nn.Embedding(10, 3), nn.BatchNorm1d(d * 3)

    def forward(self, x):
        return self.norm(self.emb(x).flatten(1))


@register("tokensx.v1", family="fnn", accepts=("vec",), params={})
def build_tokens(shape, p):
    return Tokens(shape.dims[0]), Shape("vec", (shape.dims[0] * 3,))
"""
)


def _spec(*blocks: tuple[str, dict]) -> Any:
    from search_spaces import ArchSpec, BlockSpec

    return ArchSpec(
        family="fnn", task="classification", modality="tabular", input_shape=(4,),
        output_size=3, blocks=tuple(BlockSpec(k, p) for k, p in blocks),
        head=BlockSpec("classify.v1", {}),
    )  # fmt: skip


def test_an_extension_block_whose_shape_lies_is_a_shape_error_naming_it(
    extension: Callable,
) -> None:
    ext = extension("liar_ext", LIAR)
    extensions.load_extension(str(ext))
    with pytest.raises(ShapeError) as raised:
        build_model(_spec(("liarx.v1", {"units": 5})))
    assert str(raised.value) == (
        "blocks[0] liarx.v1 declares its output vec(F=5) but its forward gives dims (8,) per "
        f"example (input vec(F=4)); fix the extension {ext.resolve()} that registers it so "
        "that the Shape its builder returns is what its forward gives."
    )
    model = build_model(_spec(("tokensx.v1", {})))  # long input, BatchNorm: built, unjudged
    assert model.training and model.stages[0].shape_out.dims == (12,)


def test_an_extension_builder_that_raises_is_a_spec_error_naming_it(extension: Callable) -> None:
    ext = extension("nobuild_ext2", NO_BUILD)
    extensions.load_extension(str(ext))
    with pytest.raises(SpecError) as raised:
        build_model(_spec(("nobuildx.v1", {"units": 4})))
    assert str(raised.value) == (
        "blocks[0] nobuildx.v1: its builder failed on input vec(F=4) with {'units': 4} "
        f"(KeyError at {ext.resolve()}:{line(NO_BUILD, 'a typo')} in build: 'unit'); fix the "
        f"extension {ext.resolve()} that registers it."
    )


def test_spaces_sample_of_a_broken_extension_says_one_line(
    cli: Callable, extension: Callable
) -> None:
    for name, text, space, said in [
        ("nobuild_ext3", NO_BUILD, "nobuildx", "its builder failed"),
        ("liar_ext2", LIAR + LIAR_SPACE, "liarx", "declares its output vec(F=4)"),
    ]:
        ext = extension(name, text)
        result = cli("--extension", ext, "spaces", space, "--dataset", "iris", "--sample", "2")
        assert result.exit_code == 2, result.output
        (message,) = result.stderr.strip().splitlines()
        assert said in message and str(ext.resolve()) in message, message


LIAR_SPACE = """
@register_space("liarx", doc="x", defaults={})
def sample(trial, ctx, config=None):
    s = Sampler(trial, config or default_config())
    return assemble("liarx", s, ctx, [BlockSpec("liarx.v1", {"units": 4})])
"""


# ---------------------------------------------------------------- F3: reading a run


GROW = (
    HEAD
    + """
class Grow(nn.Module):
    def __init__(self, d, units):
        super().__init__()
        self.lin = nn.Linear(d, units)

    def forward(self, x):
        return self.lin(x)


@register("growx.v1", family="fnn", accepts=("vec",), params={"units": Param(int, 8, low=1)})
def build(shape, p):
    return Grow(shape.dims[0], p["units"]), Shape("vec", (p["units"],))


def changed(shape, p):  # the builder as the extension was edited after the search
    return Grow(shape.dims[0], p["units"], 3), Shape("vec", (p["units"],))
"""
)


def test_a_run_whose_extension_block_no_longer_builds_blames_the_extension(
    extension: Callable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ext = extension("grow_ext", GROW)
    extensions.load_extension(str(ext))
    module = sys.modules[ext.stem]
    spec = _spec(("growx.v1", {"units": 5}))
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "spec.json").write_text(spec.to_json())
    torch.save(build_model(spec).state_dict(), folder / "model.pt")
    assert isinstance(nas.load_model(folder), torch.nn.Module)
    monkeypatch.setitem(
        _REGISTRY, "growx.v1", dataclasses.replace(_REGISTRY["growx.v1"], build=module.changed)
    )
    with pytest.raises(NasError) as raised:
        nas.load_model(folder)
    where = f"{ext.resolve()}:{line(GROW, ', 3)')} in changed"
    assert str(raised.value) == (
        f"{folder / 'spec.json'} names the block kind 'growx.v1' of the extension "
        f"{ext.resolve()}, which fails to build it now (blocks[0] growx.v1: its builder failed "
        "on input vec(F=4) with {'units': 5} (TypeError at " + where + ": Grow.__init__() "
        "takes 3 positional arguments but 4 were given)); fix that extension, or load the "
        "version of it the search used: the spec is as the search wrote it."
    )


def test_an_extensions_forward_raising_outside_a_search_is_one_line(
    cli: Callable, extension: Callable
) -> None:
    """/tmp/oF6 F4: the forward that fails one trial's reason in a search had been a traceback,
    exit 1, in `nas spaces --sample` (which counts each sample's FLOPs), as in `nas predict`."""
    always = FLAKY.replace("if self.u == 16:", "if True:").replace("flakyx", "alwaysx")
    ext = extension("always_ext", always)
    result = cli("--extension", ext, "spaces", "alwaysx", "--dataset", "iris", "--sample", "2")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.strip() == (
        f"error: AttributeError at {ext.resolve()}:{line(always, 'unknown_method')} in "
        "forward: 'Tensor' object has no attribute 'unknown_method'; that is code outside nas "
        "(an extension's block, space or dataset, or a script): fix it there."
    )
