"""Starting points fitted to the budget (nas.warm_start): known answers counted by hand."""

from __future__ import annotations

import optuna
import pytest
import torch

import nas
from nas.cost.budget import Budget
from nas.data.taskdata import Split, TaskData
from nas.kinds.registry import get_kind
from nas.trial import SearchSettings
from nas.warm_start import _build, fit_to_budget
from search_spaces import SpaceContext
from search_spaces.spaces import Space, space_info, starting_points
from search_spaces.spaces.starts import lower_values


def _sequence_data(n: int = 90, length: int = 40, classes: int = 10) -> TaskData:
    """MNIST-1D's shape (40 steps, one channel, 10 classes), random values."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, length, 1, generator=g)
    y = torch.arange(n) % classes
    splits = [Split(X[i::3], y[i::3]) for i in range(3)]
    return TaskData(name="seq", task="classification", modality="sequence",
                    input_shape=(length, 1), output_size=classes, train=splits[0],
                    val=splits[1], test=splits[2])  # fmt: skip


def _objective(space: str, budget: Budget, data: TaskData | None = None):
    data = data or _sequence_data()
    kind = get_kind("classifier")
    s = SearchSettings(space=Space(space), metric="accuracy", objectives=("accuracy",),
                       budget=budget)  # fmt: skip
    return kind.objective(data, s, kind.prepare(data, s, {}, leader=True))


def _start(obj, family: str = "cnn") -> dict:
    points = starting_points(obj.s.space, SpaceContext.of(obj.data))
    return next(p for p in points if p.get("family", obj.s.space.name) == family)


def conv1d_params(blocks: int, width: int, kernel: int, classes: int = 10) -> int:
    """By hand: a bias-free conv per block (first from 1 channel), batch norm's weight and bias,
    global pooling, one linear head."""
    convs = width * 1 * kernel + (blocks - 1) * width * width * kernel
    return convs + blocks * 2 * width + width * classes + classes


def test_the_hand_count_matches_the_starting_point() -> None:
    obj = _objective("cnn", Budget())
    model = _build(obj, _start(obj))
    assert conv1d_params(5, 32, 5) == 21_290 == sum(p.numel() for p in model.parameters())


def test_the_cnn_start_shrinks_to_the_largest_version_under_5000() -> None:
    obj = _objective("cnn", Budget(max_params=5000))
    point = _start(obj)
    fitted, note = fit_to_budget(point, obj)
    # Every combination at or below (5 blocks, 32 wide, kernel 5), counted by hand: the largest
    # under 5,000 is 4 blocks of 16, kernel 5 (4,218). 5 x 16 x k5 is 5,530; 2 x 32 x k5 is
    # 5,738; 5 x 16 x k3 is 3,450; 2 x 32 x k3 is 3,626.
    sizes = {(b, w, k): conv1d_params(b, w, k) for b in range(1, 6) for w in (16, 32)
             for k in (3, 5)}  # fmt: skip
    best = max((n, key) for key, n in sizes.items() if n <= 5000)
    assert best == (4218, (4, 16, 5))
    assert (fitted["cnn.n_blocks"], fitted["cnn.channels"], fitted["cnn.kernel"]) == (4, 16, 5)
    assert note == {"params_before": 21_290, "params": 4218, "over": {"params": 21_290.0}}
    assert sum(p.numel() for p in _build(obj, fitted).parameters()) == 4218
    # the design is kept: only the sizing numbers changed
    changed = {k for k in point if fitted.get(k) != point[k]}
    assert changed == {"cnn.n_blocks", "cnn.channels"}


def test_a_point_within_the_budget_is_left_alone() -> None:
    obj = _objective("cnn", Budget(max_params=21_290))
    point = _start(obj)
    assert fit_to_budget(point, obj) == (point, None)
    obj = _objective("cnn", Budget())
    assert fit_to_budget(point, obj) == (point, None)


def test_a_budget_nothing_fits_keeps_the_point() -> None:
    obj = _objective("cnn", Budget(max_params=100))  # the smallest conv net has ~250
    point = _start(obj)
    assert fit_to_budget(point, obj) == (point, None)


def test_a_flops_budget_is_fitted_too() -> None:
    obj = _objective("cnn", Budget(max_flops=200_000))
    point = _start(obj)
    fitted, note = fit_to_budget(point, obj)
    assert note is not None
    cost = obj.cost(_build(obj, fitted), latency=False)
    assert cost.flops <= 200_000 < obj.cost(_build(obj, point), latency=False).flops


def test_only_numbers_that_size_the_model_are_lowered() -> None:
    obj = _objective("cnn", Budget(max_params=5000))
    point = _start(obj)
    lower = lower_values(point, space_info("cnn").sample, obj.ctx, obj.s.space.config)
    # the probe offers every numeric dimension at or below the point's value ...
    assert lower["cnn.channels"] == [32, 16] and lower["cnn.n_blocks"] == [5, 4, 3, 2, 1]
    assert lower["cnn.kernel"] == [5, 3] and "train.batch_size" in lower
    assert "cnn.dropout" not in lower and "cnn.batch_norm" not in lower  # float range, bool
    # ... and the fit keeps the recipe: the batch size does not change the parameter count
    fitted, _ = fit_to_budget(point, obj)
    assert fitted["train.batch_size"] == point["train.batch_size"]
    assert fitted["train.lr"] == point["train.lr"]


def test_every_family_start_fits_or_says_why(tmp_path) -> None:
    """Under 5,000 parameters on MNIST-1D's shape, each auto start is fitted below the budget
    or kept (a bidirectional GRU of 32 alone is 6,912: a bool is not lowered)."""
    obj = _objective("auto", Budget(max_params=5000))
    for point in starting_points(obj.s.space, obj.ctx):
        fitted, note = fit_to_budget(point, obj)
        n = sum(p.numel() for p in _build(obj, fitted).parameters())
        if note is None:
            assert fitted == point and n > 5000
        else:
            assert n == note["params"] <= 5000 < note["params_before"]


def test_a_search_enqueues_the_fitted_start(tmp_path) -> None:
    out = tmp_path / "run"
    nas.search("digits", space="cnn", budget=nas.Budget(max_params=5000), n_trials=1,
               epochs=1, out=out, finalize=False, reports_dir=None)  # fmt: skip
    url = f"sqlite:///{out}/study.db"
    (name,) = optuna.get_all_study_names(url)
    first = optuna.load_study(study_name=name, storage=url).trials[0]
    assert first.user_attrs["warm_start"] is True
    note = first.user_attrs["fitted_to_budget"]
    assert note["params"] == first.user_attrs["params"] <= 5000 < note["params_before"]
    assert first.user_attrs["status"] == "complete"  # trained, not refused


@pytest.mark.parametrize("budget", [Budget(max_latency_ms=0.001)])
def test_a_latency_budget_is_not_fitted(budget: Budget) -> None:
    obj = _objective("cnn", budget)
    point = _start(obj)
    assert fit_to_budget(point, obj) == (point, None)


def test_a_gan_start_fits_its_generator_and_keeps_its_discriminator() -> None:
    """A GAN's budget is its generator's: the fit lowers the generator's numbers only."""
    from nas.data import load_data

    data = load_data(dataset="digits")
    kind = get_kind("gan")
    s = SearchSettings(space=Space("gan"), metric="fcd", objectives=("fcd",),
                       budget=Budget(max_params=50_000))  # fmt: skip
    obj = kind.objective(data, s, kind.prepare(data, s, {}, leader=True))
    (point,) = starting_points(s.space, obj.ctx)
    fitted, note = fit_to_budget(point, obj)
    before, after = _build(obj, point), _build(obj, fitted)
    g = obj.cost(after, latency=False).params
    assert note == {"params_before": obj.cost(before, latency=False).params, "params": g,
                    "over": {"params": float(note["params_before"])}}  # fmt: skip
    assert g <= 50_000 < note["params_before"]

    def d_params(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.discriminator.parameters())

    assert d_params(after) == d_params(before)


