"""Augmented training (``train.augment = "shift"``): known answers for the move itself, the spec
field that asks for it, the loop that applies it only to training batches, and the space that
asks it only of images."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
from torch import nn

from nas.data.taskdata import Split, TaskData
from nas.errors import NasError
from nas.train import train_model
from nas.train.augment import max_shift, shift
from search_spaces import ArchSpec, BlockSpec
from search_spaces.errors import SpaceError, SpecError
from search_spaces.spaces import load_space_toml, space_info
from search_spaces.spaces._base import Choice, SpaceContext
from search_spaces.spaces._registry import default_config
from search_spaces.spec import TrainSpec


def moved_by_hand(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``x`` (C, H, W) moved down ``dy`` and right ``dx`` pixels (negative: up, left), zeros
    where nothing moved in: written out pixel by pixel."""
    out = torch.zeros_like(x)
    _, h, w = x.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[:, r, c] = x[:, r - dy, c - dx]
    return out


def test_every_augment_a_spec_allows_has_its_function() -> None:
    from nas.train.augment import AUGMENTS as FUNCTIONS
    from search_spaces.spec import AUGMENTS as NAMES

    assert set(NAMES) == {"none", *FUNCTIONS}


def test_max_shift_is_an_eighth_of_a_side_and_at_least_one_pixel() -> None:
    assert [max_shift(s) for s in (3, 8, 16, 28, 32, 64)] == [1, 1, 2, 4, 4, 8]


def test_each_image_moves_by_its_own_draw_of_the_generator() -> None:
    x = torch.arange(6 * 2 * 8 * 8, dtype=torch.float32).reshape(6, 2, 8, 8) + 1.0
    out = shift(x, torch.Generator().manual_seed(3))
    again = torch.Generator().manual_seed(3)  # the same draws: dy for all images, then dx
    dy = torch.randint(0, 3, (6,), generator=again)
    dx = torch.randint(0, 3, (6,), generator=again)
    for i in range(6):
        # the window at (dy, dx) of the padded image is the image moved by (1 - dy, 1 - dx)
        want = moved_by_hand(x[i], 1 - int(dy[i]), 1 - int(dx[i]))
        assert torch.equal(out[i], want), i
    assert out.shape == x.shape and not torch.equal(out, x)


def test_a_pixel_lands_in_each_of_its_nine_neighbours_and_nowhere_else() -> None:
    x = torch.zeros(400, 1, 8, 8)
    x[:, 0, 3, 4] = 1.0
    out = shift(x, torch.Generator().manual_seed(0))
    assert torch.equal(out.sum(dim=(1, 2, 3)), torch.ones(400))  # moved, never lost or doubled
    where = {tuple(o[0].nonzero()[0].tolist()) for o in out}
    assert where == {(r, c) for r in (2, 3, 4) for c in (3, 4, 5)}


def test_a_border_pixel_moved_out_leaves_zeros() -> None:
    x = torch.zeros(300, 1, 8, 8)
    x[:, 0, 0, 0] = 5.0
    out = shift(x, torch.Generator().manual_seed(1))
    kept = out.sum(dim=(1, 2, 3))
    assert set(kept.tolist()) == {0.0, 5.0}  # 5 of 9 moves push it off the image
    assert 0.4 < float((kept == 0).float().mean()) < 0.7


def test_shift_refuses_what_is_not_a_batch_of_images() -> None:
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        shift(torch.zeros(4, 40, 1), torch.Generator())


# --- the spec -----------------------------------------------------------------------------


def image_spec(augment: str, modality: str = "image") -> ArchSpec:
    shape = (1, 8, 8) if modality == "image" else (8, 1)
    blocks = (BlockSpec("dense.v1", {"units": 8}),)
    head = BlockSpec("classify.v1", {"outputs": 10})
    return ArchSpec("fnn", "classification", modality, shape, 10, blocks, head,
                    TrainSpec(augment=augment))  # fmt: skip


def test_a_spec_without_augment_reads_and_writes_as_before() -> None:
    assert "augment" not in TrainSpec().to_dict()
    assert TrainSpec.from_dict(TrainSpec().to_dict()).augment == "none"
    moved = image_spec("shift")
    assert moved.to_dict()["train"]["augment"] == "shift"
    assert ArchSpec.from_dict(moved.to_dict()) == moved
    assert moved.summary().endswith("bs=64 shift")


def test_an_unknown_augment_or_a_shift_of_a_sequence_is_refused() -> None:
    with pytest.raises(SpecError, match="train.augment"):
        TrainSpec(augment="rotate")
    with pytest.raises(SpecError, match="moves images; this is a sequence model"):
        image_spec("shift", modality="sequence")


# --- the loop -----------------------------------------------------------------------------


