"""An extension's block or space that is wrong in a way of its own (a forward that raises
AttributeError for some samples, a builder's KeyError, a declared output shape its module does
not produce) fails the trial, or the command, with one reason that names the extension: it had
ended a whole search with a traceback, or blamed the run (/tmp/oG5 F1-F3)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
import pytest
from sqlalchemy import exc

from nas.errors import TrialError
from nas.trial import trial_outcome, where_raised
from search_spaces import extensions
from search_spaces.blocks._base import _REGISTRY
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
    assert (
        f"First reason: KeyError at {ext.resolve()}:{line(NO_BUILD, 'a typo')} in build: 'unit'"
        in result.stderr
    )