def test_too_many_combinations_keep_each_dimensions_nearest_values(monkeypatch) -> None:
    import nas.warm_start as ws

    monkeypatch.setattr(ws, "MAX_CANDIDATES", 8)
    obj = _objective("cnn", Budget(max_params=5000))
    point = _start(obj)
    lower = lower_values(point, space_info("cnn").sample, obj.ctx, obj.s.space.config)
    base = sum(p.numel() for p in _build(obj, point).parameters())
    size = ws._size_params(obj, point, lower, base)
    # n_blocks 5..1, channels 32/16, kernel 5/3 (20 combinations) -> n_blocks trimmed to 5, 4
    assert size == {"cnn.n_blocks": [5, 4], "cnn.channels": [32, 16], "cnn.kernel": [5, 3]}
    fitted, note = fit_to_budget(point, obj)
    assert note["params"] == 4218  # 4 x 16 x k5 is still among them


def test_fitted_from_reads_the_size_before_fitting_and_nothing_else() -> None:
    from nas.warm_start import fitted_from

    assert fitted_from({"fitted_to_budget": {"params_before": 21290, "params": 4218}}) == 21290
    for attrs in ({}, {"fitted_to_budget": None}, {"fitted_to_budget": "21290"},
                  {"fitted_to_budget": {"params": 4218}},
                  {"fitted_to_budget": {"params_before": "many"}}):  # fmt: skip
        assert fitted_from(attrs) is None