class Recorder(nn.Module):
    """A linear classifier of 8x8 images that keeps every input it sees, by mode."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(64, 10)
        self.seen: dict[bool, list[torch.Tensor]] = {True: [], False: []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen[self.training].append(x.detach().clone())
        return self.fc(x.flatten(1))


def images(n_train: int = 48, modality: str = "image") -> TaskData:
    g = torch.Generator().manual_seed(0)

    def split(m: int) -> Split:
        return Split(torch.rand(m, 1, 8, 8, generator=g), torch.randint(0, 10, (m,), generator=g))

    shape = (1, 8, 8)
    return TaskData(name="imgs", task="classification", modality=modality, input_shape=shape,
                    output_size=10, train=split(n_train), val=split(16),
                    test=split(16))  # fmt: skip


def rows_of(batches: list[torch.Tensor]) -> set[bytes]:
    return {row.numpy().tobytes() for b in batches for row in b}


def test_training_batches_are_moved_and_validation_is_not() -> None:
    td = images()
    plain, moved = Recorder(), Recorder()
    train_model(plain, td, TrainSpec(batch_size=16), epochs=2, seed=0, step_memory_mb=None)
    train_model(moved, td, TrainSpec(batch_size=16, augment="shift"), epochs=2, seed=0,
                step_memory_mb=None)  # fmt: skip
    train_rows = rows_of([td.train.X])
    assert rows_of(plain.seen[True]) == train_rows  # as they are, without augment
    shown = [row.numpy().tobytes() for b in moved.seen[True] for row in b]
    assert len(shown) == 96  # 2 epochs of 48
    # 8 of 9 draws move an image (expected 85 of 96); unmoved ones are the training rows
    assert sum(r not in train_rows for r in shown) > 72
    # validation is scored on the images as they are, in both
    assert rows_of(moved.seen[False]) == rows_of(plain.seen[False]) == rows_of([td.val.X])


def test_augmented_training_is_deterministic_and_keeps_the_batch_order() -> None:
    td = images()
    runs = []
    for augment in ("shift", "shift", "none"):
        model = Recorder()
        train_model(model, td, TrainSpec(batch_size=16, augment=augment), epochs=2, seed=5,
                    step_memory_mb=None)  # fmt: skip
        runs.append(model)
    a, b, plain = runs
    assert all(torch.equal(x, y) for x, y in zip(a.seen[True], b.seen[True], strict=True))
    assert torch.equal(a.fc.weight, b.fc.weight)
    # a moved image keeps its label's batch: each moved batch is the plain batch's images moved
    for moved_batch, plain_batch in zip(a.seen[True], plain.seen[True], strict=True):
        for m, p in zip(moved_batch, plain_batch, strict=True):
            assert any(
                torch.equal(m, moved_by_hand(p, dy, dx)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
            )


def test_a_shift_of_inputs_that_are_not_images_is_refused() -> None:
    td = images(modality="sequence")
    with pytest.raises(NasError, match="moves images; 'imgs' holds sequence inputs"):
        train_model(Recorder(), td, TrainSpec(augment="shift"), epochs=1)


# --- the space: not searched unless a space file asks ------------------------------------


def sampled(space: str, ctx: SpaceContext, seed: int, config: dict) -> tuple[ArchSpec, dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    trial = study.ask()
    spec = space_info(space).sample(trial, ctx, config)
    return spec, trial.params


IMAGE = SpaceContext((1, 8, 8), "image", "classification", 10)
SEQUENCE = SpaceContext((40, 1), "sequence", "classification", 10)


@pytest.mark.parametrize("space", ["fnn", "cnn"])
def test_the_default_space_never_asks_for_augment(space: str) -> None:
    for seed in range(4):
        for ctx in (IMAGE, SEQUENCE):
            spec, params = sampled(space, ctx, seed, default_config())
            assert "train.augment" not in params and spec.train.augment == "none"
    info = space_info(space)
    assert "train.augment" not in info.starting_points(IMAGE, default_config())[0]


@pytest.mark.parametrize("space", ["fnn", "cnn"])
def test_a_space_that_asks_for_augment_asks_it_of_images_only(space: str) -> None:
    config = {**default_config(), "train.augment": Choice(("none", "shift"))}
    picks = set()
    for seed in range(12):
        spec, params = sampled(space, IMAGE, seed, config)
        assert params["train.augment"] == spec.train.augment
        picks.add(spec.train.augment)
        spec, params = sampled(space, SEQUENCE, seed, config)
        assert "train.augment" not in params and spec.train.augment == "none"
    assert picks == {"none", "shift"}


def test_a_space_file_can_ask_for_augment(tmp_path: Path) -> None:
    path = tmp_path / "moved.toml"
    path.write_text('space = "cnn"\n[train]\naugment = { choices = ["none", "shift"] }\n')
    assert load_space_toml(path).config["train.augment"] == Choice(("none", "shift"))
    path.write_text('space = "cnn"\n[train]\naugment = "rotate"\n')
    with pytest.raises(SpaceError, match="'rotate'; choose one of \\['none', 'shift'\\]"):
        load_space_toml(path)


def _moved_space(folder: Path) -> Path:
    space = folder / "moved.toml"
    space.write_text('space = "fnn"\n[train]\naugment = { choices = ["none", "shift"] }\n')
    return space


def test_a_search_says_when_the_augment_it_asks_for_cannot_apply(tmp_path: Path) -> None:
    import nas

    space = _moved_space(tmp_path)
    result = nas.search(dataset="iris", space=str(space), n_trials=2, epochs=1, seed=0,
                        finalize=False, out=tmp_path / "run")  # fmt: skip
    assert any("train.augment, which moves images; with tabular inputs" in w
               for w in result.warnings)  # fmt: skip
    assert all(t.user_attrs["spec"]["train"].get("augment", "none") == "none"
               for t in result.study.trials)  # fmt: skip
    plain = nas.search(dataset="iris", space="fnn", n_trials=1, epochs=1, seed=0,
                       finalize=False, out=tmp_path / "plain")  # fmt: skip
    assert not any("augment" in w for w in plain.warnings)


def test_a_gan_search_says_it_does_not_shift(tmp_path: Path) -> None:
    from nas.gan.kind import GanKind
    from nas.session import _unused_augment

    config = SimpleNamespace(space=load_space_toml(_moved_space(tmp_path)))
    note = _unused_augment(config, GanKind(), "image")
    assert note and "with a gan search every trial trains on the inputs as they are" in note[0]
