"""A run searched with an extension (a block and a space of the user's own) is used from a new
process as any run is, once that process loads the extension: ``nas --extension``,
``NAS_EXTENSIONS`` or an installed entry point. Without it, each command names the extension
the search recorded and how to load it, in one line, exit 2 (it had said the run was damaged
and to re-run the search)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nas
from nas.errors import NasError

EXTENSION = """
import numpy as np
from search_spaces import BlockSpec
from search_spaces.blocks import Shape, register
from search_spaces.blocks._base import p_int
from search_spaces.spaces import Choice, Sampler, default_config, register_space
from search_spaces.spaces._base import assemble
from torch import nn


import nas


@nas.register_dataset("swish_blobs", description="three blobs in 4-D")
def blobs():
    rng = np.random.default_rng(0)
    y = np.arange(150) % 3
    return {"X": rng.normal(size=(150, 4)) + 3.0 * y[:, None], "y": y,
            "class_names": np.array(["a", "b", "c"])}


class Swish(nn.Module):
    def __init__(self, d_in, units):
        super().__init__()
        self.lin = nn.Linear(d_in, units)

    def forward(self, x):
        h = self.lin(x)
        return h * h.sigmoid()


@register("swishdense.v1", family="fnn", accepts=("vec",), params={"units": p_int(8, 1, 64)})
def build(shape, p):
    return Swish(shape.dims[0], p["units"]), Shape("vec", (p["units"],))


@register_space("swishnet", doc="one swish layer", defaults={"swishnet.units": Choice((4, 8))})
def sample(trial, ctx, config=None):
    s = Sampler(trial, config or default_config())
    block = BlockSpec("swishdense.v1", {"units": int(s("swishnet.units", "swishnet.units"))})
    return assemble("swishnet", s, ctx, [block])
"""


def _nas(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {})}
    command = [sys.executable, "-m", "nas.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def ext_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the extension's file, a run searched with it through the CLI)."""
    folder = tmp_path_factory.mktemp("ext")
    ext = folder / "swish_ext.py"
    ext.write_text(EXTENSION)
    done = _nas("--extension", str(ext), "search", "--dataset", "swish_blobs", "--space",
                "swishnet", "--trials", "2", "--epochs", "1", "--no-explain", "--no-report",
                "--out", "run", cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return ext, folder / "run"


def test_the_run_records_the_extension_it_was_searched_with(ext_run) -> None:
    ext, run = ext_run
    record = json.loads((run / "run.json").read_text())
    assert record["extensions"] == [str(ext.resolve())]
    # and a digest of its code: a resume or a reading with other code says so (/tmp/oG5 F4)
    sha = hashlib.sha256(b"\0" + ext.read_bytes() + b"\0").hexdigest()
    assert record["extension_digests"] == {str(ext.resolve()): f"sha256:{sha}"}
    assert record["space"]["source"] == f"extension {ext.resolve()}"  # not "built-in" (F11)
    # its own dataset, read as an NPZ file's arrays: 150 rows, 4 features, 3 named classes
    info = record["data_info"]
    assert record["dataset"] == "swish_blobs" and info["class_names"] == ["a", "b", "c"]
    assert info["input_shape"] == [4] and info["modality"] == "tabular"
    spec = json.loads((run / "best" / "spec.json").read_text())
    assert spec["blocks"][0]["kind"] == "swishdense.v1"


def test_without_the_extension_a_command_names_it_and_how_to_load_it(ext_run) -> None:
    ext, run = ext_run
    done = _nas("show", str(run), cwd=run.parent)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert f"the search ran with the extension '{ext.resolve()}' loaded" in line
    assert f"nas --extension {ext.resolve()} before the command" in line
    assert "damaged" not in line and "re-run" not in line


def test_load_model_without_the_extension_names_the_block_and_the_extension(ext_run) -> None:
    ext, run = ext_run
    with pytest.raises(NasError) as e:
        nas.load_model(run)
    text = str(e.value)
    assert "names the block kind 'swishdense.v1', which is not registered here" in text
    assert f"the search ran with the extension '{ext.resolve()}' loaded" in text
    assert "Did you mean" not in text and "run the same `nas search`" not in text


def test_with_the_extension_the_commands_work(ext_run) -> None:
    ext, run = ext_run
    shown = _nas("--extension", str(ext), "show", str(run), cwd=run.parent)
    assert shown.returncode == 0, shown.stderr
    assert "swishdense(" in shown.stdout or "swishdense" in shown.stdout
    exported = _nas("export", str(run), "--format", "torchscript", "-o", "exp",
                    env={"NAS_EXTENSIONS": str(ext)}, cwd=run.parent)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    # the exported model runs where the extension is not installed: torch alone
    model = torch.jit.load(str(run.parent / "exp" / "model.torchscript.pt"))
    assert tuple(model(torch.zeros(2, 4)).shape) == (2, 3)  # blobs: 4 features, 3 classes


def test_an_installed_entry_point_loads_without_being_named(ext_run, tmp_path: Path) -> None:
    ext, run = ext_run
    site = tmp_path / "site"
    (site / "swish_pkg_ext").mkdir(parents=True)
    (site / "swish_pkg_ext" / "__init__.py").write_text(ext.read_text())
    info = site / "swish_pkg_ext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: swish-pkg-ext\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nas.extensions]\nswish = swish_pkg_ext\n")
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    shown = _nas("show", str(run), env={"PYTHONPATH": path}, cwd=run.parent)
    assert shown.returncode == 0, shown.stderr
    assert "winner" in shown.stdout


def test_the_search_run_again_without_the_extension_names_it(ext_run) -> None:
    """It had said "Unknown space 'swishnet'" and how to load some extension, though run.json
    in its --out names the one the search ran with."""
    from tests.conftest import invoke

    ext, run = ext_run
    again = invoke("search", "--dataset", "swish_blobs", "--space", "swishnet", "--trials", "2",
                   "--out", run)  # fmt: skip
    assert again.exit_code == 2, again.output
    assert f"{run / 'run.json'} names the space 'swishnet', which is not registered here" in (
        again.stderr
    )
    assert f"nas --extension {ext.resolve()} before the command" in again.stderr