def test_fitted_words_say_what_the_start_was_in_the_limits_own_terms() -> None:
    """A start fitted to --max-flops can grow in parameters (/tmp/oG item 1: the cnn_rnn start
    of 61,802 params became 65,034 under --max-flops 1500000, and was said to be "shrunk ...
    from 61.8 k parameters")."""
    from nas.warm_start import fitted_words

    def words(note: object) -> str | None:
        return fitted_words({"fitted_to_budget": note})

    grew = {"params_before": 61_802, "params": 65_034}
    assert words({**grew, "over": {"flops": 1_934_000.0}}) == (
        "fitted to the budget from 1.93 MFLOPs"
    )
    assert words({**grew, "over": {"flops": 2e6, "params": 61_802.0}}) == (
        "fitted to the budget from 61,802 params"
    )  # the parameters first
    assert words({**grew, "over": {"memory_mb": 3.14159}}) == (
        "fitted to the budget from 3.14 MiB of memory"
    )
    # a run saved before the note named its limits
    assert words(grew) == "fitted to the budget (it grew from 61,802 to 65,034 params)"
    assert words({"params_before": 21_290, "params": 4218}) == (
        "fitted to the budget from 21,290 params"
    )
    assert fitted_words({}) is None and words("x") is None and words({"params": 1}) is None


def test_a_flops_fit_that_adds_parameters_is_said_in_flops() -> None:
    """The mnist1d cnn_rnn start under --max-flops 1,500,000, by hand: 61,802 parameters
    (224 + 10,368 + 49,920 + 1,290); its fitted version has more, and the note keeps the
    FLOPs it was over."""
    from nas.warm_start import fitted_words

    data = _sequence_data()
    kind = get_kind("classifier")
    s = SearchSettings(space=Space("cnn_rnn"), metric="accuracy", objectives=("accuracy",),
                       budget=Budget(max_flops=1_500_000))  # fmt: skip
    obj = kind.objective(data, s, kind.prepare(data, s, {}, leader=True))
    point = _start(obj, "cnn_rnn")
    before = obj.cost(_build(obj, point), latency=False)
    fitted, note = fit_to_budget(point, obj)
    after = obj.cost(_build(obj, fitted), latency=False)
    assert before.flops > 1_500_000 >= after.flops
    assert note is not None and note["over"] == {"flops": float(before.flops)}
    assert note["params_before"] == before.params and note["params"] == after.params
    assert fitted_words({"fitted_to_budget": note}) == (
        f"fitted to the budget from {before.flops / 1e6:.3g} MFLOPs"
    )


def gru_params(hidden: int, inputs: int = 1, classes: int = 10) -> int:
    """By hand: a one-layer bidirectional GRU (3 gates, two biases each) and a linear head on
    both directions' last step."""
    per_direction = 3 * (hidden * inputs + hidden * hidden + 2 * hidden)
    return 2 * per_direction + 2 * hidden * classes + classes


def test_a_start_outside_a_narrowed_space_takes_the_nearest_size_and_still_fits() -> None:
    """A TOML narrowing rnn.hidden to 16 or 32 under the GRU start of 64: the start keeps its
    place at 32 (the nearest at or below), and under --max-params 5000 is fitted down to 16.
    It had dropped hidden and left it to the sampler, so the start was never fitted, and a
    search of one trial ended "No architecture met the budget"."""
    from search_spaces.spaces import default_config
    from search_spaces.spaces._base import Choice

    config = {**default_config(), "rnn.hidden": Choice((16, 32))}
    data = _sequence_data()
    kind = get_kind("classifier")
    for budget, hidden in ((Budget(), 32), (Budget(max_params=5000), 16)):
        s = SearchSettings(space=Space("rnn", config), metric="accuracy",
                           objectives=("accuracy",), budget=budget)  # fmt: skip
        obj = kind.objective(data, s, kind.prepare(data, s, {}, leader=True))
        point = _start(obj, "rnn")
        assert point["rnn.hidden"] == 32
        fitted, note = fit_to_budget(point, obj)
        assert fitted["rnn.hidden"] == hidden
        assert sum(p.numel() for p in _build(obj, fitted).parameters()) == gru_params(hidden)
    assert note == {"params_before": gru_params(32), "params": gru_params(16),
                    "over": {"params": 7370.0}} == {
        "params_before": 7370, "params": 2154, "over": {"params": 7370.0}}  # fmt: skip


def _table_data(n: int = 90, features: int = 30) -> TaskData:
    """breast_cancer's shape (30 features, 2 classes), random values."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, features, generator=g)
    y = torch.arange(n) % 2
    splits = [Split(X[i::3], y[i::3]) for i in range(3)]
    return TaskData(name="table", task="classification", modality="tabular",
                    input_shape=(features,), output_size=2, train=splits[0], val=splits[1],
                    test=splits[2])  # fmt: skip


@pytest.mark.parametrize(
    ("limit", "params", "norm"),
    [
        (1_122, 1_122, "batch"),  # numbers alone: dense(32) with batch norm, 960+32+64+66
        (1_100, 1_058, "none"),  # then batch norm's 64 go: 960+32+66, the space's smallest
    ],
)
def test_a_choice_that_carries_parameters_is_switched_when_numbers_are_not_enough(
    limit: int, params: int, norm: str
) -> None:
    """An outsider's breast_cancer fnn search under --max-params 1100 failed every time: the
    start shrank to dense(32) with batch norm (1,122) and 50 samples missed the corner of the
    space that fits (1,058 by hand)."""
    obj = _objective("fnn", Budget(max_params=limit), _table_data())
    point = _start(obj, "fnn")
    fitted, note = fit_to_budget(point, obj)
    model = _build(obj, fitted)
    assert sum(p.numel() for p in model.parameters()) == params == note["params"]
    norms = {v for k, v in fitted.items() if k.endswith(".norm")}
    assert norms == {norm} and fitted["fnn.n_blocks"] == 1 and fitted["fnn.b0.units"] == 32
    assert {k: v for k, v in fitted.items() if k.endswith("activation")} == {
        k: v for k, v in point.items() if k.endswith("activation") and k in fitted
    }  # the design's other choices are kept


def test_choices_are_switched_only_when_no_start_of_the_space_fits_by_its_numbers() -> None:
    """MNIST-1D's auto space under --max-params 5000: four family starts fit by their numbers,
    so the RNN and CNN-RNN starts are left as they are (refused, as before: the search has
    known-good designs to start from). The FNN space alone under 1,100 has no other start, so
    its batch norm goes (1,058 parameters)."""
    from nas.warm_start import fit_starts

    obj = _objective("auto", Budget(max_params=5000))
    points = starting_points(obj.s.space, SpaceContext.of(obj.data))
    fitted = dict(zip((p["family"] for p in points), fit_starts(points, obj), strict=True))
    assert fitted["rnn"][1] is None and fitted["cnn_rnn"][1] is None
    assert fitted["cnn"][1] == {
        "params_before": 21_290,
        "params": 4_218,
        "over": {"params": 21_290.0},
    }
    alone = _objective("fnn", Budget(max_params=1_100), _table_data())
    [(point, note)] = fit_starts([_start(alone, "fnn")], alone)
    assert note["params"] == 1_058 and {v for k, v in point.items() if k.endswith("norm")} == {
        "none"
    }
